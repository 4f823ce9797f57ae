"""How people ask: a spoken or typed request reduced to the words the directory knows.

Callers do not talk in keywords. "Jag vill prata med någon om bygglovet, tack"
means *bygglov*; "building permit" on the English line means the same. This
module is the small, explicit Swedish normaliser the search runs first:

* :func:`strip_fillers` drops politeness and filler phrases ("jag vill prata
  med", "tack", "om", "det gäller") — longest phrase first, whole words only;
* :func:`word_forms` gives the forms a word may stand for in the directory:
  itself, then without a definite or genitive ending ("bygglovet" → "bygglov",
  "Olofssons" → "olofsson", "sophämtningen" → "sophämtning");
* :func:`sound_key` folds spellings that sound alike (Lundkvist/Lundqvist,
  Pehrsson/Persson, Mohammed/Mohamed) to one key;
* :class:`Synonyms` maps a site's everyday words and other languages to directory
  terms, from a file the site edits (``config/synonyms.toml``, setting
  ``directory.synonyms_file``), one table per language.

Compound words ("bygglovsansökan") are split by the index, which knows which
beginnings are directory words (:meth:`directory.index.DirectoryIndex._word`).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
import tomllib
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

_WORD = re.compile(r"[0-9a-zåäö]+")
# Letters of neighbouring alphabets typed for Swedish ones, and accents Swedish names carry.
_LETTERS = str.maketrans({"ø": "ö", "æ": "ä", "é": "e", "è": "e", "ê": "e", "ë": "e", "ü": "u", "á": "a", "à": "a",
                          "â": "a", "í": "i", "ó": "o", "ú": "u", "ñ": "n", "ç": "c", "š": "s", "ž": "z",
                          "ć": "c", "č": "c", "đ": "d", "ł": "l", "ś": "s", "ź": "z", "ż": "z", "ń": "n", "ğ": "g",
                          "ş": "s", "ı": "i"})


def words(text: str) -> list[str]:
    """Lower-case words; å, ä and ö stay letters of their own."""
    return _WORD.findall(text.casefold().translate(_LETTERS))


# Politeness and filler phrases, per language; matched as whole words, the longest first.
FILLERS: dict[str, tuple[str, ...]] = {
    "sv": (
        "jag skulle vilja prata med", "jag skulle vilja tala med", "jag skulle vilja komma till",
        "jag skulle vilja ha", "jag skulle vilja", "jag vill prata med", "jag vill tala med", "jag vill komma till",
        "jag vill ha", "jag vill", "kan jag få prata med", "kan jag få tala med", "kan jag få", "får jag prata med",
        "jag söker", "jag letar efter", "jag ska", "jag har frågor om", "jag har en fråga om", "jag har en fråga",
        "jag undrar", "vem har hand om", "den som har hand om", "som har hand om", "har hand om",
        "vem ansvarar för", "ansvarar för", "ansvarig för", "det gäller", "det handlar om", "det är", "är det", "gäller det", "någon som", "någon om",
        "någon på", "någon", "prata med", "tala med", "koppla mig till", "koppla till", "hej", "hallå", "ja",
        "tack", "tack så mycket", "snälla", "vänligen", "om", "angående", "rörande", "beträffande", "för", "med",
        "till", "på", "en", "ett", "min", "mitt", "mina", "vår", "vårt", "er", "ert", "den", "det", "de", "och",
        "eller", "har", "hur", "vad", "vem", "handläggare", "handläggaren", "personen", "avdelningen",
        "enheten", "frågor", "fråga", "ärende", "ärendet", "inte",
    ),
    "en": (
        "i would like to speak to", "i would like to speak with", "i would like to talk to", "i would like",
        "i want to speak to", "i want to talk to", "i want", "can i speak to", "can i talk to", "could i speak to",
        "may i speak to", "i am looking for", "i'm looking for", "i need to", "i need", "i have a question about",
        "it is about", "it's about", "regarding", "about", "please", "thank you", "thanks", "hello", "hi", "yes",
        "someone", "somebody", "anyone", "the", "a", "an", "my", "our", "for", "to", "with", "of", "is", "was",
        "not", "it", "i", "me", "in", "on", "at",
    ),
}

# Definite and genitive endings, the longest first; a form is kept only if the directory knows it.
ENDINGS = ("ernas", "arnas", "ornas", "ens", "ets", "arna", "erna", "orna", "en", "et", "na", "ns", "ts", "s",
           "n", "t")
MIN_STEM = 3

# Spellings that sound alike in Swedish names and words, applied in order to a word without accents.
_SOUNDS = (
    (re.compile(r"qv|kv|qu|q"), "kv"), (re.compile(r"w"), "v"), (re.compile(r"ph"), "f"), (re.compile(r"z"), "s"),
    (re.compile(r"x"), "ks"), (re.compile(r"ck"), "k"), (re.compile(r"c(?=[eiy])"), "s"), (re.compile(r"c"), "k"),
    (re.compile(r"th"), "t"), (re.compile(r"dt"), "t"), (re.compile(r"hr"), "r"), (re.compile(r"gj|dj|hj|lj"), "j"),
    (re.compile(r"sch|skj|stj|sj|ch"), "sj"), (re.compile(r"y(?=[aeiou])"), "j"),
    (re.compile(r"ii"), "i"), (re.compile(r"(.)\1+"), r"\1"), (re.compile(r"e$"), ""),
)
_ACCENTS = str.maketrans("åäöü", "aaou")


def sound_key(word: str) -> str:
    """One key for words that sound alike: 'lundkvist', 'lundqvist' → 'lundkvist'; 'pehrsson' → 'persson'."""
    key = word.casefold().translate(_ACCENTS)
    for pattern, replacement in _SOUNDS:
        key = pattern.sub(replacement, key)
    return key


def word_forms(word: str) -> list[str]:
    """The word, then the word without each definite or genitive ending it has (at least three letters left)."""
    forms = [word]
    for ending in ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= MIN_STEM:
            forms.append(word[: -len(ending)])
    return forms


@functools.lru_cache(maxsize=32)
def _fillers(lang: str, extra: tuple[str, ...]) -> dict[str, list[tuple[str, ...]]]:
    """Filler phrases by their first word, the longest first."""
    by_first: dict[str, list[tuple[str, ...]]] = {}
    for phrase in sorted({tuple(p.split()) for p in FILLERS.get(lang, ()) + extra if p.split()}, key=len,
                         reverse=True):
        by_first.setdefault(phrase[0], []).append(phrase)
    return by_first


def strip_fillers(text: str, lang: str = "sv", extra: tuple[str, ...] = ()) -> list[str]:
    """The words of ``text`` without politeness and filler phrases; all of them if nothing else is left."""
    found = words(text)
    fillers = _fillers(lang, tuple(extra))
    kept: list[str] = []
    i = 0
    while i < len(found):
        phrase = next((p for p in fillers.get(found[i], ()) if tuple(found[i:i + len(p)]) == p), None)
        if phrase:
            i += len(phrase)
        else:
            kept.append(found[i])
            i += 1
    return kept or found


@dataclass
class Synonyms:
    """A site's words for directory terms, per language: ``{"en": {"building permit": "bygglov"}, ...}``."""

    terms: dict[str, dict[tuple[str, ...], list[str]]] = field(default_factory=dict)
    ignore: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_document(cls, doc: dict) -> "Synonyms":
        """From the TOML document: ``[sv]``/``[en]`` tables of phrase = "term" or ["words", ...], and ``ignore``."""
        terms: dict[str, dict[tuple[str, ...], list[str]]] = {}
        ignore: dict[str, tuple[str, ...]] = {}
        for lang, table in doc.items():
            if not isinstance(table, dict):
                raise ValueError(f"[{lang}] must be a table of phrase = directory term")
            for phrase, target in table.items():
                if phrase == "ignore":
                    if not isinstance(target, list) or not all(isinstance(t, str) for t in target):
                        raise ValueError(f"[{lang}] ignore must be a list of phrases")
                    ignore[lang] = tuple(" ".join(words(t)) for t in target if words(t))
                    continue
                said = tuple(words(phrase))
                meant = [target] if isinstance(target, str) else target
                if not said or not isinstance(meant, list) or not all(isinstance(t, str) and words(t) for t in meant):
                    raise ValueError(f"[{lang}] {phrase!r}: give the directory's word, e.g. {phrase!r} = \"bygglov\"")
                terms.setdefault(lang, {})[said] = [w for t in meant for w in words(t)]
        return cls(terms, ignore)

    def apply(self, found: list[str], lang: str) -> list[str]:
        """Replace every known phrase (the longest first) by the directory words it stands for."""
        table = self.terms.get(lang) or {}
        if not table:
            return found
        longest = max(len(k) for k in table)
        out: list[str] = []
        i = 0
        while i < len(found):
            for size in range(min(longest, len(found) - i), 0, -1):
                said = found[i:i + size]
                meant = next((table[k] for k in (tuple(said[:-1]) + (form,) for form in word_forms(said[-1]))
                              if k in table), None)  # "soporna" finds "sopor"
                if meant is not None:
                    out.extend(meant)
                    i += size
                    break
            else:
                out.append(found[i])
                i += 1
        return out

    def phrases(self, lang: str) -> list[str]:
        """The phrases callers say in ``lang`` (speech hints)."""
        return [" ".join(k) for k in (self.terms.get(lang) or {})]


