"""The tables the job writes are defined once (scoring/model/job_tables.py reads the dbt sources
file): what Python creates is what the file declares, and the declarations are complete."""

from __future__ import annotations

import duckdb
import pytest

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
        (key,) = con.execute(
            "select constraint_column_names from duckdb_constraints() where schema_name = ? "
            "and table_name = ? and constraint_type = 'PRIMARY KEY'",
            [schema, table.name],
        ).fetchall()[0]
        assert tuple(key) == table.primary_key
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
