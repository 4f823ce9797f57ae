"""An in-memory search index over the directory, rebuilt when the directory changes.

Why our own index and not SQLite FTS5 / PostgreSQL trigrams: both databases must
give the same answers, the ranking rules are Swedish-specific (å, ä and ö are
letters of their own, yet a query typed without them still finds the entry,
ranked lower), and 10,000 people with 30,000 keywords fit in a few megabytes.
A query then costs a dictionary lookup, a bisect for prefixes and, for words of
four letters or more, one rapidfuzz pass for typos.

Ranking, per query word: exact > prefix > the same without å/ä/ö > one or two
letters wrong; weighted by where it matched (own keyword or name over unit
keyword over title over unit name). Every word must match something.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field

import phonenumbers
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from directory.models import DirectoryVersion, Keyword, Staff, Unit

KEYWORD, NAME, UNIT_KEYWORD, TITLE, UNIT_NAME = 100.0, 100.0, 60.0, 45.0, 40.0
EXACT, PREFIX, ASCII_EXACT, ASCII_PREFIX, FUZZY = 1.0, 0.75, 0.7, 0.55, 0.45
WHERE_ORDER = {"keyword": 4, "name": 3, "unit": 2, "title": 1}  # which to report when two fields tie
PHRASE_BONUS = 50.0  # the whole query is a keyword or the whole name
NUMBER_EXACT, NUMBER_PREFIX, T9_EXACT, T9_PREFIX = 200.0, 80.0, 100.0, 70.0

_ASCII = str.maketrans("åäö", "aao")
_T9 = {c: d for d, letters in {"2": "abcåä", "3": "def", "4": "ghi", "5": "jkl", "6": "mnoö", "7": "pqrs",
                                "8": "tuv", "9": "wxyz"}.items() for c in letters}
_WORD = re.compile(r"[0-9a-zåäö]+")
# Letters of neighbouring alphabets typed for Swedish ones, and accents Swedish names carry.
_LETTERS = str.maketrans({"ø": "ö", "æ": "ä", "é": "e", "è": "e", "ê": "e", "ë": "e", "ü": "u", "á": "a", "à": "a",
                          "â": "a", "í": "i", "ó": "o", "ú": "u", "ñ": "n", "ç": "c", "š": "s", "ž": "z"})


def words(text: str) -> list[str]:
    """Lower-case words; å, ä and ö stay letters of their own."""
    return _WORD.findall(text.casefold().translate(_LETTERS))


def fold(text: str) -> str:
    return " ".join(words(text))


def ascii_fold(word: str) -> str:
    return word.translate(_ASCII)


def keypad(word: str) -> str:
    """A word as keys on a phone's keypad (dial-by-name): 'åberg' -> '22374'."""
    return "".join(_T9.get(c, "") for c in word)


def number_keys(raw: str) -> list[str]:
    """The forms a number can be searched by: as written, digits only, E.164 and national digits."""
    raw = raw.strip()
    digits = re.sub(r"\D", "", raw)
    keys = {raw, digits} if digits else {raw}
    if raw.startswith("+") or (digits.startswith("0") and len(digits) > 5):
        try:
            parsed = phonenumbers.parse(raw, "SE")
            e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
            keys |= {e164, "0" + str(parsed.national_number)}
        except phonenumbers.NumberParseException:
            pass
    return [k for k in keys if k]


def is_extension(raw: str) -> bool:
    """An internal extension (a few digits, no country or area code), as opposed to a number callers could dial."""
    return bool(re.fullmatch(r"\d{1,6}", raw.strip()))


@dataclass
class Entry:
    """What a search result shows, kept with the index so a search reads no directory rows."""

    staff_id: int
    external_id: str
    name: str
    kind: str
    unit_id: int
    title: str = ""
    extension: str | None = None
    phone: str | None = None
    mobile: str | None = None
    hidden_number: bool = False
    email: str = ""
    notes: str = ""
    keywords: list[str] = field(default_factory=list)
    unit_path: list[str] = field(default_factory=list)  # förvaltning first
    unit_slugs: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    departments: dict[str, str] = field(default_factory=dict)  # forvaltning/avdelning/enhet -> unit id


@dataclass(frozen=True)
class Candidate:
    staff_id: int
    score: float
    how: str  # keyword | name | number | keypad | fuzzy ... the best kind of match, for the IVR's choice


