"""scoring.ingest.rawfiles: discovery of the five files and byte-exact landing of their lines."""

from __future__ import annotations

import os
from pathlib import Path

import pyarrow.compute as pc
import pytest

from scoring.ingest import rawfiles
from scoring.ingest.rawfiles import RawInputError


def _export(root: Path, sessions: dict[str, bytes] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name in rawfiles.SINGLE_FILES.values():
        (root / name).write_bytes(b'{"id": "x"}\n')
    for rel, content in (sessions or {"sessions.jsonl": b"{}\n"}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content)
    return root


def test_split_lines_keeps_every_physical_line():
    offsets, n = rawfiles.split_lines(b"a\n\nbb\r\nc")
    assert n == 4
    assert offsets.tolist() == [0, 2, 3, 7, 8]


def test_split_lines_final_newline_is_not_an_extra_line():
    assert rawfiles.split_lines(b"a\nb\n")[1] == 2
    assert rawfiles.split_lines(b"")[1] == 0


def test_blank_lines_are_whitespace_only():
    data = b'{"a": 1}\n\n   \t\r\n {"b": 2}\n'
    offsets, _ = rawfiles.split_lines(data)
    assert rawfiles.blank_lines(data, offsets).tolist() == [False, True, True, False]


def test_land_file_numbers_lines_and_keeps_invalid_bytes(tmp_path: Path):
    root = _export(tmp_path / "raw", {"sessions.jsonl": b'{"a": 1}\n\xff\xfe broken\n\n{"b"'})
    table = rawfiles.land(root).read_all()
    sessions = table.filter(pc.equal(table["entity"], "sessions"))
    assert sessions["line_number"].to_pylist() == [1, 2, 3, 4]
    assert sessions["raw_bytes"].to_pylist()[1] == b"\xff\xfe broken\n"
    assert sessions["raw_bytes"].to_pylist()[3] == b'{"b"'
    assert sessions["is_blank"].to_pylist() == [False, False, True, False]
    assert set(table["source_file"].to_pylist()) == {
        "sessions.jsonl",
        "tracks.jsonl",
        "users.jsonl",
        "artists.jsonl",
        "track_storage.jsonl",
    }


def test_sessions_folder_of_daily_drops(tmp_path: Path):
    root = _export(
        tmp_path / "raw",
        {"sessions/2024-01-02.jsonl": b"{}\n", "sessions/2024-01-01.jsonl": b"{}\n{}\n"},
    )
    found = [f.source_file for f in rawfiles.discover(root) if f.entity == "sessions"]
    assert found == ["sessions/2024-01-01.jsonl", "sessions/2024-01-02.jsonl"]


def test_missing_file_is_named(tmp_path: Path):
    root = _export(tmp_path / "raw")
    (root / "tracks.jsonl").unlink()
    with pytest.raises(RawInputError, match=r"tracks\.jsonl: missing"):
        rawfiles.discover(root)


def test_unreadable_file_is_named(tmp_path: Path):
    root = _export(tmp_path / "raw")
    (root / "users.jsonl").chmod(0)
    if os.access(root / "users.jsonl", os.R_OK):  # root can read anything: simulate with a folder
        (root / "users.jsonl").unlink()
        (root / "users.jsonl").mkdir()
        with pytest.raises(RawInputError, match=r"users\.jsonl: not a regular file"):
            rawfiles.discover(root)
    else:
        with pytest.raises(RawInputError, match=r"users\.jsonl: not readable"):
            rawfiles.discover(root)


def test_both_sessions_forms_is_an_error(tmp_path: Path):
    root = _export(
        tmp_path / "raw", {"sessions.jsonl": b"{}\n", "sessions/2024-01-01.jsonl": b"{}\n"}
    )
    with pytest.raises(RawInputError, match="both sessions.jsonl and sessions/"):
        rawfiles.discover(root)


def test_empty_sessions_folder_is_an_error(tmp_path: Path):
    root = _export(tmp_path / "raw", {"sessions/readme.txt": b"x"})
    with pytest.raises(RawInputError, match="holds no"):
        rawfiles.discover(root)


def test_missing_raw_folder(tmp_path: Path):
    with pytest.raises(RawInputError, match="not found"):
        rawfiles.discover(tmp_path / "nope")


def test_land_skips_unchanged_files_and_lands_new_drops(tmp_path: Path):
    root = _export(tmp_path / "raw", {"sessions/2024-01-01.jsonl": b"{}\n"})
    first = rawfiles.land(root).read_all()
    loaded = dict(
        zip(first["source_file"].to_pylist(), first["file_signature"].to_pylist(), strict=True)
    )
    assert rawfiles.land(root, loaded).read_all().num_rows == 0
    (root / "sessions" / "2024-01-02.jsonl").write_bytes(b"{}\n{}\n")
    again = rawfiles.land(root, loaded).read_all()
    assert set(again["source_file"].to_pylist()) == {"sessions/2024-01-02.jsonl"}


def test_land_refuses_when_a_landed_file_disappeared(tmp_path: Path):
    root = _export(
        tmp_path / "raw",
        {"sessions/2024-01-01.jsonl": b"{}\n", "sessions/2024-01-02.jsonl": b"{}\n"},
    )
    first = rawfiles.land(root).read_all()
    loaded = dict(
        zip(first["source_file"].to_pylist(), first["file_signature"].to_pylist(), strict=True)
    )
    (root / "sessions" / "2024-01-01.jsonl").unlink()
    with pytest.raises(
        RawInputError, match=r"sessions/2024-01-01\.jsonl: landed by an earlier build"
    ):
        rawfiles.land(root, loaded)


@pytest.mark.parametrize("chunk_bytes", [1, 3, 7, 64, 1 << 20])
def test_a_file_read_in_chunks_lands_as_a_file_read_whole(tmp_path: Path, chunk_bytes: int):
    """Lines across chunk edges, a line longer than a chunk, blank lines, invalid bytes and a
    last line without a newline land the same whatever the chunk size."""
    data = b'{"a": 1}\n\n  \n\xff\xfe' + b"x" * 50 + b'\n{"b": 2}\r\n{"c"'
    path = tmp_path / "sessions.jsonl"
    path.write_bytes(data)
    f = rawfiles.RawFile("sessions", "sessions.jsonl", path)
    table = rawfiles.land_file(f, chunk_bytes)
    assert b"".join(table["raw_bytes"].to_pylist()) == data
    assert table["raw_bytes"].to_pylist() == data.splitlines(keepends=True)
    assert table["line_number"].to_pylist() == list(range(1, 7))
    assert table["is_blank"].to_pylist() == [False, True, True, False, False, False]
    if chunk_bytes < len(data):
        assert len(list(rawfiles.land_file_batches(f, chunk_bytes))) > 1


def test_an_empty_file_lands_no_line(tmp_path: Path):
    path = tmp_path / "users.jsonl"
    path.write_bytes(b"")
    assert rawfiles.land_file(rawfiles.RawFile("users", "users.jsonl", path)).num_rows == 0
