"""Fixtures of the package's tests: the project's test-data/ and the dicomprep CLI to hold
results against (DICOMPREP_CLI, the native binary `cargo test` built; else the wheel's
command)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def data() -> Path:
    path = Path(os.environ.get("DICOMPREP_TEST_DATA", ROOT / "test-data"))
    assert path.is_dir(), f"{path}: the project's test-data/ is missing"
    return path


@pytest.fixture(scope="session")
def cli():
    """Runs the dicomprep CLI with arguments; returns its stdout (fails on a non-zero exit)."""
    program = os.environ.get("DICOMPREP_CLI") or shutil.which("dicomprep")
    assert program, "no dicomprep command: set DICOMPREP_CLI or install the wheel"

    def run(*args, check=True):
        done = subprocess.run([program, *map(str, args)], capture_output=True, text=True)
        if check:
            assert done.returncode == 0, done.stderr
        return done

    return run


@pytest.fixture(scope="session")
def cli_json(cli):
    def run(*args):
        return json.loads(cli(*args).stdout)

    return run
