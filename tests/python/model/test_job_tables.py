"""The tables the job writes are defined once (scoring/model/job_tables.py reads the dbt sources
file): what Python creates is what the file declares, and the declarations are complete."""

from __future__ import annotations

import duckdb
import pytest

from scoring.errors import GrainError
from scoring.model import job_tables


@pytest.mark.parametrize("schema", ["decisions", "ml"])
def test_every_table_is_declared_with_types_and_a_key(schema):
    declared = job_tables.tables(schema)
    assert declared
    for table in declared:
        names = table.column_names
        assert len(names) == len(set(names)), table.name
        assert all(c.data_type for c in table.columns), table.name
        assert set(table.primary_key) <= set(names), table.name
        assert not any(c.nullable for c in table.columns if c.name in table.primary_key)


@pytest.mark.parametrize("schema", ["decisions", "ml"])
def test_the_created_tables_are_the_declared_ones(schema):
    con = duckdb.connect(":memory:")
    job_tables.ensure(con, schema)
    job_tables.ensure(con, schema)  # idempotent: only what is missing
    for table in job_tables.tables(schema):
        rows = con.execute(
            "select column_name, is_nullable = 'YES' from information_schema.columns "
            "where table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table.name],
        ).fetchall()
        assert rows == [(c.name, c.nullable) for c in table.columns]
        keys = con.execute(
            "select constraint_column_names from duckdb_constraints() where schema_name = ? "
            "and table_name = ? and constraint_type = 'PRIMARY KEY'",
            [schema, table.name],
        ).fetchall()
        # the decisions tables go without the index (the job checks each night it writes)
        assert keys == ([(list(table.primary_key),)] if table.key_index else [])
        assert table.key_index == (schema == "ml")
        with pytest.raises(duckdb.ConstraintException):  # NOT NULL is enforced
            con.execute(
                f"insert into {schema}.{table.name} ({table.columns[0].name}) values (null)"
            )


def test_a_read_only_connection_with_every_table_creates_nothing(tmp_path):
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        job_tables.ensure(con, "ml")
    with duckdb.connect(str(path), read_only=True) as con:
        job_tables.ensure(con, "ml")  # no CREATE on a read-only database


def test_a_grain_check_names_the_table_and_the_repeated_key():
    con = duckdb.connect(":memory:")
    job_tables.ensure(con, "decisions")
    table = job_tables.table("decisions", "user_arms")
    row = "(date '2025-01-02', 7, 'model', 'r', timestamp '2025-01-02 01:00:00')"
    con.execute(f"insert into decisions.user_arms by position values {row}, {row}")
    job_tables.check_grain(con, table, "decision_date = ?", ["2025-01-01"])  # another night
    with pytest.raises(GrainError) as caught:
        job_tables.check_grain(con, table, "decision_date = ?", ["2025-01-02"])
    assert str(caught.value) == (
        "decisions.user_arms: 2 rows for the key (decision_date=2025-01-02, user_id=7); "
        "its grain is one row per (decision_date, user_id)"
    )


def test_a_decisions_table_of_an_earlier_version_loses_its_key_index_and_keeps_its_rows():
    """Before key_index false, dbt created the decisions tables with a primary key: the night
    that next writes its decisions to such a file (scoring.decide.decisions.decide) rebuilds
    them without it."""
    con = duckdb.connect(":memory:")
    con.execute("create schema decisions")
    for t in job_tables.tables("decisions"):
        old = job_tables.Table(t.schema, t.name, t.columns, t.primary_key, key_index=True)
        con.execute(old.create_statement())
    con.execute(
        "insert into decisions.user_arms values "
        "(date '2025-01-02', 7, 'model', 'r', timestamp '2025-01-02 01:00:00')"
    )
    before = con.execute("select * from decisions.user_arms").fetchall()
    assert sorted(job_tables.drop_key_indexes(con, "decisions")) == sorted(
        t.name for t in job_tables.tables("decisions")
    )
    assert job_tables.drop_key_indexes(con, "decisions") == []  # once
    assert con.execute(
        "select count(*) from duckdb_constraints() where schema_name = 'decisions' "
        "and constraint_type = 'PRIMARY KEY'"
    ).fetchall() == [(0,)]
    assert con.execute("select * from decisions.user_arms").fetchall() == before
    with pytest.raises(duckdb.ConstraintException):  # NOT NULL is kept
        con.execute("insert into decisions.user_arms (decision_date) values (null)")
