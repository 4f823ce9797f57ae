"""Settings: defaults, the TOML file, VAXEL_* overrides, secrets only from the environment; the clock."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.clock import Clock
from core.settings import CONFIG_DIR, DEFAULTS, SettingsError, load_settings


def test_defaults_use_sqlite_under_var():
    settings = load_settings(environ={})
    assert settings["database"]["url"].startswith("sqlite:///") and settings["database"]["url"].endswith("var/vaxel.db")


def test_toml_then_environment(tmp_path):
    path = tmp_path / "vaxel.toml"
    path.write_text('[service]\nport = 8080\n[database]\nurl = "sqlite:////tmp/x.db"\n')
    settings = load_settings(environ={"VAXEL_CONFIG": str(path), "VAXEL_SERVICE_PORT": "9090",
                                      "VAXEL_CALLBACK_ALLOWED_TYPES": "mobile, fixed_line"})
    assert settings["database"]["url"] == "sqlite:////tmp/x.db"
    assert settings["service"]["port"] == 9090
    assert settings["callback"]["allowed_types"] == ["mobile", "fixed_line"]


@pytest.mark.parametrize("text, message", [
    ('[service]\nsecret_key = "hunter2"\n', "VAXEL_SERVICE_SECRET_KEY"),
    ('[nonsense]\nx = 1\n', "unknown section"),
    ('[service]\nprot = 1\n', "unknown key service.prot"),
    ('[service\n', "vaxel.toml"),
])
def test_bad_settings_files_are_refused_with_the_reason(tmp_path, text, message):
    path = tmp_path / "vaxel.toml"
    path.write_text(text)
    with pytest.raises(SettingsError, match=message):
        load_settings(path, environ={})


def test_bad_environment_value_is_refused():
    with pytest.raises(SettingsError, match="VAXEL_SERVICE_PORT"):
        load_settings(environ={"VAXEL_SERVICE_PORT": "eighty"})


def test_secret_only_from_environment():
    assert load_settings(environ={"VAXEL_SERVICE_SECRET_KEY": "s3cret"})["service"]["secret_key"] == "s3cret"


def test_example_file_documents_every_key():
    with open(CONFIG_DIR / "vaxel.example.toml", "rb") as fh:
        example = tomllib.load(fh)
    for section, values in DEFAULTS.items():
        assert set(values) == set(example.get(section, {})), section
    load_settings(CONFIG_DIR / "vaxel.example.toml", environ={})


def test_vaxel_now_starts_the_clock_there_and_runs_on():
    settings = load_settings(environ={})
    clock = Clock.from_settings(settings, "2026-12-24T10:00:00+01:00")
    now = clock.now()
    assert timedelta(0) <= now - datetime(2026, 12, 24, 10, tzinfo=ZoneInfo("Europe/Stockholm")) < timedelta(seconds=5)


def test_production_ignores_vaxel_now(caplog):
    settings = load_settings(environ={"VAXEL_SERVICE_MODE": "production"})
    clock = Clock.from_settings(settings, "2026-12-24T10:00:00+01:00")
    assert abs(clock.now() - datetime.now(ZoneInfo("UTC"))) < timedelta(seconds=5)
    assert "ignored" in caplog.text
