"""Errors that are the user's to fix: the CLI prints them in one line and exits with 2.

Every error a user can meet is defined here, at the base of the package, and the module that
raises it imports it from here (so `errors` imports nothing of the package, and no wing has to
import another to name an error). A light module (no pandas, scikit-learn or matplotlib): every
command imports it.
"""

import errno
import os
import shutil
from pathlib import Path


class WarehouseMissingError(Exception):
    """A command that reads the warehouse was pointed at a file that does not exist."""


class DbtError(Exception):
    """dbt reported a failure (a model, a test or the project itself)."""


class WarehouseBusyError(Exception):
    """Another skipcache process holds the warehouse for writing."""


class SettingsError(ValueError):
    """A setting given by the user is invalid; the message names it."""


class RawInputError(Exception):
    """A raw file is missing or cannot be read: the run stops, naming the file and the cause."""


class TrainingDataError(Exception):
    """Not enough labelled data before the decision date to train and evaluate honestly."""


class GrainError(Exception):
    """Rows the job was about to commit repeat their table's key: nothing was written."""


class ReportError(Exception):
    """The warehouse holds nothing to report on yet (no nightly run)."""


class SnapshotError(Exception):
    """A snapshot that cannot be served: missing, unreadable or inconsistent files."""


class SparkUnavailableError(RuntimeError):
    """`--engine spark` without the spark extra installed."""


#: How a full disk shows in the messages of DuckDB, dbt and the OS.
_NO_SPACE = ("no space left on device", "disk is full", "not enough space", "out of disk")


def out_of_space(exc: BaseException, where: Path | None = None) -> str | None:
    """One line naming what ran out and where, when ``exc`` (or an error it was raised from)
    is a full disk; None otherwise. ``where`` is the folder the command was writing."""
    seen: BaseException | None = exc
    while seen is not None:
        text = str(seen)
        if (isinstance(seen, OSError) and seen.errno == errno.ENOSPC) or any(
            s in text.lower() for s in _NO_SPACE
        ):
            path = getattr(seen, "filename", None) or where
            folder = Path(path) if path else None
            if folder is not None and not folder.is_dir():
                folder = folder.parent
            mount = _mount_point(folder) if folder else None
            free = shutil.disk_usage(folder).free // 2**20 if folder and folder.exists() else None
            place = f"in {folder}" if folder else "on a device"
            if mount is not None:
                place += f" (filesystem {mount}, {free:,} MB free now)"
            return f"out of disk space {place}: {_first_line(text)}"
        seen = seen.__cause__ or seen.__context__
    return None


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), text)[:300]


def _mount_point(path: Path) -> Path | None:
    path = path.resolve()
    while not path.exists():
        path = path.parent
    while not os.path.ismount(path):
        path = path.parent
    return path


USER_ERRORS: tuple[type[Exception], ...] = (
    SettingsError,
    RawInputError,
    WarehouseBusyError,
    DbtError,
    TrainingDataError,
    GrainError,
    WarehouseMissingError,
    ReportError,
    SnapshotError,
    SparkUnavailableError,
)
