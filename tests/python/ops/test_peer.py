"""The benchmark's peer (scoring/ops/peer.py), the seed's feature step in pandas: a skip wins
over a play of the same track in a session, and its rates are over all rows, as the seed's."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scoring.ingest.generate import GenerateOptions, generate
from scoring.ops.peer import feature_step


def test_peer_lets_a_skip_win_and_rates_over_all_rows(tmp_path: Path):
    raw = tmp_path / "raw"
    generate(raw, GenerateOptions(preset="tiny", seed=2))
    frame = feature_step(raw)
    events = pd.read_json(raw / "sessions.jsonl", lines=True)
    events = events[events["event_type"].isin(["play", "skip"])]
    pairs = events.groupby(["session_id", "track_id"])["event_type"].agg(set)
    assert len(frame) == len(pairs)
    skipped = pairs.map(lambda kinds: "skip" in kinds)
    assert int(frame["skipped"].sum()) == int(skipped.sum())
    by_user = skipped.groupby(events.groupby(["session_id", "track_id"])["user_id"].first()).mean()
    got = frame.groupby("user_id")["user_skip_rate"].first()
    assert (got.sort_index() - by_user.sort_index()).abs().max() < 1e-12
