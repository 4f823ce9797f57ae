"""The layers hold (README "Architecture"): import-linter's contracts in pyproject.toml, imports inside
functions included — and the check itself can fail, shown on a copy of the code with violations planted."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("core", "ivr", "directory", "stats", "callback", "switchboard")
LINT = Path(sys.executable).with_name("lint-imports")


def lint(root: Path) -> subprocess.CompletedProcess:
    """lint-imports on the packages under ``root``, with the contracts from our pyproject.toml."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_contracts_name_every_package_and_the_layers_hold():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    on_disk = sorted(p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name not in ("tests", "benchmarks"))
    assert sorted(config["root_packages"]) == on_disk
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    assert sorted(layers) == on_disk and layers[-1] == "core"
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.fixture
def planted(tmp_path):
    """A copy of our packages; a test plants a violation in it."""
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.html",
                                                                                        "static", "templates"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert lint(tmp_path).returncode == 0  # the copy is clean before we plant anything
    return tmp_path


def plant(root: Path, module: str, code: str) -> None:
    path = root / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + "\n\n" + code + "\n")


def test_an_upward_import_inside_a_function_is_caught(planted):
    plant(planted, "ivr.engine", "def _reach_up():\n    from switchboard import app  # noqa\n    return app")
    result = lint(planted)
    assert result.returncode == 1
    assert "ivr.engine -> switchboard.app" in result.stdout


def test_the_domain_importing_telephony_is_caught(planted):
    plant(planted, "stats.report", "def _ring():\n    import twilio.rest  # noqa\n    return twilio.rest")
    result = lint(planted)
    assert result.returncode == 1
    assert "stats.report -> twilio" in result.stdout


def test_the_base_importing_a_domain_package_is_caught(planted):
    plant(planted, "core.clock", "def _peek():\n    import directory.models  # noqa\n    return directory")
    result = lint(planted)
    assert result.returncode == 1
    assert "core.clock -> directory.models" in result.stdout
