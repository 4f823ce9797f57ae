"""Speech recognition on Asterisk, where the site has it (res_speech, e.g. through UniMRCP).

Asterisk hears speech only through a speech engine: ``[asterisk] speech_engine``
names it ("unimrcp"). A call then opens one recogniser (``SPEECH CREATE``),
loads the directory's words as an SRGS grammar (``SPEECH LOAD GRAMMAR`` /
``ACTIVATE GRAMMAR``) and option 1 listens with ``SPEECH RECOGNIZE``. Without an
engine — or when Asterisk refuses to create one, or cannot load the grammar —
the call is started with ``speech=False`` and the flow asks for keys only: what
a caller is asked must be what the platform can hear.

The grammar is the directory's keywords, names and the site's synonym phrases,
each an ``<item>`` between optional ``GARBAGE`` rules, so "jag vill prata med
Sven Olofsson tack" still matches; it is written beside the prompts
(``<sounds_dir>/grammars/``, a path Asterisk already reads) and rewritten only
when the words change.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from xml.sax.saxutils import escape

from directory.query import synonyms_from
from directory.search import speech_hints
from switchboard.asterisk.agi import AgiChannel

log = logging.getLogger(__name__)

GRAMMAR = "vaxel-directory"
LANGS = {"sv": "sv-SE", "en": "en-GB"}


def grammar_xml(phrases: list[str], lang: str = "sv") -> str:
    """An SRGS 1.0 XML grammar: any one of ``phrases``, with anything (GARBAGE) before and after it."""
    items = "\n".join(f"      <item>{escape(p.strip())}</item>" for p in dict.fromkeys(phrases) if p.strip())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<grammar xmlns="http://www.w3.org/2001/06/grammar" version="1.0" xml:lang="{LANGS.get(lang, lang)}" '
        f'mode="voice" root="{GRAMMAR}">\n'
        f'  <rule id="{GRAMMAR}" scope="public">\n'
        '    <item repeat="0-1"><ruleref special="GARBAGE"/></item>\n'
        "    <one-of>\n"
        f"{items}\n"
        "    </one-of>\n"
        '    <item repeat="0-1"><ruleref special="GARBAGE"/></item>\n'
        "  </rule>\n"
        "</grammar>\n"
    )


def write_grammar(sounds_dir: str, phrases: list[str]) -> str:
    """The grammar file for these phrases, (re)written atomically when its text changed; returns its path."""
    path = Path(sounds_dir) / "grammars" / f"{GRAMMAR}.grxml"
    text = grammar_xml(phrases)
    try:
        if path.read_text(encoding="utf-8") == text:
            return str(path)
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".grammar-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
    return str(path.resolve())


def open_recogniser(channel: AgiChannel, engine: str, grammar_path: str | None, call_id: str) -> bool:
    """Create the call's recogniser and activate the directory grammar; False (logged) if Asterisk cannot."""
    if not engine:
        return False
    if not channel.speech_create(engine):
        log.warning("call %s: Asterisk has no speech engine %r (SPEECH CREATE refused); option 1 takes keys only",
                    call_id, engine)
        return False
    if grammar_path is None or not channel.speech_load_grammar(GRAMMAR, grammar_path) \
            or not channel.speech_activate_grammar(GRAMMAR):
        log.warning("call %s: the speech engine could not load the directory grammar %s; option 1 takes keys only",
                    call_id, grammar_path)
        channel.speech_destroy()
        return False
    return True


def directory_grammar(sessions, settings: dict) -> str | None:
    """The grammar file of today's directory words (see :func:`write_grammar`); None (logged) if it cannot be
    written — the call then takes keys only."""
    try:
        with sessions() as session:
            phrases = speech_hints(session, synonyms_from(settings["directory"]["synonyms_file"]))
        return write_grammar(settings["asterisk"]["sounds_dir"], phrases)
    except Exception:
        log.exception("could not write the directory grammar for speech recognition")
        return None