class DirectoryIndex:
    def __init__(self) -> None:
        self.entries: dict[int, Entry] = {}
        self.tokens: dict[str, dict[int, dict[str, float]]] = defaultdict(dict)  # word -> staff -> field -> weight
        self.phrases: dict[str, set[int]] = defaultdict(set)  # whole keyword or name -> staff
        self.numbers: dict[str, set[int]] = defaultdict(set)
        self.keypad: dict[str, set[int]] = defaultdict(set)
        self.sorted_tokens: list[str] = []
        self.by_ascii: dict[str, set[str]] = defaultdict(set)
        self.sorted_ascii: list[str] = []
        self.sorted_numbers: list[str] = []
        self.sorted_keypad: list[str] = []
        self.by_unit: dict[int, list[int]] = defaultdict(list)  # unit -> its people, by name

    # -- building ---------------------------------------------------------------------------

    def _add_text(self, staff_id: int, text: str, weight: float, where: str) -> None:
        for word in words(text):
            fields = self.tokens[word].setdefault(staff_id, {})
            fields[where] = max(fields.get(where, 0.0), weight)

    def add(self, staff: Staff, unit_keywords: dict[int, list[str]], units: dict[int, Unit]) -> None:
        chain = _chain(units, staff.unit_id)[::-1]
        entry = Entry(staff.id, staff.external_id, staff.name, staff.kind, staff.unit_id, staff.title,
                      staff.extension, staff.phone, staff.mobile, staff.hidden_number, staff.email, staff.notes,
                      [k.term for k in staff.keywords], [u.name for u in chain], [u.slug for u in chain],
                      departments=departments_of(chain))
        self.entries[staff.id] = entry
        if staff.kind == "person":
            self.by_unit[staff.unit_id].append(staff.id)
        self._add_text(staff.id, staff.name, NAME, "name")
        self.phrases[fold(staff.name)].add(staff.id)
        for keyword in staff.keywords:
            self._add_text(staff.id, keyword.term, KEYWORD, "keyword")
            self.phrases[fold(keyword.term)].add(staff.id)
        self._add_text(staff.id, staff.title, TITLE, "title")
        for unit in _chain(units, staff.unit_id):
            self._add_text(staff.id, unit.name, UNIT_NAME, "unit")
            for term in unit_keywords.get(unit.id, ()):
                self._add_text(staff.id, term, UNIT_KEYWORD if unit.id == staff.unit_id else UNIT_NAME, "unit")
        for raw in [staff.extension, staff.phone, staff.mobile, *(n.value for n in staff.numbers)]:
            if raw and staff.hidden_number and raw != staff.extension and not is_extension(raw):
                continue  # hidden means hidden: a reverse lookup must not confirm whose number it is
            if raw:
                entry.numbers.append(raw)
                for key in number_keys(raw):
                    self.numbers[key].add(staff.id)
        if staff.kind == "person":
            for word in words(staff.name):
                self.keypad[keypad(word)].add(staff.id)

    def finish(self) -> "DirectoryIndex":
        for members in self.by_unit.values():
            members.sort(key=lambda sid: self.entries[sid].name)
        self.sorted_tokens = sorted(self.tokens)
        for token in self.tokens:
            self.by_ascii[ascii_fold(token)].add(token)
        self.sorted_ascii = sorted(self.by_ascii)
        self.sorted_numbers = sorted(self.numbers)
        self.sorted_keypad = sorted(self.keypad)
        return self

    # -- searching --------------------------------------------------------------------------

    @staticmethod
    def _prefixed(ordered: list[str], prefix: str, limit: int = 2000) -> list[str]:
        start = bisect.bisect_left(ordered, prefix)
        found = []
        for token in ordered[start:start + limit]:
            if not token.startswith(prefix):
                break
            found.append(token)
        return found

    def _word(self, word: str) -> dict[int, tuple[float, str]]:
        """Every entry the word matches: its best score (plus a tenth of matches in other fields) and how."""
        fields: dict[int, dict[str, float]] = defaultdict(dict)  # staff -> where -> best score

        def offer(token: str, factor: float, fuzzy: bool = False) -> None:
            for staff_id, weights in self.tokens.get(token, {}).items():
                for where, weight in weights.items():
                    where = "fuzzy" if fuzzy else where
                    score = weight * factor
                    if fields[staff_id].get(where, 0.0) < score:
                        fields[staff_id][where] = score

        offer(word, EXACT)
        for token in self._prefixed(self.sorted_tokens, word):
            if token != word:
                offer(token, PREFIX)
        plain = ascii_fold(word)
        if plain == word:  # typed without å/ä/ö: find the entries that have them, ranked lower
            for token in self.by_ascii.get(word, ()):
                if token != word:
                    offer(token, ASCII_EXACT)
            for folded in self._prefixed(self.sorted_ascii, word):
                for token in self.by_ascii[folded]:
                    if not token.startswith(word) and folded != word:
                        offer(token, ASCII_PREFIX)
        if len(word) >= 4:
            limit = 1 if len(word) < 7 else 2
            for folded, distance, _ in process.extract(plain, self.sorted_ascii, scorer=Levenshtein.distance,
                                                       score_cutoff=limit, limit=100):
                if distance:
                    for token in self.by_ascii[folded]:
                        offer(token, FUZZY - 0.05 * (distance - 1), fuzzy=True)
        best = {}
        for staff_id, scores in fields.items():
            where, top = max(scores.items(), key=lambda item: (item[1], WHERE_ORDER.get(item[0], 0)))
            best[staff_id] = (top + 0.1 * (sum(scores.values()) - top), where)
        return best

    def search(self, query: str, limit: int = 50) -> list[Candidate]:
        text = query.strip()
        if not text:
            return []
        if re.fullmatch(r"[+\d][\d\s()-]*", text):
            return self.search_number(text, limit)
        query_words = words(text)
        if not query_words:
            return []
        totals: dict[int, float] = {}
        hows: dict[int, str] = {}
        for i, word in enumerate(query_words):
            matched = self._word(word)
            if i == 0:
                totals = {sid: score for sid, (score, _) in matched.items()}
                hows = {sid: how for sid, (_, how) in matched.items()}
            else:
                totals = {sid: total + matched[sid][0] for sid, total in totals.items() if sid in matched}
            if not totals:
                return []
        for staff_id in self.phrases.get(fold(text), ()):
            if staff_id in totals:
                totals[staff_id] += PHRASE_BONUS
        ranked = sorted(totals.items(), key=lambda item: (-item[1], self.entries[item[0]].name))
        return [Candidate(sid, score, hows[sid]) for sid, score in ranked[:limit]]

    def search_number(self, text: str, limit: int = 50) -> list[Candidate]:
        """Reverse lookup: an extension or a number in any format; prefixes while typing.

        Numbers of entries marked ``hidden_number`` are never indexed (only their extension), so no format of
        such a number — E.164, national, spaced, a prefix of it — can confirm whose it is."""
        found: dict[int, float] = {}
        for key in number_keys(text):
            for staff_id in self.numbers.get(key, ()):
                found[staff_id] = NUMBER_EXACT
        digits = re.sub(r"\D", "", text)
        if len(digits) >= 2:
            for key in self._prefixed(self.sorted_numbers, digits, 500):
                for staff_id in self.numbers[key]:
                    found.setdefault(staff_id, NUMBER_PREFIX)
        ranked = sorted(found.items(), key=lambda item: (-item[1], self.entries[item[0]].name))
        return [Candidate(sid, score, "number") for sid, score in ranked[:limit]]

    def search_keypad(self, digits: str, limit: int = 10) -> list[Candidate]:
        """Dial-by-name: the keys of a first name or surname, or its beginning (at least three keys)."""
        if len(digits) < 3:
            return []
        found: dict[int, float] = {}
        for staff_id in self.keypad.get(digits, ()):
            found[staff_id] = T9_EXACT
        for key in self._prefixed(self.sorted_keypad, digits, 500):
            for staff_id in self.keypad[key]:
                found.setdefault(staff_id, T9_PREFIX)
        ranked = sorted(found.items(), key=lambda item: (-item[1], self.entries[item[0]].name))
        return [Candidate(sid, score, "keypad") for sid, score in ranked[:limit]]


