"""Which texts become audio ahead of calls, and how a spoken text is cut into files.

``vaxel prompts build`` (and :func:`rebuild_after_publish`, called by the admin's publish)
synthesises every fixed prompt text of the published flow in each of its
languages, the fallback sentence, and the pieces of the queue message: its
fixed words and the numbers 0-100, so "Du är nummer 3 i kön. Beräknad väntetid
är ungefär 5 minuter." is played from prebuilt files — the message callers hear
most never waits on a synthesiser. Other texts with names or hours in them are
synthesised at their first use (see :mod:`switchboard.asterisk.audio`).
"""

from __future__ import annotations

import logging
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ivr import speech
from ivr.flow import Flow, placeholders
from ivr.protocol import Say
from switchboard.asterisk.audio import AudioLibrary, EspeakSox, SynthesisError
from switchboard.calls import FALLBACK_TEXT  # what the runner says when our own error sends a caller to the centre

log = logging.getLogger(__name__)

SPLIT_PROMPTS = {"queue_position"}  # said from prebuilt pieces: fixed words + numbers
MAX_NUMBER = 100
SAMPLE_WAITS = (30, 60, 180)  # "mindre än en minut", "ungefär 1 minut", "ungefär 3 minuter"
_NUMBER = re.compile(r"(\d+)")


def pieces(say: Say) -> list[str]:
    """The texts to play, in order, for one Say: whole, or cut around numbers for the queue message."""
    if say.prompt not in SPLIT_PROMPTS:
        return [say.text.strip()] if say.text.strip() else []
    return [p.strip() for p in _NUMBER.split(say.text) if p.strip()]


def _fixed(template: str) -> bool:
    """No ``{name}`` to fill in (parsed as the engine renders, so a stored text with stray braces never raises)."""
    return not placeholders(template)


def texts_of_flow(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (text, lang) worth building ahead for this flow document, without duplicates, in a stable order."""
    flow = Flow(doc)
    wanted: dict[tuple[str, str], None] = {}
    for lang in flow.languages:
        for prompt, texts in sorted(doc.get("prompts", {}).items()):
            template = (texts or {}).get(lang) or ""
            if template.strip() and _fixed(template):
                wanted[(flow.text(prompt, lang), lang)] = None
        if lang in FALLBACK_TEXT:
            wanted[(FALLBACK_TEXT[lang], lang)] = None
        for prompt in SPLIT_PROMPTS:
            if not (doc.get("prompts", {}).get(prompt) or {}).get(lang):
                continue
            for wait in SAMPLE_WAITS:
                say = Say(prompt, flow.text(prompt, lang, position=7, wait=speech.wait(wait, lang)), lang)
                for piece in pieces(say):
                    if not piece.isdigit():
                        wanted[(piece, lang)] = None
        for number in range(MAX_NUMBER + 1):
            wanted[(str(number), lang)] = None
    return list(wanted)


@dataclass
class BuildReport:
    built: int = 0
    existing: int = 0
    failed: list[str] = field(default_factory=list)

    def line(self, where: str) -> str:
        text = f"{self.built} audio files built, {self.existing} already there, in {where}"
        return text + (f"; {len(self.failed)} failed: {self.failed[0]}" if self.failed else "")


def build(library: AudioLibrary, texts: Iterable[tuple[str, str]], workers: int = 4) -> BuildReport:
    """Synthesise what is missing, a few at a time (espeak-ng and sox are single-threaded processes)."""
    report, lock = BuildReport(), threading.Lock()

    def one(item: tuple[str, str]) -> None:
        text, lang = item
        try:
            made = library.make(text, lang)
        except SynthesisError as exc:
            with lock:
                report.failed.append(f"{lang} {text[:40]!r}: {exc}")
            return
        with lock:
            if made:
                report.built += 1
            else:
                report.existing += 1

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="vaxel-tts") as pool:
        list(pool.map(one, texts))
    return report


def library_from_settings(settings: dict) -> AudioLibrary:
    ast = settings["asterisk"]
    return AudioLibrary(ast["sounds_dir"], EspeakSox(ast["espeak"], ast["sox"]))


def build_flow(settings: dict, doc: dict[str, Any], library: AudioLibrary | None = None) -> BuildReport:
    """Build the audio for one flow document into the sounds directory named in settings."""
    return build(library or library_from_settings(settings), texts_of_flow(doc))


def on_flow_published(settings: dict, doc: dict[str, Any] | None = None) -> threading.Thread:
    """Rebuild the prompts in the background (``doc``, or the published flow); logs, never raises, never blocks."""

    def work() -> None:
        try:
            report = build_flow(settings, doc if doc is not None else _published_document(settings))
            log.info("prompts rebuilt after publish: %s", report.line(settings["asterisk"]["sounds_dir"]))
            for problem in report.failed:
                log.error("prompt audio failed: %s", problem)
        except Exception:
            log.exception("rebuilding prompt audio after publish failed; texts will be synthesised on first use")

    thread = threading.Thread(target=work, name="vaxel-prompts", daemon=True)
    thread.start()
    return thread


def rebuild_after_publish(settings: dict) -> threading.Thread | None:
    """What the admin's publish calls (``switchboard/admin/flow.py``): rebuild if this site plays prompts on Asterisk.

    A site uses Asterisk prompts once ``vaxel prompts build`` has made the sounds
    directory; without it (Twilio only, tests) publishing builds nothing.
    """
    if not Path(settings["asterisk"]["sounds_dir"]).is_dir():
        log.debug("no sounds directory %s: prompt audio not rebuilt", settings["asterisk"]["sounds_dir"])
        return None
    return on_flow_published(settings)


def _published_document(settings: dict) -> dict[str, Any]:
    from core.db import make_engine, make_sessionmaker
    from switchboard.seed import published_flow

    engine = make_engine(settings["database"]["url"])
    try:
        with make_sessionmaker(engine)() as session:
            version = published_flow(session)
            if version is None:
                raise RuntimeError("no published call flow")
            return version.document
    finally:
        engine.dispose()
