"""The commands' shared pieces: the usage-error exit and the options several commands define."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from fer_core.cli.options import add_weights_option, exits_on_error
from fer_core.cli.pack_dataset import main as pack_dataset
from fer_core.cli.report import main as report
from fer_core.cli.watch import main as watch
from fer_core.errors import FerCoreError, ModelNotFoundError


def _parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(prog="fer-core test")


def test_a_library_error_is_a_usage_error_with_its_message(capsys):
    with pytest.raises(SystemExit) as done, exits_on_error(_parser()):
        raise ModelNotFoundError("no model named 'nope' in models/")
    assert done.value.code == 2
    assert capsys.readouterr().err == "error: no model named 'nope' in models/\n"


def test_other_errors_pass_through_unless_named(capsys):
    with pytest.raises(ValueError, match="not ours"), exits_on_error(_parser()):
        raise ValueError("not ours")
    with pytest.raises(FerCoreError), exits_on_error(_parser(), ValueError):
        raise FerCoreError("only ValueError is named")
    with pytest.raises(SystemExit) as done, exits_on_error(_parser(), (FerCoreError, OSError)):
        raise FileNotFoundError("missing.npz")
    assert done.value.code == 2 and capsys.readouterr().err == "error: missing.npz\n"
    with exits_on_error(_parser()):
        finished = True
    assert finished


def test_a_command_exits_2_on_a_library_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        pack_dataset(["--data", str(tmp_path / "none"), "--out", str(tmp_path / "x.npz")])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and str(tmp_path / "none") in err
    assert not (tmp_path / "x.npz").exists()


def test_commands_that_document_exit_1_give_it_for_a_database_they_cannot_open(tmp_path, capsys):
    # A database under a file cannot be created: the work fails, not the command line.
    (tmp_path / "file").write_text("")
    db = str(tmp_path / "file" / "sessions.db")
    for command, args in (
        (watch, ["rtsp://127.0.0.1:9/cam", "--event", "Open day", "--db", db]),
        (report, ["1", "--out", str(tmp_path / "report"), "--db", db]),
    ):
        with pytest.raises(SystemExit) as done:
            command(args)
        assert done.value.code == 1
        err = capsys.readouterr().err
        assert err.startswith("error: cannot open the session database") and db in err
    assert not (tmp_path / "report").exists()


def test_the_weights_option_takes_its_choices_only(capsys):
    parser = _parser()
    add_weights_option(parser)
    assert parser.parse_args([]).weights == "float32"
    for choice in ("float32", "float16", "int8"):
        assert parser.parse_args(["--weights", choice]).weights == choice
    with pytest.raises(SystemExit) as done:
        parser.parse_args(["--weights", "float64"])
    assert done.value.code == 2
    assert "argument --weights: invalid choice: 'float64'" in capsys.readouterr().err


def test_the_shared_module_loads_no_heavy_library():
    code = (
        "import sys, fer_core.cli.options; "
        "print(sorted(m for m in ('keras', 'tensorflow', 'numpy') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
