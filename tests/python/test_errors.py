"""The user's errors (scoring/errors.py): each is one the CLI prints in one line, and a full
disk is named as such, with the folder and its filesystem, wherever it was raised from."""

from __future__ import annotations

import errno
from pathlib import Path

import duckdb

from scoring import errors


def test_every_user_error_is_defined_here_and_listed():
    defined = {v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, Exception)}
    assert defined == set(errors.USER_ERRORS)
    assert all(e.__module__ == "scoring.errors" for e in errors.USER_ERRORS)


def test_a_full_disk_names_the_folder_and_its_filesystem(tmp_path: Path):
    exc = OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "x.duckdb"))
    line = errors.out_of_space(exc)
    assert line.startswith(f"out of disk space in {tmp_path} (filesystem ")
    assert "MB free now)" in line and "\n" not in line


def test_a_full_disk_is_found_behind_the_error_it_caused(tmp_path: Path):
    try:
        try:
            raise duckdb.IOException('IO Error: Could not write file "x": No space left on device')
        except duckdb.IOException as inner:
            raise RuntimeError("the night failed") from inner
    except RuntimeError as outer:
        line = errors.out_of_space(outer, where=tmp_path)
    assert line is not None and line.startswith(f"out of disk space in {tmp_path}")
    assert line.endswith("No space left on device")


def test_other_errors_are_not_a_full_disk():
    assert errors.out_of_space(OSError(errno.EACCES, "Permission denied")) is None
    assert errors.out_of_space(ValueError("bad value")) is None
