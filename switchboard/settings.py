"""Settings: built-in defaults, then a TOML file, then ``VAXEL_*`` environment variables.

Every key lives in a section (``[database] url``); its environment override is
``VAXEL_<SECTION>_<KEY>`` (``VAXEL_DATABASE_URL``). Secrets are read only from
the environment: a secret found in the TOML file is an error, so it never ends
up in a repository. ``config/vaxel.example.toml`` documents every key.
"""

from __future__ import annotations

import copy
import os
import tomllib
from pathlib import Path
from typing import Any, Mapping

REPO_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = REPO_ROOT / "config"

DEFAULTS: dict[str, dict[str, Any]] = {
    "service": {
        "mode": "development",  # "production" ignores VAXEL_NOW
        "host": "127.0.0.1",
        "port": 5000,
        "threads": 8,
        "timezone": "Europe/Stockholm",
        "municipality": "Sjöbacka kommun",
    },
    "database": {
        "url": f"sqlite:///{REPO_ROOT / 'var' / 'vaxel.db'}",
        "echo": False,
    },
    "flow": {
        "seed_file": str(CONFIG_DIR / "flows" / "default.toml"),
    },
    "hours": {
        "eve_close": "15:00",  # dag före helgdag closes here; "" disables shortened eves
    },
    "queue": {
        "default_seconds_per_caller": 90,  # estimate when history is too thin
        "history_minutes": 120,  # how far back recent answered calls inform the estimate
        "history_min_calls": 5,
    },
    "callback": {
        "allowed_types": ["fixed_line", "mobile", "fixed_line_or_mobile"],
        "region": "SE",
        "daily_limit": 3,  # active requests per number per 24 hours
    },
    "demo": {
        "file": str(CONFIG_DIR / "demo" / "municipality.toml"),
    },
}

SECRETS = {("service", "secret_key")}


class SettingsError(ValueError):
    """A settings file or variable that cannot be used; the message says which."""


def _coerce(value: str, default: Any, name: str) -> Any:
    if isinstance(default, bool):
        if value.lower() in {"1", "true", "yes", "on"}:
            return True
        if value.lower() in {"0", "false", "no", "off"}:
            return False
        raise SettingsError(f"{name}={value!r} is not a boolean")
    if isinstance(default, int):
        try:
            return int(value)
        except ValueError:
            raise SettingsError(f"{name}={value!r} is not an integer") from None
    if isinstance(default, list):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def load_settings(
    path: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, dict[str, Any]]:
    """Merge defaults, the TOML file (``path`` or ``$VAXEL_CONFIG``), the environment and overrides."""
    environ = os.environ if environ is None else environ
    settings = copy.deepcopy(DEFAULTS)
    settings["service"]["secret_key"] = None
    path = path or environ.get("VAXEL_CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise SettingsError(f"settings file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings file {path}: {exc}") from None
        for section, values in data.items():
            if section not in settings or not isinstance(values, dict):
                raise SettingsError(f"{path}: unknown section [{section}]")
            for key, value in values.items():
                if (section, key) in SECRETS:
                    raise SettingsError(
                        f"{path}: {section}.{key} is a secret; set VAXEL_{section.upper()}_{key.upper()} instead"
                    )
                if key not in settings[section]:
                    raise SettingsError(f"{path}: unknown key {section}.{key}")
                settings[section][key] = value
    for section, values in settings.items():
        for key, default in values.items():
            name = f"VAXEL_{section.upper()}_{key.upper()}"
            if name in environ:
                settings[section][key] = _coerce(environ[name], default, name)
    for section, values in (overrides or {}).items():
        settings.setdefault(section, {}).update(values)
    return settings
