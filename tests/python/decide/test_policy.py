"""The rules of an answer (scoring/decide/policy.py), on hand-made values."""

from __future__ import annotations

from collections import Counter

import pytest

from scoring.decide import policy
from scoring.decide.policy import DecisionSettings, SettingsError, arm_of, parse_arm_shares


def test_arms_are_stable_and_follow_the_shares():
    shares = {"model": 0.45, "naive": 0.45, "holdout": 0.1}
    arms = [arm_of(u, shares) for u in range(20_000)]
    assert arms == [arm_of(u, shares) for u in range(20_000)]  # a user stays in one arm
    counts = Counter(arms)
    assert abs(counts["holdout"] / 20_000 - 0.1) < 0.01
    assert abs(counts["model"] / 20_000 - 0.45) < 0.015
    assert arm_of(7, {"model": 1.0}) == "model"
    assert arm_of(-3, shares) in shares and arm_of(2**63 - 1, shares) in shares


def test_the_holdout_arm_caches_nothing_and_the_threshold_is_inclusive():
    assert policy.should_cache(0.5, policy.MODEL, 0.5)
    assert not policy.should_cache(0.4999, policy.MODEL, 0.5)
    assert not policy.should_cache(1.0, policy.HOLDOUT, 0.5)
    assert policy.naive_p_play(True) == 1.0 and policy.naive_p_play(False) == 0.0
    assert policy.clamp(1.2) == 1.0 and policy.clamp(-0.1) == 0.0


def test_settings_are_checked_and_name_the_flag():
    assert DecisionSettings().threshold == 0.5
    assert parse_arm_shares("model=0.45,naive=0.45,holdout=0.1")["holdout"] == 0.1
    with pytest.raises(SettingsError, match="--arms"):
        parse_arm_shares("model")
    with pytest.raises(SettingsError, match="--arms"):
        DecisionSettings(arm_shares={"model": 0.7, "naive": 0.7})
    with pytest.raises(SettingsError, match="--arms"):
        DecisionSettings(arm_shares={"model": 0.5, "other": 0.5})
    with pytest.raises(SettingsError, match="--threshold"):
        DecisionSettings(threshold=1.5)


def test_the_sql_rules_are_the_python_rules():
    import duckdb

    con = duckdb.connect()
    rows = con.execute(
        f"""
        select arm, p, fav,
            {policy.should_cache_sql("p", "arm", 0.5)} as cache,
            {policy.naive_p_play_sql("t")} as naive
        from (values ('model', 0.5, true), ('model', 0.2, false), ('holdout', 0.9, true))
            as t(arm, p, is_favourite_genre), lateral (select t.is_favourite_genre as fav)
        """
    ).fetchall()
    for arm, p, fav, cache, naive in rows:
        assert cache == policy.should_cache(p, arm, 0.5)
        assert float(naive) == policy.naive_p_play(fav)
    assert con.execute(f"select {policy.clamp_sql('1.5')}").fetchall()[0][0] == 1.0
    assert policy.baseline_p_play_sql(policy.BASELINE_CONSTANT, "f") == "1 - f.global_skip_rate"
    with pytest.raises(KeyError):
        policy.baseline_p_play_sql("svc-x", "f")
