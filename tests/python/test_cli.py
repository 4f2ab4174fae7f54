"""The command line: every subcommand's --help, argument and user errors as one clear line and
an exit code, and commands that stay light (no scikit-learn or matplotlib) when they need none."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from scoring.cli import _parser, main

SUBCOMMANDS = ["build", "train", "nightly", "backfill", "report", "docs", "bench", "serve",
               "lookup", "generate"]  # fmt: skip


def _stderr_lines(capsys: pytest.CaptureFixture) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_the_parser_has_exactly_these_subcommands():
    sub = next(a for a in _parser()._actions if a.dest == "command")
    assert sorted(sub.choices) == sorted(SUBCOMMANDS)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help_of_each_subcommand(command: str, capsys: pytest.CaptureFixture):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: skipcache {command}")
    if command not in {"generate", "bench"}:
        assert "--warehouse" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: command"),
        (["nope"], "argument command: invalid choice: 'nope'"),
        (["nightly", "--date", "2024-13-01"], "argument --date: invalid fromisoformat value"),
        (["lookup", "--track", "x"], "the following arguments are required: --user"),
        (["lookup", "--user", "abc", "--track", "x"], "argument --user: invalid int value"),
        (["build", "--engine", "oracle"], "argument --engine: invalid choice: 'oracle'"),
    ],
)
def test_an_argument_error_is_one_line_after_the_usage(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    lines = _stderr_lines(capsys)
    assert lines[0].startswith("usage: skipcache")
    errors = [line for line in lines if "error:" in line]
    assert len(errors) == 1 and errors[0] == lines[-1]
    assert lines[-1].startswith("skipcache") and message in lines[-1]


def test_a_bad_arm_share_is_one_line_and_exit_2(tmp_path: Path, capsys):
    code = main(["nightly", "--raw-dir", str(tmp_path), "--warehouse",
                 str(tmp_path / "wh.duckdb"), "--arms", "model"])  # fmt: skip
    assert code == 2
    assert _stderr_lines(capsys) == ["skipcache nightly: --arms: 'model' is not name=share"]
    assert not (tmp_path / "wh.duckdb").exists()  # refused before any work


def test_a_report_without_a_warehouse_is_one_line_and_exit_2(tmp_path: Path, capsys):
    assert main(["report", "--warehouse", str(tmp_path / "none.duckdb")]) == 2
    assert _stderr_lines(capsys) == [
        f"skipcache report: {tmp_path / 'none.duckdb'}: no warehouse there; run a build first"
    ]


def test_a_backfill_that_ends_before_it_starts_is_refused(tmp_path: Path, capsys):
    code = main(["backfill", "--raw-dir", str(tmp_path), "--warehouse",
                 str(tmp_path / "wh.duckdb"), "--start", "2024-12-10", "--end", "2024-12-01"])  # fmt: skip
    assert code == 2
    assert _stderr_lines(capsys) == [
        "skipcache backfill: --end 2024-12-01 is before --start 2024-12-10"
    ]


HEAVY = ("sklearn", "matplotlib", "joblib")


def _loaded_after(code: str, *heavy: str) -> set[str]:
    """The heavy top-level packages (``heavy``, or HEAVY) a fresh interpreter has loaded after
    running ``code``."""
    heavy = heavy or HEAVY
    probe = (
        f"{code}\nimport sys\nprint('loaded:', *sorted(m for m in {heavy!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True)  # fmt: skip
    return set(out.stdout.splitlines()[-1].split()[1:])


def test_lookup_loads_no_model_library(tmp_path: Path):
    code = (
        "from scoring.cli import main\n"
        f"assert main(['lookup', '--warehouse', {str(tmp_path / 'wh.duckdb')!r}, "
        "'--user', '1', '--track', 'x']) == 2"
    )
    assert _loaded_after(code) == set()
    # nor pandas: the snapshot's reader (lookup, serve) reads Arrow and numpy only
    assert _loaded_after("import scoring.decide.serving, scoring.decide.service", "pandas") == set()


def test_the_nightly_job_loads_no_model_library_until_it_trains():
    assert _loaded_after("import scoring.ops.nightly, scoring.cli") == set()
    # the probe can see them: the training step does load scikit-learn
    assert "sklearn" in _loaded_after("import scoring.model.model_fit")
