"""The published snapshot for the cache service, and the reader it uses.

After the night's decisions commit, `publish` writes the night's pair decisions and per-track
defaults to Parquet under serving/ beside the warehouse: each file through a temporary name and
an atomic rename, then manifest.json (files, row counts, sha256, decision date, run id, model
version, arm shares) the same way. A reader only follows the manifest, so it never sees a
half-written night, and never opens the DuckDB file that the nightly job holds for writing.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from scoring.decide import arm_of

MANIFEST = "manifest.json"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def publish(
    con: duckdb.DuckDBPyConnection,
    serving: Path,
    decision_date: date,
    run_id: str,
    model_version: str,
    arm_shares: dict[str, float],
) -> dict:
    """Write the night's snapshot and switch the manifest to it; return the manifest."""
    serving.mkdir(parents=True, exist_ok=True)
    tag = f"{decision_date:%Y-%m-%d}_{run_id}"
    queries = {
        "decisions": (
            "select user_id, track_id, arm, p_play, should_cache, model_version "
            "from decisions.cache_decisions where decision_date = {day} order by user_id, track_id"
        ),
        "track_defaults": (
            "select track_id, p_play, should_cache, model_version "
            "from decisions.track_default_decisions where decision_date = {day} order by track_id"
        ),
    }
    files = {}
    for kind, query in queries.items():
        name = f"{kind}_{tag}.parquet"
        tmp = serving / f".{name}.tmp-{os.getpid()}"
        table = con.sql(query.format(day=f"date '{decision_date.isoformat()}'")).to_arrow_table()
        pq.write_table(table, tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, serving / name)
        files[kind] = {"file": name, "row_count": table.num_rows, "sha256": _sha256(serving / name)}
    manifest = {
        "decision_date": decision_date.isoformat(),
        "run_id": run_id,
        "model_version": model_version,
        "arm_shares": arm_shares,
        "files": files,
        "row_count": sum(f["row_count"] for f in files.values()),
    }
    previous = read_manifest(serving)
    _atomic_write(serving / MANIFEST, json.dumps(manifest, indent=2).encode())
    keep = {f["file"] for f in files.values()}
    if previous:  # a reader may still be loading the previous night's files
        keep |= {f["file"] for f in previous["files"].values()}
    for stale in serving.glob("*.parquet"):
        if stale.name not in keep:
            stale.unlink(missing_ok=True)
    return manifest


def read_manifest(serving: Path) -> dict | None:
    try:
        return json.loads((serving / MANIFEST).read_text())
    except FileNotFoundError:
        return None


@dataclass(frozen=True)
class Answer:
    should_cache: bool
    p_play: float
    arm: str | None
    model_version: str
    decision_date: str
    source: str  # "pair" or "track_default"

    def as_dict(self) -> dict:
        return self.__dict__.copy()


class SnapshotReader:
    """Answers (user, track) from the published snapshot; reloads when the manifest changes."""

    def __init__(self, serving: Path) -> None:
        self.serving = Path(serving)
        self._stamp: tuple[int, int] | None = None
        self.manifest: dict | None = None
        self._pairs: dict[tuple[int, str], tuple[bool, float, str, str]] = {}
        self._defaults: dict[str, tuple[bool, float, str]] = {}
        self.reload()

    def _manifest_stamp(self) -> tuple[int, int] | None:
        try:
            st = (self.serving / MANIFEST).stat()
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_ino)

    def reload(self) -> bool:
        """Load the snapshot the manifest names if it changed; True when something was loaded."""
        stamp = self._manifest_stamp()
        if stamp is None or stamp == self._stamp:
            return False
        manifest = read_manifest(self.serving)
        if manifest is None:
            return False
        tables = {}
        for kind, meta in manifest["files"].items():
            path = self.serving / meta["file"]
            if _sha256(path) != meta["sha256"]:
                raise ValueError(f"{path}: sha256 differs from {MANIFEST}")
            tables[kind] = pq.read_table(path).to_pydict()
        d = tables["decisions"]
        self._pairs = {
            (u, t): (c, p, a, m)
            for u, t, a, p, c, m in zip(
                d["user_id"], d["track_id"], d["arm"], d["p_play"], d["should_cache"],
                d["model_version"], strict=True,
            )
        }  # fmt: skip
        t = tables["track_defaults"]
        self._defaults = {
            k: (c, p, m)
            for k, p, c, m in zip(
                t["track_id"], t["p_play"], t["should_cache"], t["model_version"], strict=True
            )
        }
        self.manifest, self._stamp = manifest, stamp
        return True

    def lookup(self, user_id: int, track_id: str) -> Answer | None:
        """The decision for a pair: its own if it was a candidate, else the track's default;
        None for a track the snapshot does not know."""
        if self.manifest is None:
            return None
        day = self.manifest["decision_date"]
        pair = self._pairs.get((user_id, track_id))
        if pair is not None:
            return Answer(pair[0], pair[1], pair[2], pair[3], day, "pair")
        default = self._defaults.get(track_id)
        if default is not None:
            arm = arm_of(user_id, self.manifest["arm_shares"])
            cache = default[0] and arm != "holdout"  # the hold-out arm caches nothing
            return Answer(cache, default[1], arm, default[2], day, "track_default")
        return None
