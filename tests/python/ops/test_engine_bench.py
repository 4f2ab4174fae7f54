"""The two-engine benchmark (scoring/ops/engine_bench.py): the job's step lines it reads and the
table it writes (a run of it takes minutes per engine: BENCHMARKS.md)."""

from __future__ import annotations

from scoring.ops.engine_bench import format_table


def test_the_table_has_a_column_per_engine_and_a_row_per_step():
    results = {
        "engines": {
            "duckdb": {
                "full_night": {
                    "wall_s": 50.0,
                    "peak_rss_mb": 900,
                    "steps": {"dbt build": 30.0, "publish": 2.0},
                },
                "night_again": {"wall_s": 10.0, "peak_rss_mb": 400, "steps": {"dbt build": 5.0}},
            },
            "spark": {
                "full_night": {"wall_s": 300.0, "peak_rss_mb": 1500, "steps": {"dbt build": 250.0}},
                "night_again": {"wall_s": 90.0, "peak_rss_mb": 1200, "steps": {"dbt build": 70.0}},
            },
        }
    }
    rows = format_table(results).splitlines()
    assert rows[0] == "| step | duckdb s | spark s |"
    assert "| **full night: wall** | 50.0 | 300.0 |" in rows
    assert "| full night: peak RSS MB | 900 | 1500 |" in rows
    assert "| full night: publish | 2.0 |  |" in rows  # a step one engine did not report
    assert "| night again: dbt build | 5.0 | 70.0 |" in rows
