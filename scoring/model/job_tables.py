"""The tables the job writes (schemas ``decisions`` and ``ml``), defined once.

The definition is the dbt sources file models_sql/marts/decisions/_decisions__sources.yml:
each column's ``data_type`` (NOT NULL unless ``meta: {nullable: true}``), each table's
``meta.primary_key`` (its grain), and whether DuckDB enforces that key with a primary-key index
(the source's ``meta.key_index``, true unless false). The ``decisions`` tables go without: one
night's rows are added to every night ever decided, an index over them all made each night's
insert slower as the history grew, and the job checks the grain of each night it writes
(``check_grain``). dbt creates the ``decisions`` tables from it (macro
create_decision_tables, on-run-start); Python creates the ``ml`` tables from it here, before it
writes them (scoring/model/registry.py, scoring/model/sql_scoring.py). Analysts see both schemas as
documented sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import duckdb
import yaml

from scoring.config import PROJECT_ROOT
from scoring.errors import GrainError

SOURCES_FILE = PROJECT_ROOT / "models_sql" / "marts" / "decisions" / "_decisions__sources.yml"


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    nullable: bool


@dataclass(frozen=True)
class Table:
    schema: str
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    key_index: bool = True

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def create_statement(self) -> str:
        """DuckDB's DDL: the columns with NOT NULL where not nullable, and the primary key
        where the key is indexed."""
        parts = [f"{c.name} {c.data_type}{'' if c.nullable else ' not null'}" for c in self.columns]
        if self.key_index:
            parts.append(f"primary key ({', '.join(self.primary_key)})")
        body = ",\n    ".join(parts)
        return f"create table if not exists {self.schema}.{self.name} (\n    {body}\n)"


@cache
def tables(schema: str) -> tuple[Table, ...]:
    """The declared tables of one source (``decisions`` or ``ml``), in the file's order."""
    sources = yaml.safe_load(SOURCES_FILE.read_text())["sources"]
    source = next(s for s in sources if s["name"] == schema)
    return tuple(
        Table(
            schema=source.get("schema", schema),
            name=t["name"],
            columns=tuple(
                Column(c["name"], c["data_type"], bool((c.get("meta") or {}).get("nullable")))
                for c in t["columns"]
            ),
            primary_key=tuple(t["meta"]["primary_key"]),
            key_index=bool((source.get("meta") or {}).get("key_index", True)),
        )
        for t in source["tables"]
    )


def table(schema: str, name: str) -> Table:
    return next(t for t in tables(schema) if t.name == name)


def check_grain(con: duckdb.DuckDBPyConnection, table: Table, where: str, params: list) -> None:
    """Raise GrainError when rows of ``table`` matching ``where`` repeat its primary key (the
    check of a table whose key has no index, on the rows just written)."""
    keys = ", ".join(table.primary_key)
    rows = con.execute(
        f"select {keys}, count(*) from {table.schema}.{table.name} where {where} "
        f"group by {keys} having count(*) > 1 order by {keys} limit 1",
        params,
    ).fetchall()
    if rows:
        *key, n = rows[0]
        named = ", ".join(f"{k}={v}" for k, v in zip(table.primary_key, key, strict=True))
        raise GrainError(
            f"{table.schema}.{table.name}: {n} rows for the key ({named}); "
            f"its grain is one row per ({keys})"
        )


def drop_key_indexes(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    """Recreate without its primary key each table of ``schema`` declared without a key index
    that still has one (written by an earlier version), keeping its rows; the names of the
    tables recreated. The caller holds a transaction, or accepts a table rebuilt on its own."""
    indexed = {
        table
        for (table,) in con.execute(
            "select table_name from duckdb_constraints() where schema_name = ? "
            "and constraint_type = 'PRIMARY KEY' and database_name = current_database()",
            [schema],
        ).fetchall()
    }
    done = []
    for t in tables(schema):
        if t.key_index or t.name not in indexed:
            continue
        rebuilt = Table(t.schema, f"{t.name}__without_key_index", t.columns, t.primary_key, False)
        con.execute(f"drop table if exists {rebuilt.schema}.{rebuilt.name}")
        con.execute(rebuilt.create_statement())
        con.execute(
            f"insert into {rebuilt.schema}.{rebuilt.name} by name select * from {t.schema}.{t.name}"
        )
        con.execute(f"drop table {t.schema}.{t.name}")
        con.execute(f"alter table {rebuilt.schema}.{rebuilt.name} rename to {t.name}")
        done.append(t.name)
    return done


def ensure(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Create the schema and its declared tables where they are missing. Nothing is executed
    when all exist, so that a read-only connection (the report, an analyst) can call it."""
    present = {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables where table_schema = ?", [schema]
        ).fetchall()
    }
    missing = [t for t in tables(schema) if t.name not in present]
    if missing:
        con.execute(f"create schema if not exists {schema}")
    for t in missing:
        con.execute(t.create_statement())
