"""Languages of the staff pages: Swedish first, English available (flask-babel, gettext catalogues).

The messages in code and templates are written in Swedish (the msgid is the Swedish text), so Swedish needs no
catalogue and can never show an untranslated key; ``translations/en/LC_MESSAGES/messages.po`` gives English.
The ``.po`` files are the only source: they are compiled to ``.mo`` when the app starts, into a cache folder
keyed by their content, so a fresh clone, ``pip install -e .`` and ``make test`` all run with compiled
catalogues and a stale ``.mo`` can never be served.

A user picks the language with ``?lang=en`` / ``?lang=sv`` (kept in a cookie); otherwise Swedish. Numbers,
dates and durations use Babel's formats for the chosen locale (sv_SE: ``1 234,5``, ``24 nov. 2026``).
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, Response, request
from flask_babel import Babel, format_datetime, format_decimal, format_percent, get_locale

from core.text import translated

SOURCE = Path(__file__).parent / "translations"
LANGUAGES = {"sv": "sv_SE", "en": "en_GB"}
COOKIE = "vaxel_lang"


def compile_catalogues(source: Path = SOURCE) -> Path:
    """Every ``<lang>/LC_MESSAGES/*.po`` under ``source`` compiled into a cache folder named by their content."""
    files = sorted(source.glob("*/LC_MESSAGES/*.po"))
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"vaxel-translations-{digest}"
    for po in files:
        mo = target / po.relative_to(source).with_suffix(".mo")
        if mo.exists():
            continue
        with po.open("rb") as fp:
            catalog = read_po(fp)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)
        mo.parent.mkdir(parents=True, exist_ok=True)
        partial = mo.with_suffix(".tmp")
        partial.write_bytes(buffer.getvalue())
        partial.replace(mo)  # atomic: two processes starting together both end with a whole file
    return target


def select_locale() -> str:
    chosen = request.args.get("lang") or request.cookies.get(COOKIE) or "sv"
    return LANGUAGES.get(chosen, "sv_SE")


def remember_language(response: Response) -> Response:
    chosen = request.args.get("lang")
    if chosen in LANGUAGES and request.cookies.get(COOKIE) != chosen:
        response.set_cookie(COOKIE, chosen, max_age=365 * 86400, samesite="Lax", httponly=True)
    return response


def language() -> str:
    """"sv" or "en": the page's lang attribute and the browser's number formats."""
    locale = get_locale()
    return locale.language if locale is not None else "sv"


def number(value: float | int, digits: int = 0) -> str:
    """A number in the national form: ``1 234,5`` in Swedish."""
    if digits:
        return format_decimal(value, format=f"#,##0.{'0' * digits}")
    return format_decimal(value, format="#,##0")


def percent(value: float) -> str:
    return format_percent(value)


def duration(seconds: float | int | timedelta) -> str:
    """A duration as people read it: ``0:42``, ``12:05``, ``9 h 10 min`` (never ``550:23``)."""
    total = int(seconds.total_seconds() if isinstance(seconds, timedelta) else seconds)
    if total < 3600:
        return f"{total // 60}:{total % 60:02d}"
    hours, minutes = divmod(total // 60, 60)
    return f"{number(hours)} h {minutes} min"


def when(value: datetime, form: str = "short") -> str:
    """A local date and time in the chosen language (``24 nov. 2026 10:00`` in Swedish)."""
    if form == "time":
        return format_datetime(value, "HH:mm")
    if form == "day":
        return format_datetime(value, "EEE d MMM HH:mm")
    return format_datetime(value, "d MMM y HH:mm")


def init_app(app: Flask, timezone: str) -> None:
    try:
        compiled = compile_catalogues()
    except OSError as exc:  # no writable temporary folder: the pages still work, in Swedish
        app.logger.warning("could not compile the translations (%s); the staff pages are in Swedish only", exc)
        compiled = SOURCE
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compiled)
    Babel(app, locale_selector=select_locale, default_locale="sv_SE", default_timezone=timezone)
    app.after_request(remember_language)
    app.jinja_env.filters.update(translated=translated, number=number, percent=percent, duration=duration, when=when)
    app.jinja_env.globals.update(language=language, service_timezone=timezone)
