"""Ingest: raw files in, warehouse built. The landing of raw files and served-answer logs
(rawfiles), the dbt runs (dbt_runner, build; on Spark: spark), the warehouse's writer lock
and its two generations, and the generator of synthetic exports.

Imports only scoring.config and scoring.errors from the rest of the package."""
