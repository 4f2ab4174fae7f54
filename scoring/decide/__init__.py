"""Decide: from a model to answers. The rules of an answer (policy), the night's decision
tables on DuckDB (decisions) and on Spark (spark_decisions), the service's snapshot
(serving), the HTTP service, its metrics and its served-answer log, and who answers whom
(coverage).

Imports model, ingest and the base, never ops."""
