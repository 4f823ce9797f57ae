"""Settings: built-in defaults, then a TOML file, then ``VAXEL_*`` environment variables.

Every key lives in a section (``[database] url``); its environment override is
``VAXEL_<SECTION>_<KEY>`` (``VAXEL_DATABASE_URL``). Secrets are read only from
the environment: a secret found in the TOML file is an error, so it never ends
up in a repository. ``config/vaxel.example.toml`` documents every key.
"""

from __future__ import annotations

import copy
import os
import sys
import tomllib
from pathlib import Path
from typing import Any, Mapping


def _config_dir() -> Path:
    """The shipped configuration files (default flow, demo data, examples): the checkout's ``config/``, else the
    copy ``pip install`` put under ``<prefix>/share/vaxel/config`` (pyproject ``data-files``)."""
    checkout = Path(__file__).resolve().parent.parent / "config"
    if (checkout / "flows" / "default.toml").is_file():
        return checkout
    return Path(sys.prefix) / "share" / "vaxel" / "config"


def _var_dir() -> Path:
    """Where the embedded database and prompt audio live: ``var/`` of the checkout, else of the working directory."""
    checkout = Path(__file__).resolve().parent.parent
    return checkout / "var" if (checkout / "pyproject.toml").is_file() else Path.cwd() / "var"


CONFIG_DIR = _config_dir()
VAR_DIR = _var_dir()

