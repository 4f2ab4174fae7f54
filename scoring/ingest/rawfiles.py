"""Find the five raw Pozytywka files of an export (and the service's served-answer logs) and
land their lines, byte for byte.

This is the only Python that reads raw files. It does not parse JSON: it splits each file into
physical lines (numbered from 1, as an editor numbers them) and hands them to DuckDB as bytes,
so that a line with invalid UTF-8 or broken JSON still reaches the warehouse, where the staging
models decide whether it is staged or quarantined. Nothing is dropped here but the empty tail
after a final newline.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa

from scoring.errors import RawInputError

#: The four single-file entities; sessions may also be a folder ``sessions/`` of ``*.jsonl`` drops.
SINGLE_FILES: dict[str, str] = {
    "tracks": "tracks.jsonl",
    "users": "users.jsonl",
    "artists": "artists.jsonl",
    "track_storage": "track_storage.jsonl",
}
SESSIONS_FILE = "sessions.jsonl"
SESSIONS_DIR = "sessions"

LANDING_SCHEMA = pa.schema(
    [
        ("entity", pa.string()),
        ("source_file", pa.string()),
        ("file_signature", pa.string()),
        ("line_number", pa.int64()),
        ("is_blank", pa.bool_()),
        ("raw_bytes", pa.large_binary()),
        # when the line was landed (UTC, no zone): after the start of the dbt run that landed
        # it, so that a night's data tests can see only its own rows (macro night_test_scope)
        ("loaded_at", pa.timestamp("us")),
    ]
)


@dataclass(frozen=True)
class RawFile:
    entity: str
    source_file: str  # path relative to the raw folder, with forward slashes
    path: Path

    def signature(self) -> str:
        """Cheap content fingerprint (size and modification time) used to skip re-landing."""
        st = self.path.stat()
        return f"{st.st_size}:{st.st_mtime_ns}"


def discover(raw_dir: str | os.PathLike[str]) -> list[RawFile]:
    """List the raw files of the export in ``raw_dir``; raise RawInputError if one is missing.

    sessions: ``sessions.jsonl`` or every ``sessions/*.jsonl`` (sorted by name), not both.
    """
    root = Path(raw_dir)
    if not root.is_dir():
        raise RawInputError(f"raw folder {root}: not found or not a folder")
    files: list[RawFile] = []
    sess_file, sess_dir = root / SESSIONS_FILE, root / SESSIONS_DIR
    if sess_file.exists() and sess_dir.is_dir():
        raise RawInputError(
            f"{root}: holds both {SESSIONS_FILE} and {SESSIONS_DIR}/; keep one of them"
        )
    if sess_dir.is_dir():
        drops = sorted(p for p in sess_dir.glob("*.jsonl") if p.is_file())
        if not drops:
            raise RawInputError(f"{SESSIONS_DIR}/ in {root}: the folder holds no *.jsonl file")
        files += [RawFile("sessions", f"{SESSIONS_DIR}/{p.name}", p) for p in drops]
    else:
        files.append(RawFile("sessions", SESSIONS_FILE, sess_file))
    files += [RawFile(entity, name, root / name) for entity, name in SINGLE_FILES.items()]
    for f in files:
        check_readable(f)
    return files


def check_readable(f: RawFile) -> None:
    if not f.path.exists():
        raise RawInputError(f"{f.source_file}: missing from {f.path.parent}")
    if not f.path.is_file():
        raise RawInputError(f"{f.source_file}: not a regular file ({f.path})")
    if not os.access(f.path, os.R_OK):
        raise RawInputError(f"{f.source_file}: not readable (permission denied: {f.path})")


def split_lines(data: bytes) -> tuple[np.ndarray, int]:
    """Offsets of the physical lines in ``data`` (each line keeps its newline) and their count."""
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    ends = newlines + 1
    if len(data) and (len(newlines) == 0 or newlines[-1] != len(data) - 1):
        ends = np.append(ends, len(data))  # last line without a final newline
    offsets = np.empty(len(ends) + 1, dtype=np.int64)
    offsets[0] = 0
    offsets[1:] = ends
    return offsets, len(ends)


WHITESPACE = np.frombuffer(b" \t\r\n\x0b\x0c", dtype=np.uint8)


def blank_lines(data: bytes, offsets: np.ndarray) -> np.ndarray:
    """True for lines holding only ASCII whitespace (an empty line included)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    starts, ends = offsets[:-1], offsets[1:]
    blank = np.zeros(len(starts), dtype=bool)
    # only a line that starts with whitespace can be blank: check those few one by one
    nonempty = starts < ends
    candidates = np.flatnonzero(
        nonempty & np.isin(buf[np.minimum(starts, len(buf) - 1)], WHITESPACE)
    )
    for i in candidates:
        blank[i] = not data[starts[i] : ends[i]].strip()
    return blank


def _repeat(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, pa.string()), n)


#: Bytes read from a raw file at a time: the landing's memory is a few chunks, whatever the
#: size of the file or of the export (a line longer than a chunk is read whole).
CHUNK_BYTES = 64 * 2**20


def _batch(
    f: RawFile, signature: str, data: bytes, first_line: int, loaded_at: datetime
) -> pa.RecordBatch:
    """The lines of ``data`` (whole lines of ``f``, from line ``first_line``) as a batch,
    zero-copy over the bytes."""
    offsets, n = split_lines(data)
    lines = pa.LargeBinaryArray.from_buffers(
        pa.large_binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    return pa.record_batch(
        [
            _repeat(f.entity, n),
            _repeat(f.source_file, n),
            _repeat(signature, n),
            pa.array(np.arange(first_line, first_line + n, dtype=np.int64)),
            pa.array(blank_lines(data, offsets)),
            lines,
            pa.repeat(pa.scalar(loaded_at, pa.timestamp("us")), n),
        ],
        schema=LANDING_SCHEMA,
    )


def land_file_batches(f: RawFile, chunk_bytes: int = CHUNK_BYTES) -> Iterator[pa.RecordBatch]:
    """All physical lines of one raw file, as batches of whole lines read ``chunk_bytes`` at a
    time (numbered on from one batch to the next).

    The signature is taken before the bytes are read: a file that grows meanwhile (a log being
    appended to) then has another signature at the next build and is landed again in full.
    """
    try:
        signature = f.signature()
        loaded_at = datetime.now(UTC).replace(tzinfo=None)
        with f.path.open("rb") as stream:
            line, carry = 1, b""
            while chunk := stream.read(chunk_bytes):
                data = carry + chunk
                end = data.rfind(b"\n") + 1  # the chunk's whole lines; the rest waits
                if end:
                    batch = _batch(f, signature, data[:end], line, loaded_at)
                    line += batch.num_rows
                    yield batch
                carry = data[end:]
            if carry:  # the last line, without a final newline
                yield _batch(f, signature, carry, line, loaded_at)
    except OSError as exc:
        raise RawInputError(f"{f.source_file}: cannot be read ({exc.strerror or exc})") from exc


def land_file(f: RawFile, chunk_bytes: int = CHUNK_BYTES) -> pa.Table:
    """All physical lines of one raw file as an Arrow table (tests; the models stream)."""
    return pa.Table.from_batches(list(land_file_batches(f, chunk_bytes)), schema=LANDING_SCHEMA)


def land(
    raw_dir: str | os.PathLike[str], loaded: dict[str, str] | None = None
) -> pa.RecordBatchReader:
    """Lines of every raw file whose signature differs from ``loaded`` (source_file -> signature).

    A file that was landed before and is gone now is an error: its rows would otherwise linger
    as if they were still part of the export.
    """
    loaded = loaded or {}
    files = discover(raw_dir)
    present = {f.source_file for f in files}
    gone = sorted(set(loaded) - present)
    if gone:
        raise RawInputError(
            f"{', '.join(gone)}: landed by an earlier build but no longer in {raw_dir}; "
            "rebuild with --full-refresh (or a new warehouse) to load the export as it is now"
        )
    return land_files(files, loaded)


def land_files(files: Sequence[RawFile], loaded: Mapping[str, str]) -> pa.RecordBatchReader:
    """Lines of every file in ``files`` whose signature differs from ``loaded``, as a stream of
    batches that DuckDB reads as it writes them: one chunk of one file in memory at a time."""
    changed = [f for f in files if loaded.get(f.source_file) != f.signature()]
    batches = (batch for f in changed for batch in land_file_batches(f))
    return pa.RecordBatchReader.from_batches(LANDING_SCHEMA, batches)


#: The entity of the served-answer log files in the landing (``LANDING_SCHEMA.entity``).
SERVED_ANSWERS = "served_answers"


def discover_served_logs(log_dir: str | os.PathLike[str] | None) -> list[RawFile]:
    """The service's served-answer logs: every ``*.jsonl`` in ``log_dir`` (one per UTC day),
    sorted by name; ``source_file`` is the file name.

    No folder (or none configured) is no logs, not an error: a warehouse whose service never
    ran builds with empty served-answer models. A file that cannot be read stops the run.
    """
    if not log_dir:
        return []
    root = Path(log_dir)
    if not root.exists():
        return []
    if not root.is_dir():
        raise RawInputError(f"served-answer log folder {root}: not a folder")
    files = [
        RawFile(SERVED_ANSWERS, p.name, p) for p in sorted(root.glob("*.jsonl")) if p.is_file()
    ]
    for f in files:
        check_readable(f)
    return files


def land_served_logs(
    log_dir: str | os.PathLike[str] | None, loaded: Mapping[str, str] | None = None
) -> pa.RecordBatchReader:
    """Lines of every served-answer log whose signature differs from ``loaded``.

    Unlike an export file, a log that was landed and is gone now (deleted by a retention job)
    is not an error: the log is history, and its landed lines are kept.
    """
    return land_files(discover_served_logs(log_dir), loaded or {})


def landed_signatures(session, this) -> dict[str, str]:
    """source_file -> file_signature of what an incremental landing model (``this``) holds:
    the files whose signature is unchanged are not landed again."""
    rows = session.sql(
        f"select source_file, any_value(file_signature) from {this} group by 1"
    ).fetchall()
    return dict(rows)
