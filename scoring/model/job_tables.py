"""The tables the job writes (schemas ``decisions`` and ``ml``), defined once.

The definition is the dbt sources file models_sql/marts/decisions/_decisions__sources.yml:
each column's ``data_type`` (NOT NULL unless ``meta: {nullable: true}``) and each table's
``meta.primary_key``. dbt creates the ``decisions`` tables from it (macro
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

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def create_statement(self) -> str:
        """DuckDB's DDL: the columns with NOT NULL where not nullable, and the primary key."""
        parts = [f"{c.name} {c.data_type}{'' if c.nullable else ' not null'}" for c in self.columns]
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
        )
        for t in source["tables"]
    )


def table(schema: str, name: str) -> Table:
    return next(t for t in tables(schema) if t.name == name)


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
