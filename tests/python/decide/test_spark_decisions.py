"""The night's decisions on Spark (scoring/decide/spark_decisions.py) without a JVM: the arm of
a user in Spark SQL is policy.arm_of's, bit for bit. (The decisions themselves are compared
with DuckDB's in sql/test_spark_parity.py.)"""

from __future__ import annotations

import duckdb
import pytest

from scoring.decide import policy
from scoring.decide.spark_decisions import arm_sql

SHARES = [
    {"model": 0.4, "naive": 0.4, "holdout": 0.2},
    {"model": 0.5, "naive": 0.5},
    {"a": 0.1, "b": 0.2, "c": 0.3, "d": 0.4},
]


@pytest.mark.parametrize("shares", SHARES, ids=lambda s: "-".join(sorted(s)))
def test_the_arm_in_sql_is_the_arm_in_python(shares):
    con = duckdb.connect()
    # Spark's conv(hex, 16, 10), which DuckDB lacks, for the test (15 hex digits fit a bigint)
    con.execute("create macro conv(s, f, t) as cast(cast('0x' || s as bigint) as varchar)")
    users = list(range(-50, 3000)) + [2**40 + 7]
    con.execute("create table users as select unnest(?::bigint[]) as user_id", [users])
    rows = con.execute(f"select user_id, {arm_sql('user_id', shares)} from users").fetchall()
    con.close()
    got = dict(rows)
    assert {u: policy.arm_of(u, shares) for u in users} == got
    assert set(got.values()) == set(shares)  # every arm is used


def test_one_arm_is_a_literal():
    assert arm_sql("user_id", {"model": 1.0}) == "'model'"