def departments_of(chain: list[Unit]) -> dict[str, str]:
    """Förvaltning, avdelning and enhet of a unit path (top first), for statistics per department."""
    found: dict[str, str] = {}
    for unit in chain:
        if unit.kind in ("forvaltning", "avdelning", "enhet"):
            found.setdefault(unit.kind, unit.slug)
    if "forvaltning" not in found and chain:
        found["forvaltning"] = chain[0].slug  # an unclassified tree: its top is the department
    return found


def _chain(units: dict[int, Unit], unit_id: int | None) -> list[Unit]:
    chain = []
    while unit_id is not None and unit_id in units and len(chain) < 10:
        chain.append(units[unit_id])
        unit_id = units[unit_id].parent_id
    return chain


def build(session: Session) -> DirectoryIndex:
    units = {u.id: u for u in session.scalars(select(Unit))}
    unit_keywords: dict[int, list[str]] = defaultdict(list)
    for unit_id, term in session.execute(select(Keyword.unit_id, Keyword.term).where(Keyword.unit_id.is_not(None))):
        unit_keywords[unit_id].append(term)
    index = DirectoryIndex()
    for staff in session.scalars(select(Staff).options(selectinload(Staff.keywords), selectinload(Staff.numbers))):
        index.add(staff, unit_keywords, units)
    return index.finish()


def current_version(session: Session) -> tuple:
    """The version number and when it moved: together they name one state of the directory."""
    row = session.execute(select(DirectoryVersion.version, DirectoryVersion.changed_at)
                          .where(DirectoryVersion.id == 1)).first()
    return tuple(row) if row else (0, None)


def bump_version(session: Session) -> None:
    """Call in the same transaction as any directory change; every process re-indexes on its next search."""
    from datetime import datetime, timezone

    row = session.get(DirectoryVersion, 1)
    if row is None:
        session.add(DirectoryVersion(id=1, version=1, changed_at=datetime.now(timezone.utc)))
    else:
        row.version += 1
        row.changed_at = datetime.now(timezone.utc)


_lock = threading.Lock()
_cache: dict[str, tuple[tuple, DirectoryIndex]] = {}


def index_for(session: Session) -> DirectoryIndex:
    """The index for this database, rebuilt only when the directory version moved."""
    key = session.get_bind().url.render_as_string(hide_password=False)
    version = current_version(session)
    cached = _cache.get(key)
    if cached and cached[0] == version:
        return cached[1]
    with _lock:
        cached = _cache.get(key)
        if cached and cached[0] == version:
            return cached[1]
        index = build(session)
        _cache[key] = (version, index)
        return index
