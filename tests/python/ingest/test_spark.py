"""The Spark side of ingest (scoring/ingest/spark.py) without a JVM: where Spark keeps its
tables, and the DuckDB views over their Parquet files, from a stand-in of Spark's catalog."""

from __future__ import annotations

import builtins
from pathlib import Path
from types import SimpleNamespace

import duckdb
import pytest

from scoring.errors import SparkUnavailableError
from scoring.ingest import spark


def test_spark_lives_beside_the_warehouse(tmp_path: Path):
    wh = tmp_path / "wh" / "skipcache.duckdb"
    assert spark.spark_home(wh) == tmp_path / "wh" / "spark"
    assert spark.spark_env(wh) == {"SKIPCACHE_SPARK_HOME": str(tmp_path / "wh" / "spark")}
    assert (tmp_path / "wh" / "spark").is_dir()
    assert spark.table_dir(spark.spark_home(wh), "marts", "dim_users") == (
        tmp_path / "wh" / "spark" / "warehouse" / "marts.db" / "dim_users"
    )


def test_without_the_extra_the_error_says_what_to_install(monkeypatch):
    real_import = builtins.__import__

    def no_pyspark(name, *args, **kwargs):
        if name.startswith("pyspark"):
            raise ImportError("No module named 'pyspark'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyspark)
    with pytest.raises(SparkUnavailableError, match=r"pip install -e '\.\[spark\]'"):
        spark.check_installed()


class _Catalog:
    """Spark's catalog, as attach_views reads it: databases, tables and their columns."""

    def __init__(self, tables: dict[tuple[str, str], tuple[str, list[tuple[str, str, bool]]]]):
        self.tables = tables

    def databaseExists(self, schema):  # noqa: N802  (Spark's name)
        return any(s == schema for s, _ in self.tables)

    def listTables(self, schema):  # noqa: N802
        return [
            SimpleNamespace(name=t, tableType=kind, isTemporary=False)
            for (s, t), (kind, _) in self.tables.items()
            if s == schema
        ]

    def listColumns(self, table, schema):  # noqa: N802
        return [
            SimpleNamespace(name=n, dataType=d, isPartition=p)
            for n, d, p in self.tables[(schema, table)][1]
        ]


def test_each_spark_table_is_a_typed_duckdb_view_over_its_files(tmp_path: Path, monkeypatch):
    wh = tmp_path / "skipcache.duckdb"
    home = spark.spark_home(wh)
    users = spark.table_dir(home, "marts", "dim_users")
    users.mkdir(parents=True)
    outcomes = spark.table_dir(home, "marts", "decision_outcomes")
    for night in ("2025-01-01", "2025-01-02"):
        (outcomes / f"decision_date={night}").mkdir(parents=True)
    con = duckdb.connect(str(wh))
    con.execute(f"copy (select 7::bigint as user_id, true as is_premium) to '{users}/p0.parquet'")
    for i, night in enumerate(("2025-01-01", "2025-01-02")):
        con.execute(
            f"copy (select 'x{i}' as track_id, {i}::double as p_play) "
            f"to '{outcomes}/decision_date={night}/p0.parquet'"
        )
    catalog = _Catalog({
        ("marts", "dim_users"): ("MANAGED", [("user_id", "bigint", False),
                                             ("is_premium", "boolean", False)]),
        ("marts", "decision_outcomes"): ("MANAGED", [("track_id", "string", False),
                                                     ("p_play", "double", False),
                                                     ("decision_date", "date", True)]),
        ("marts", "stg_view"): ("VIEW", [("a", "string", False)]),
        ("decisions", "cache_decisions"): ("MANAGED", [("user_id", "bigint", False),
                                                       ("should_cache", "boolean", False)]),
    })  # fmt: skip
    monkeypatch.setattr(spark, "session", lambda: SimpleNamespace(catalog=catalog))

    assert spark.attach_views(con, wh) == 3  # Spark's views are not mirrored
    assert con.execute("select * from marts.dim_users").fetchall() == [(7, True)]
    rows = con.execute(
        "select track_id, p_play, decision_date from marts.decision_outcomes order by track_id"
    ).fetchall()
    assert [(r[0], r[1], str(r[2])) for r in rows] == [
        ("x0", 0.0, "2025-01-01"), ("x1", 1.0, "2025-01-02"),
    ]  # fmt: skip
    # a table with no file yet: an empty view with Spark's columns and types
    assert con.execute("select * from decisions.cache_decisions").fetchall() == []
    types = con.execute(
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'decisions' and table_name = 'cache_decisions' order by 1"
    ).fetchall()
    assert types == [("should_cache", "BOOLEAN"), ("user_id", "BIGINT")]
    assert spark.warehouse_of(con) == wh
    con.close()
