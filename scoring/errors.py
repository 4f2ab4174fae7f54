"""Errors that are the user's to fix: the CLI prints them in one line and exits with 2.

A light module (no pandas, scikit-learn or matplotlib): every command imports it. The errors of
the heavy modules are defined here and re-exported there.
"""

from scoring.config import WarehouseMissingError
from scoring.dbt_runner import DbtError
from scoring.lock import WarehouseBusyError
from scoring.policy import SettingsError
from scoring.rawfiles import RawInputError


class TrainingDataError(Exception):
    """Not enough labelled data before the decision date to train and evaluate honestly."""


class ReportError(Exception):
    """The warehouse holds nothing to report on yet (no nightly run)."""


class SnapshotError(Exception):
    """A snapshot that cannot be served: missing, unreadable or inconsistent files."""


USER_ERRORS: tuple[type[Exception], ...] = (
    SettingsError,
    RawInputError,
    WarehouseBusyError,
    DbtError,
    TrainingDataError,
    WarehouseMissingError,
    ReportError,
    SnapshotError,
)
