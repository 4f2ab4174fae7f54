"""The benchmark's peer: the seed's feature step, written in pandas as the seed wrote it.

Read the sessions with pandas, keep play and skip events, let a skip win over a play of the
same track in the same session, compute per-user and per-track skip rates by groupby-apply
(over all rows: the seed's leaky definition), and merge them with users and tracks. Nothing
here is used by the pipeline; `skipcache bench` runs it in a subprocess on the same export to
compare time and peak memory. Run alone: ``python -m scoring.ops.peer RAW_DIR``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pandas as pd


def _read_sessions(raw_dir: Path) -> pd.DataFrame:
    single = raw_dir / "sessions.jsonl"
    files = [single] if single.exists() else sorted((raw_dir / "sessions").glob("*.jsonl"))
    frames = [pd.read_json(f, lines=True) for f in files]
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def feature_step(raw_dir: Path) -> pd.DataFrame:
    """One row per (session, track) with play/skip, the user's and the track's skip rates and
    the user and track columns: the seed's training frame."""
    sessions = _read_sessions(raw_dir)
    users = pd.read_json(raw_dir / "users.jsonl", lines=True)
    tracks = pd.read_json(raw_dir / "tracks.jsonl", lines=True)

    events = sessions[sessions["event_type"].isin(["play", "skip"])].copy()
    events["skipped"] = (events["event_type"] == "skip").astype(int)
    # a skip wins over a play of the same track in the same session
    events = (
        events.sort_values("skipped", ascending=False)
        .drop_duplicates(["session_id", "track_id"])
        .sort_values(["session_id", "timestamp"])
    )
    user_rates = (
        events.groupby("user_id")
        .apply(lambda g: g["skipped"].sum() / len(g), include_groups=False)
        .rename("user_skip_rate")
        .reset_index()
    )
    track_rates = (
        events.groupby("track_id")
        .apply(lambda g: g["skipped"].sum() / len(g), include_groups=False)
        .rename("track_skip_rate")
        .reset_index()
    )
    frame = events.merge(user_rates, on="user_id", how="left")
    frame = frame.merge(track_rates, on="track_id", how="left")
    frame = frame.merge(users, on="user_id", how="left")
    frame = frame.merge(tracks, left_on="track_id", right_on="id", how="left")
    return frame


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m scoring.ops.peer RAW_DIR", file=sys.stderr)
        return 2
    started = time.perf_counter()
    frame = feature_step(Path(argv[0]))
    print(f"peer feature step: {len(frame):,} rows in {time.perf_counter() - started:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
