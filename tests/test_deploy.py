"""The deployment files: systemd units verified by systemd itself, the Dockerfile linted by hadolint, the compose
file and the alert rules parsed and checked for what a site depends on (``docker build`` is not possible here)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
UNITS = sorted((ROOT / "deploy" / "systemd").glob("vaxel*.*"))  # services and the backup timer
VAXEL = str(Path(sys.executable).parent / "vaxel")
HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
             "User": "vaxel", "CapabilityBoundingSet": "", "RestrictSUIDSGID": "yes"}


def unit_settings(path: Path) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in path.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_a_unit_for_the_service_the_dispatcher_and_the_statistics_jobs_each_hardened():
    commands = {}
    for unit in UNITS:
        if unit.suffix != ".service":
            continue
        settings = unit_settings(unit)
        for key, value in HARDENING.items():
            assert settings.get(key) == [value], (unit.name, key)
        if unit.name == "vaxel-backup.service":
            assert settings["Type"] == ["oneshot"] and "pg_dump --format=custom" in settings["ExecStart"][0]
            continue
        assert settings["Restart"] == ["always"]
        commands[unit.name] = settings["ExecStart"][0].split("/bin/vaxel ")[1]
    assert commands == {"vaxel.service": "serve", "vaxel-callbacks.service": "callbacks run",
                        "vaxel-stats.service": "stats run"}
    assert unit_settings(ROOT / "deploy" / "systemd" / "vaxel-backup.timer")["Persistent"] == ["true"]


def _installed_units(tmp_path: Path, text_of=lambda text: text) -> list[Path]:
    """The units as a site installs them, with ExecStart pointing at this venv's vaxel (systemd checks it exists)."""
    paths = []
    for unit in UNITS:
        path = tmp_path / unit.name
        path.write_text(text_of(unit.read_text().replace("/opt/vaxel/venv/bin/vaxel", VAXEL)))
        paths.append(path)
    return paths


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_verifies_the_units_and_rates_their_exposure_ok(tmp_path):
    units = _installed_units(tmp_path)
    verified = subprocess.run(["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True,
                              timeout=60)
    assert verified.returncode == 0 and verified.stderr == "", verified.stderr
    for unit in (u for u in units if u.suffix == ".service"):
        security = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)], capture_output=True,
                                  text=True, timeout=60)
        exposure = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", security.stdout)
        assert exposure and float(exposure.group(1)) <= 2.0, (unit.name, security.stdout[-300:])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here")
def test_systemd_verify_would_catch_a_broken_unit(tmp_path):
    """systemd only warns about a misspelt hardening key (and exits 0): so the test above wants no output at all."""
    broken = _installed_units(tmp_path, lambda text: text.replace("NoNewPrivileges=", "NoNewPrivilege="))
    verified = subprocess.run(["systemd-analyze", "verify", *map(str, broken)], capture_output=True, text=True,
                              timeout=60)
    assert "Unknown key 'NoNewPrivilege'" in verified.stderr


def test_the_dockerfile_passes_hadolint_and_builds_a_slim_non_root_image_with_the_speech_tools():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    linted = subprocess.run([hadolint, "--no-color", str(ROOT / "Dockerfile")], capture_output=True, text=True,
                            timeout=60)
    assert linted.returncode == 0 and linted.stdout == "", linted.stdout + linted.stderr
    dockerfile = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^FROM (\S+)", dockerfile, re.M)
    assert bases and all("slim" in base for base in bases)
    final = dockerfile.rsplit("\nFROM ", 1)[1]
    user = re.findall(r"^USER (\S+)", final, re.M)
    assert user and user[-1].split(":")[0] not in ("0", "root")
    assert re.search(r"apt-get install .*--no-install-recommends espeak-ng sox", final)
    assert re.search(r"^EXPOSE 5000 4573$", final, re.M) and "HEALTHCHECK" in final and "/healthz" in final
    assert re.search(r'^CMD \["vaxel", "serve"\]$', final, re.M)


def test_hadolint_would_catch_a_root_image(tmp_path):
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    bad = tmp_path / "Dockerfile"
    bad.write_text((ROOT / "Dockerfile").read_text().replace("USER 10001:10001", "USER root"))
    linted = subprocess.run([hadolint, "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert linted.returncode != 0 and "DL3002" in linted.stdout


def test_the_compose_file_runs_vaxel_the_dispatcher_and_postgresql_in_order():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())  # resolves the x-vaxel anchors as compose does
    services = compose["services"]
    assert {"postgres", "migrate", "vaxel", "dispatcher", "stats"} <= set(services)
    commands = {name: services[name]["command"] for name in ("migrate", "vaxel", "dispatcher", "stats")}
    assert commands == {"migrate": ["vaxel", "db", "upgrade"], "vaxel": ["vaxel", "serve"],
                        "dispatcher": ["vaxel", "callbacks", "run"], "stats": ["vaxel", "stats", "run"]}
    assert services["postgres"]["image"].startswith("postgres:") and "healthcheck" in services["postgres"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("vaxel", "dispatcher", "stats"):
        service = services[name]
        assert service["depends_on"] == {"migrate": {"condition": "service_completed_successfully"}}
        env = service["environment"]
        assert env["VAXEL_SERVICE_MODE"] == "production"
        assert env["VAXEL_DATABASE_URL"].startswith("postgresql+psycopg://") and "@postgres:5432/" in env[
            "VAXEL_DATABASE_URL"]
        for secret in ("VAXEL_SERVICE_SECRET_KEY", "VAXEL_STATS_PSEUDONYM_KEY", "VAXEL_METRICS_TOKEN"):
            assert re.fullmatch(r"\$\{" + secret + r":\?[^}]+\}", env[secret]), secret  # required, never inline
    assert services["vaxel"]["ports"][0].startswith("127.0.0.1:5000:")  # only the local HTTPS proxy reaches it
    assert services["vaxel"]["ports"][1].endswith(":4573:4573")
    assert "pgdata:/var/lib/postgresql/data" in services["postgres"]["volumes"]


ALERTS = ("VaxelNobodyLoggedIn", "VaxelLongestWaitOverTarget", "VaxelAmiDown", "VaxelCallbacksOverdue")


def test_the_alert_rules_name_only_metrics_that_vaxel_exposes(app, client):
    from tests.test_metrics import EXPOSED_ONLY_UNDER_SERVE

    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "vaxel-alerts.yml").read_text())
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    assert set(ALERTS) <= set(alerts)
    exposed = client.get("/metrics").get_data(as_text=True)
    names = set(re.findall(r"^(vaxel_\w+)", exposed, re.M)) | EXPOSED_ONLY_UNDER_SERVE
    for name, rule in alerts.items():
        assert {"expr", "labels", "annotations"} <= set(rule) and rule["labels"]["severity"] in ("critical",
                                                                                                  "warning")
        for metric in re.findall(r"\b(vaxel_\w+)", rule["expr"]):
            assert metric in names, (name, metric)