def understand(text: str, lang: str = "sv", synonyms: Synonyms | None = None) -> list[str]:
    """The directory words a request means: synonyms first (they may contain fillers), then fillers dropped."""
    synonyms = synonyms or Synonyms()
    found = synonyms.apply(words(text), lang)
    if lang != "sv":
        found = synonyms.apply(found, "sv")  # a Swedish word said on another line still counts
    text = " ".join(found)
    kept = strip_fillers(text, lang, synonyms.ignore.get(lang, ()))
    if lang != "sv":
        kept = strip_fillers(" ".join(kept), "sv", synonyms.ignore.get("sv", ()))
    return kept


# -- the site's file ---------------------------------------------------------------------------------------------

_lock = threading.Lock()
_loaded: dict[str, tuple[float, Synonyms]] = {}


def synonyms_from(path: str) -> Synonyms:
    """The synonym file, read again when it changes; a missing or broken file is logged and means no synonyms."""
    try:
        mtime = os.stat(path).st_mtime
    except OSError:
        return Synonyms()
    cached = _loaded.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    with _lock:
        try:
            with open(path, "rb") as fh:
                loaded = Synonyms.from_document(tomllib.load(fh))
        except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
            log.error("synonym file %s not used: %s", path, exc)
            loaded = cached[1] if cached else Synonyms()
        _loaded[path] = (mtime, loaded)
        return loaded
