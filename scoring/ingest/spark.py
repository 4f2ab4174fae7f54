"""The Spark engine (`--engine spark`): dbt builds on Spark; the job reads and writes its tables.

With `--engine spark` the dbt project runs on Apache Spark (dbt-spark, `session` method: a local
Spark session inside this process, profile target `spark`), and Spark's Parquet tables are the
warehouse's data:
- `spark/` beside the warehouse holds Spark's warehouse folder (one folder of Parquet files per
  table, partition folders `<column>=<value>`) and its Derby metastore. Only one JVM may open
  that metastore at a time; the writer lock of the warehouse keeps a second run out.
- The DuckDB file at `--warehouse` becomes the job's control database: the model registry,
  exported weights and hold-out predictions (`ml.*`, a few rows per model), and one view per
  Spark table over its Parquet files (`marts.training_examples` reads
  `spark/warehouse/marts.db/training_examples/**/*.parquet`). Training, publishing, metrics and
  reports therefore read Spark's output, unchanged, and analysts can query it with DuckDB.
- Decisions are computed by Spark (scoring.decide.spark_decisions) and written to the Spark
  tables `decisions.*`, one night's partition overwritten at a time.

Spark is imported lazily: the extra `spark` (`pip install -e '.[spark]'`) is only needed here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import duckdb

from scoring.errors import SparkUnavailableError

ENGINES = ("duckdb", "spark")
#: the Spark databases (dbt schemas and the job's decision tables) mirrored as DuckDB views
SPARK_SCHEMAS = ("staging", "intermediate", "marts", "decisions")
#: Spark's simple type names as DuckDB types
DUCKDB_TYPES = {
    "string": "VARCHAR",
    "bigint": "BIGINT",
    "int": "INTEGER",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp_ntz": "TIMESTAMP",
    "timestamp": "TIMESTAMPTZ",
    "binary": "BLOB",
    "array<string>": "VARCHAR[]",
}


def spark_home(warehouse: Path) -> Path:
    """Spark's warehouse folder and metastore: `spark/` beside the warehouse file."""
    return warehouse.parent / "spark"


def spark_env(warehouse: Path) -> dict[str, str]:
    """Environment the profile's `spark` target reads (profiles.yml)."""
    home = spark_home(warehouse)
    home.mkdir(parents=True, exist_ok=True)
    return {"SKIPCACHE_SPARK_HOME": str(home)}


def check_installed() -> None:
    try:
        import dbt.adapters.spark  # noqa: F401
        import pyspark  # noqa: F401
    except ImportError as exc:
        raise SparkUnavailableError(
            "--engine spark needs the spark extra: pip install -e '.[spark]' (make spark-deps)"
        ) from exc


def session() -> Any:
    """The Spark session dbt-spark started in this process (dbt runs first in every command)."""
    from pyspark.sql import SparkSession

    return SparkSession.builder.getOrCreate()


def table_dir(home: Path, schema: str, table: str) -> Path:
    """Where Spark keeps a managed table's files: <warehouse>/<schema>.db/<table>."""
    return home / "warehouse" / f"{schema}.db" / table


def parquet_scan(directory: Path, partitioned: bool) -> str:
    """DuckDB's scan of a Spark table's Parquet files (hive-style partition folders)."""
    if partitioned:
        return f"read_parquet('{directory}/**/*.parquet', hive_partitioning = true)"
    return f"read_parquet('{directory}/*.parquet', hive_partitioning = false)"


def _has_files(directory: Path) -> bool:
    return directory.is_dir() and next(directory.rglob("*.parquet"), None) is not None


def attach_views(
    con: duckdb.DuckDBPyConnection, warehouse: Path, schemas: tuple[str, ...] = SPARK_SCHEMAS
) -> int:
    """One DuckDB view per Spark table, over its Parquet files, with Spark's column types
    (a table with no file yet, e.g. the decision tables before the first night, is an empty
    view of the same columns). Returns the number of views."""
    spark = session()
    home = spark_home(warehouse)
    views = 0
    for schema in schemas:
        if not spark.catalog.databaseExists(schema):
            continue
        con.execute(f"create schema if not exists {schema}")
        for t in spark.catalog.listTables(schema):
            if t.tableType == "VIEW" or t.isTemporary:
                continue  # dbt's views (stg_*) are Spark SQL; their tables are mirrored
            columns = spark.catalog.listColumns(t.name, schema)
            partitioned = any(c.isPartition for c in columns)
            directory = table_dir(home, schema, t.name)
            select = ", ".join(
                f'cast("{c.name}" as {DUCKDB_TYPES.get(c.dataType, "VARCHAR")}) as "{c.name}"'
                for c in columns
            )
            if _has_files(directory):
                body = f"select {select} from {parquet_scan(directory, partitioned)}"
            else:
                nulls = ", ".join(
                    f'cast(null as {DUCKDB_TYPES.get(c.dataType, "VARCHAR")}) as "{c.name}"'
                    for c in columns
                )
                body = f"select {nulls} where false"
            con.execute(f'create or replace view {schema}."{t.name}" as {body}')
            views += 1
    return views


def warehouse_of(con: duckdb.DuckDBPyConnection) -> Path:
    """The warehouse file a control-database connection has open."""
    (path,) = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()[0]
    return Path(path)


def environment(warehouse: Path) -> None:
    """Set the environment of the spark target for dbt runs of this process."""
    os.environ.update(spark_env(warehouse))
