"""skipcache: a dbt feature store on DuckDB and a nightly skip/play cache-decision job."""

__version__ = "0.1.0"
