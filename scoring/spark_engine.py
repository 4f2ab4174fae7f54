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
- Decisions are computed by Spark (the same SQL expression of the exported weights) and written
  to the Spark tables `decisions.*`, one night's partition overwritten at a time.

Spark is imported lazily: the extra `spark` (`pip install -e '.[spark]'`) is only needed here.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

from scoring import policy
from scoring.errors import SparkUnavailableError
from scoring.policy import DecisionSettings
from scoring.sql_scoring import p_play_sql

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


# --- the night's decisions, by Spark --------------------------------------------------------


def arm_sql(user_id: str, shares: dict[str, float]) -> str:
    """policy.arm_of in SQL: the md5 of the user id as a number in [0, 1) against the shares
    (the same bucket to the last bit: a 60-bit integer over 2**60)."""
    digits = f"conv(substr(md5(cast({user_id} as string)), 1, 15), 16, 10)"
    bucket = f"cast({digits} as double) / {float(16**15)!r}"
    names = sorted(shares)
    edge = 0.0
    branches = []
    for name in names[:-1]:
        edge += shares[name]
        branches.append(f"when {bucket} < {edge!r} then '{name}'")
    if not branches:
        return f"'{names[-1]}'"
    return f"case {' '.join(branches)} else '{names[-1]}' end"


def decide(
    con: duckdb.DuckDBPyConnection,
    decision_date: date,
    decision_policy: str,
    run_id: str,
    settings: DecisionSettings,
) -> dict:
    """scoring.decide.decide on Spark: the night's arms, pair decisions and track defaults,
    each written by overwriting the night's partition of its Spark table. The SQL of p_play
    comes from the exported weights in the control database (`con`), as on DuckDB."""
    spark = session()
    day = f"date '{decision_date.isoformat()}'"
    decided_at = datetime.now().replace(microsecond=0)
    stamp = f"timestamp '{decided_at.isoformat(sep=' ')}'"
    if policy.is_model(decision_policy):
        model_p = p_play_sql(con, decision_policy, "f")
    else:
        model_p = policy.baseline_p_play_sql(decision_policy, "f")
    threshold = float(settings.threshold)
    spark.sql(
        f"""
        insert overwrite table decisions.user_arms partition (decision_date)
        select user_id, {arm_sql("user_id", settings.arm_shares)} as arm,
            '{run_id}' as run_id, {stamp} as decided_at, {day} as decision_date
        from (
            select user_id from marts.dim_users
            union
            select user_id from marts.scoring_features where decision_date = {day}
        ) as users
        """
    )
    spark.sql(
        f"""
        insert overwrite table decisions.cache_decisions partition (decision_date)
        select
            user_id, track_id, arm, p_play,
            {policy.should_cache_sql("p_play", "arm", threshold)} as should_cache,
            case when arm = '{policy.NAIVE}' then '{policy.NAIVE_RULE}'
                else '{decision_policy}' end as model_version,
            '{run_id}' as run_id, {stamp} as decided_at, decision_date
        from (
            select
                f.decision_date, f.user_id, f.track_id, a.arm,
                cast(case
                    when a.arm = '{policy.NAIVE}' then {policy.naive_p_play_sql("f")}
                    else {policy.clamp_sql(model_p)}
                end as double) as p_play
            from marts.scoring_features as f
            inner join decisions.user_arms as a
                on f.user_id = a.user_id and a.decision_date = {day}
            where f.decision_date = {day}
        ) as scored
        """
    )
    spark.sql(
        f"""
        insert overwrite table decisions.track_default_decisions partition (decision_date)
        select track_id, p_play, p_play >= {threshold!r} as should_cache,
            'track-default:{decision_policy}' as model_version, '{run_id}' as run_id,
            {stamp} as decided_at, {day} as decision_date
        from (
            select t.track_id,
                cast({policy.clamp_sql(policy.TRACK_DEFAULT_P_PLAY_SQL)} as double) as p_play
            from marts.dim_tracks as t
            cross join (select * from marts.global_features_daily where feature_date = {day}) as g
            left join marts.track_features_daily as tf
                on tf.track_id = t.track_id and tf.feature_date = g.feature_date
        ) as p
        """
    )
    counts = spark.sql(
        "select arm, count(*), sum(cast(should_cache as int)) from decisions.cache_decisions "
        f"where decision_date = {day} group by arm order by arm"
    ).collect()
    defaults = spark.sql(
        "select count(*), sum(cast(should_cache as int)) from decisions.track_default_decisions "
        f"where decision_date = {day}"
    ).collect()[0]
    attach_views(con, warehouse_of(con), ("decisions",))  # the night's files, now present
    return {
        "arms": {r[0]: (int(r[1]), int(r[2] or 0)) for r in counts},
        "track_defaults": (int(defaults[0]), defaults[1]),
    }


def warehouse_of(con: duckdb.DuckDBPyConnection) -> Path:
    """The warehouse file a control-database connection has open."""
    (path,) = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()[0]
    return Path(path)


def environment(warehouse: Path) -> None:
    """Set the environment of the spark target for dbt runs of this process."""
    os.environ.update(spark_env(warehouse))
