"""Installed outside the checkout (a wheel in a fresh virtualenv), vaxel still finds its configuration files,
templates and migrations, and keeps its database under the working directory's ``var/``."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_a_wheel_installed_elsewhere_migrates_seeds_and_finds_its_files(tmp_path):
    wheels, venv, work = tmp_path / "wheels", tmp_path / "venv", tmp_path / "site"
    work.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    target = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                            check=True, capture_output=True, text=True).stdout.strip()
    # --ignore-installed: without it pip would first uninstall the development venv's editable vaxel
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--ignore-installed",
                    "--prefix", str(venv), str(next(wheels.glob("vaxel-*.whl")))],
                   check=True, capture_output=True, timeout=300)
    # our dependencies come from the development venv's site-packages, but not its editable link to the checkout
    # (a .pth file is only read in a site directory, not from PYTHONPATH)
    env = {**os.environ, "PYTHONPATH": f"{target}:{sysconfig.get_paths()['purelib']}"}
    for key in [k for k in env if k.startswith("VAXEL_")]:
        del env[key]
    probe = ("import core.settings as s, switchboard; "
             "print(s.CONFIG_DIR); print(s.VAR_DIR); print(switchboard.__file__)")
    config_dir, var_dir, package = subprocess.run([str(python), "-c", probe], cwd=work, env=env, check=True,
                                                  capture_output=True, text=True).stdout.split()
    assert Path(config_dir) == venv / "share" / "vaxel" / "config"
    assert (Path(config_dir) / "flows" / "default.toml").is_file()
    assert Path(var_dir) == work / "var"
    assert not package.startswith(str(ROOT))
    out = subprocess.run([str(python), "-c", "from switchboard.main import main; main()", "db", "upgrade"], cwd=work,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "seeded published call flow version 1" in out.stdout
    assert (work / "var" / "vaxel.db").is_file()
    out = subprocess.run([str(python), "-c", "from switchboard.main import main; main()", "demo", "load"], cwd=work,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "demo municipality loaded" in out.stdout, out.stderr