DEFAULTS: dict[str, dict[str, Any]] = {
    "service": {
        "mode": "development",  # "production" ignores VAXEL_NOW
        "host": "127.0.0.1",
        "port": 5000,
        "threads": 32,  # each open console stream holds one; 8 always stay free for calls and pages
        "workers": 1,  # serving processes (`vaxel serve --workers`); README "Several processes"
        "connections": 1000,  # open HTTP connections a serving process accepts (waitress's own default, 100, counts
        # its two internal sockets and starved the 99th caller at a peak: README "Connections at a peak")
        "timezone": "Europe/Stockholm",
        "municipality": "Sjöbacka kommun",
    },
    "database": {
        "url": f"sqlite:///{VAR_DIR / 'vaxel.db'}",
        "echo": False,
        "pool_size": 20,  # PostgreSQL connections kept open per serving process (README "Several processes")
        "max_overflow": 10,  # and opened beyond them at a peak
    },
    "flow": {
        "seed_file": str(CONFIG_DIR / "flows" / "default.toml"),
    },
    "directory": {
        # how callers and operators ask: phrases per language -> directory words (README "Option 1")
        "synonyms_file": str(CONFIG_DIR / "synonyms.toml"),
    },
    "hours": {
        "eve_close": "15:00",  # dag före helgdag closes here; "" disables shortened eves
    },
    "queue": {
        "default_seconds_per_caller": 90,  # estimate when history is too thin
        "history_minutes": 120,  # how far back recent answered calls inform the estimate
        "history_min_calls": 5,
    },
    "numbers": {  # the number policy for everything vaxel dials (directory/numbers.py; README "Number policy")
        "allowed_types": ["fixed_line", "mobile", "fixed_line_or_mobile"],  # allow-list of phonenumbers types
        "region": "SE",  # only numbers of this country (besides the exceptions)
        "exceptions": [],  # E.164 numbers always allowed, e.g. a foreign mobile a named person may forward to
    },
    "callback": {
        "allowed_types": ["fixed_line", "mobile", "fixed_line_or_mobile"],
        "region": "SE",
        "daily_limit": 3,  # requests per number per 24 hours
        "attempts": 3,  # dials per request before it is marked failed (and shown to operators)
        "retry_minutes": 10,  # wait after no answer / busy / failure; retries only within phone hours
        "order": "operator_first",  # operator_first | citizen_first
        "operator_endpoint": "centre",  # where the adapter finds a free operator (operator-first order)
        "present_number": "+46406280400",  # caller id shown to the citizen: the municipality's main number
        "poll_seconds": 5,  # the dispatcher wakes this often
        "lease_seconds": 60,  # a claim by a dispatcher that died is released after this
        "outcome_timeout_seconds": 1800,  # a placed call with no reported outcome by then counts as failed
        "retention_days": 30,  # the number is deleted this long after the request is closed
        "dialer": "",  # the adapter that places calls, "module:factory"; empty = only --dry-run/--simulate
        # pacing: operator first, a wake-up dials only as many as there are free operators (counted by this
        # "module:function"; empty = no limit); citizen first, at most max_dialling out at once (0 = no limit)
        "free_operators": "switchboard.console.operators:free_count",
        "max_dialling": 3,
    },
    "smtp": {  # e-mail for messages to staff and units (callback/mail.py); host "" = e-mail off
        "host": "",  # empty: e-mail off, messages are still listed for the unit
        "port": 25,
        "starttls": False,
        "username": "",
        "password": "",
        "sender": "vaxel@kommun.example",
        "timeout_seconds": 10,
    },
    "public": {
        "url": "",  # the address Twilio reaches this service at (behind a proxy); "" = where a request arrived
    },
    "transfers": {  # README "Answer confirmation"
        "confirm_answer": True,  # whoever answers a transfer presses 1 first, so a voicemail never takes the call;
        # a unit may choose otherwise in the directory
        "confirm_seconds": 6,  # how long the answer confirmation waits for the key
    },
    "twilio": {
        "enabled": False,  # serve the /twilio webhooks; then production needs TWILIO_AUTH_TOKEN
        "validate_signatures": True,  # false only in development, and said loudly at startup
        "voice_sv": "Polly.Astrid",  # <Say> voice for Swedish; "" = Twilio's default
        "voice_en": "Polly.Amy",
        "language_en": "en-GB",  # en-GB or en-US
        "hold_music_url": "",  # audio played to waiting callers; "" = silence
        "hold_seconds": 20,  # silence between queue checks; an idle operator's wait per round
        "transfer_caller_id": "caller",  # caller | called | an E.164 number
        "api_url": "https://api.twilio.com",  # the REST API: Twilio's, a regional edge, or a local double
        "operators": [],  # From values allowed at /twilio/operator, and the operator endpoints the console accepts
        # besides extensions; [] = the line refuses every caller (production refuses to start with Twilio on)
    },
    "reconcile": {  # closing calls the platform no longer has (switchboard/reconcile.py)
        "interval_seconds": 15,  # how often `vaxel serve` looks for stale calls (and once at start-up)
        "stale_seconds": 60,  # no step and no heartbeat for this long: ask the platform (> twilio.hold_seconds)
        "heartbeat_seconds": 15,  # a process holding FastAGI connections proves them alive this often
        "batch": 200,  # stale calls looked at per pass
    },
    "log": {  # core/logs.py; README "Production"
        "format": "text",  # "json": one JSON object per line (call id, channel, step), for a log shipper
        "level": "INFO",  # DEBUG, INFO, WARNING, ERROR
    },
    "metrics": {  # /metrics for Prometheus (switchboard/metrics.py); the token only from VAXEL_METRICS_TOKEN
        "callback_overdue_minutes": 15,  # a callback due this long and not dialled counts as overdue
    },
    "demo": {
        "file": str(CONFIG_DIR / "demo" / "municipality.toml"),
    },
    "asterisk": {
        "agi_host": "127.0.0.1",  # the FastAGI server `vaxel serve` starts (agi://HOST:PORT/incoming)
        "agi_port": 4573,  # 0 disables FastAGI
        "agi_max_calls": 50,  # calls handled at once; more go straight to the dialplan's operator fallback
        # FastAGI bounds (switchboard/asterisk/agi.py AgiBounds): total times, never restarted by a byte arriving.
        # A peer past one is logged, its connection closed and its slot freed; the dialplan takes the caller.
        "agi_env_seconds": 10,  # Asterisk's whole agi_* block, from connect to its blank line
        "agi_reply_seconds": 60,  # the reply to an ordinary command (ANSWER, GET/SET VARIABLE, ...); WAIT FOR
        # DIGIT and GET DATA get this plus their own key timeout
        "agi_long_command_seconds": 14400,  # the reply to EXEC (Dial, Queue: a whole conversation) and to a
        # prompt (STREAM FILE); TCP keepalive finds a dead link long before this
        "dial_template": "PJSIP/{extension}",  # how Dial reaches staff and operators by extension
        "outbound_template": "Local/{number}@vaxel-outbound",  # how Dial reaches an E.164 number (mobiles, callbacks)
        "sounds_dir": str(VAR_DIR / "sounds"),  # prompt audio; Asterisk must be able to read it
        "espeak": "espeak-ng",  # speech synthesiser binary
        "sox": "sox",  # resampler binary
        # speech recognition in option 1 through res_speech (AGI SPEECH commands), e.g. "unimrcp"; "" = none:
        # callers are asked for keys only (extension or the name spelled on the keypad)
        "speech_engine": "",
        "speech_seconds": 6,  # silence after the prompt before the recogniser gives up
    },
    "stats": {  # the definitions behind every figure: stats/definitions.py, README "Statistics"
        "short_abandon_seconds": 5,  # queue hang-ups this quick are neither offered nor abandoned; 0 = off
        "abandoned_in_denominator": True,  # service level = within / (answered + abandoned); false: / answered
        "switchboard_choices": ["person", "fallback", "none"],  # menu choices counted as switchboard calls
        "switchboard_answer_seconds": 15,  # "three rings"
        "switchboard_target_percent": 90,
        "service_answer_seconds": 300,  # customer service (every other queued call)
        "service_target_percent": 90,
        "lost_target_percent": 10,  # abandoned / offered, at most
        "queue_wait_target_seconds": 300,  # average speed of answer, under
        "resolved_target_percent": 80,  # operator wrap-ups "answered by the centre", at least
        "amber_margin_percent": 10,  # amber when a target is missed by less than this share of it
        "retention_days": 90,  # caller numbers in the event log are pseudonymised after this; directory
        # queries (what callers said or keyed) are deleted after it
        "personal_roles": ["admin"],  # roles that see personal figures: per-person reach rates, per-operator
        # handling times, directory queries (stats/views.py); admin, operator, stats
    },
    "ami": {
        "host": "",  # empty: run without AMI (no PBX presence, no Asterisk callbacks)
        "port": 5038,
        "user": "vaxel",  # the secret only from VAXEL_AMI_SECRET
    },
}

SECRETS = {("service", "secret_key"), ("ami", "secret"), ("metrics", "token")}


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
    settings["ami"]["secret"] = None
    settings["metrics"]["token"] = None
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
