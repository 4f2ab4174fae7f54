"""Who answers the requests of a decided night (scoring/decide/coverage.py): the nightly tables
alone, or the service's snapshot by the policy."""

from __future__ import annotations

from scoring.decide.coverage import format_coverage, night_coverage


def test_every_request_is_answered_by_the_policy_through_the_service(replayed):
    """Before: only the candidate pairs had the policy's answer; the rest got the track's
    default. The service's snapshot answers every request of every night by the policy."""
    rows = night_coverage(replayed[1])
    assert len(rows) == 8 and all(r["requests"] > 0 for r in rows)
    before = sum(r["before_pair_share"] * r["requests"] for r in rows)
    assert before < sum(r["requests"] for r in rows)  # the defaults answered some before
    for r in rows:
        assert r["after_policy_share"] == 1.0, r
        assert set(r["after_sources"]) <= {"pair", "model", "cold_start"}


def test_the_total_weighs_each_night_by_its_requests():
    rows = [
        {"decision_date": "2025-01-01", "requests": 100, "before_pair_share": 0.5,
         "after_policy_share": 1.0, "after_sources": {"pair": 50, "model": 50}},
        {"decision_date": "2025-01-02", "requests": 300, "before_pair_share": 0.1,
         "after_policy_share": 0.9, "after_sources": {"pair": 30, "track_default": 30,
                                                      "cold_start": 240}},
    ]  # fmt: skip
    lines = format_coverage(rows).splitlines()
    assert lines[1].split()[:4] == ["2025-01-01", "100", "50.0%", "100.0%"]
    assert lines[2].endswith("cold_start 240, pair 30, track_default 30")
    assert lines[-1].split() == [
        "all",
        "400",
        "20.0%",
        "92.5%",
    ]  # (50 + 30) / 400, (100 + 270) / 400
    assert format_coverage([]).count("\n") == 0  # the header alone, no total
