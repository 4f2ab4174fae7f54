"""Errors that are the user's to fix: the CLI prints them in one line and exits with 2."""

from scoring.config import WarehouseMissingError
from scoring.dbt_runner import DbtError
from scoring.lock import WarehouseBusyError
from scoring.policy import SettingsError
from scoring.rawfiles import RawInputError
from scoring.report import ReportError
from scoring.serving import SnapshotError
from scoring.spark_engine import SparkUnavailableError
from scoring.training import TrainingDataError

USER_ERRORS: tuple[type[Exception], ...] = (
    SettingsError,
    RawInputError,
    WarehouseBusyError,
    DbtError,
    TrainingDataError,
    WarehouseMissingError,
    ReportError,
    SnapshotError,
    SparkUnavailableError,
)
