"""An in-memory search index over the directory, rebuilt when the directory changes.

Why our own index and not SQLite FTS5 / PostgreSQL trigrams: both databases must
give the same answers, the ranking rules are Swedish-specific (å, ä and ö are
letters of their own, yet a query typed without them still finds the entry,
ranked lower), and 10,000 people with 30,000 keywords fit in a few megabytes.
A query then costs a dictionary lookup, a bisect for prefixes and, for words of
four letters or more, one rapidfuzz pass for typos.

The query is first reduced to the words that mean something
(:func:`directory.query.understand`: fillers, politeness and synonyms). Ranking,
per word: exact > a definite or genitive form of it ("bygglovet") > prefix > the
beginning of a compound ("bygglovsansökan") > the same without å/ä/ö > sounds
alike (Lundkvist/Lundqvist) > one or two letters wrong; weighted by where it
matched (own keyword or name over unit keyword over title over unit name).
Sound-alikes and typos are *unsure* (:attr:`Candidate.sure`): the IVR asks
before it rings. Words that match nothing are dropped; if no entry matches all
the others, those matching most are returned, unsure.

Roles, for a subject (not a name): a unit's function first, then a person whose
title names the subject (the lead: "Torghandelsansvarig"), heads of a department
(a chef or direktör of a förvaltning) last.
"""

from __future__ import annotations

import bisect
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import phonenumbers
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from core import versions
from directory.models import DirectoryVersion, Keyword, RotaEntry, Staff, Unit
from directory.query import Synonyms, sound_key, understand, word_forms, words

__all__ = ["words", "fold", "ascii_fold", "keypad", "DirectoryIndex", "Candidate", "Entry", "index_for"]

KEYWORD, NAME, UNIT_KEYWORD, TITLE, UNIT_NAME = 100.0, 100.0, 60.0, 45.0, 40.0
EXACT, FORM, PREFIX, COMPOUND, ASCII_EXACT, ASCII_PREFIX, SOUNDS, FUZZY = 1.0, 0.95, 0.75, 0.72, 0.7, 0.55, 0.6, 0.45
SPOKEN_PREFIX = 0.5  # a spoken word is whole: "person" only begins "personlig" (below a sound-alike), unsure
UNSURE_WHERE = "~"  # marks a field matched only by a sound-alike or a typo
SUBJECTS = ("keyword", "unit", "title")
FUNCTION_BONUS, LEAD_BONUS, HEAD_FACTOR = 15.0, 8.0, 0.1  # roles, for a subject: heads keep a tenth
UNIT_PHRASE_BONUS = 20.0  # the whole query names the entry's own unit ("hemtjänsten")
HEAD_TITLE = re.compile(r"chef|direktör")
MIN_COMPOUND = 4  # letters of a compound's first part ("bygg" is too short to mean bygglov; "bygglov" is not)
WHERE_ORDER = {"keyword": 4, "name": 3, "unit": 2, "title": 1}  # which to report when two fields tie
PHRASE_BONUS = 50.0  # the whole query is a keyword or the whole name
NUMBER_EXACT, NUMBER_PREFIX, T9_EXACT, T9_PREFIX = 200.0, 80.0, 100.0, 70.0

_ASCII = str.maketrans("åäö", "aao")
_T9 = {c: d for d, letters in {"2": "abcåä", "3": "def", "4": "ghi", "5": "jkl", "6": "mnoö", "7": "pqrs",
                                "8": "tuv", "9": "wxyz"}.items() for c in letters}


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
    head: bool = False  # heads a department (förvaltningschef, direktör): last for a subject
    title_words: str = ""  # the folded title, to see whether it names a subject
    ring: str = "desk"  # desk | together | sequential: how a transfer rings this entry
    working_hours: dict | None = None  # weekly form; None = whenever the phone hours allow
    rota_days: dict[int, int] = field(default_factory=dict)  # a function's rota: weekday -> person's staff id
    rota_dates: dict[date, int] = field(default_factory=dict)  # date -> person's staff id; beats the weekday


@dataclass(frozen=True)
class Candidate:
    staff_id: int
    score: float
    how: str  # keyword | name | unit | title | number | keypad ... the best kind of match, for the IVR's choice
    sure: bool = True  # False: found by a sound-alike, a typo or only some of the words — ask before ringing


class DirectoryIndex:
    def __init__(self) -> None:
        self.entries: dict[int, Entry] = {}
        self.tokens: dict[str, dict[int, dict[str, float]]] = defaultdict(dict)  # word -> staff -> field -> weight
        self.phrases: dict[str, set[int]] = defaultdict(set)  # whole keyword or name -> staff
        self.unit_phrases: dict[str, set[int]] = defaultdict(set)  # a unit's whole name -> its own staff
        self.by_sound: dict[str, set[str]] = defaultdict(set)  # sound_key -> tokens
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
                      departments=departments_of(chain),
                      head=staff.kind == "person" and bool(HEAD_TITLE.search(staff.title.casefold()))
                      and bool(chain) and (chain[-1].kind == "forvaltning" or chain[-1].parent_id is None),
                      title_words=fold(staff.title), ring=staff.ring or "desk",
                      working_hours=staff.working_hours)
        self.entries[staff.id] = entry
        if chain:
            self.unit_phrases[fold(chain[-1].name)].add(staff.id)
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
            if not token.isdigit():
                self.by_sound[sound_key(token)].add(token)
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

    def _word(self, word: str, spoken: bool = False) -> tuple[dict[int, tuple[float, str, bool]], set[str]]:
        """Every entry the word matches: (its best score plus a tenth of matches in other fields, where, sure);
        and the directory words it was taken for (to see whose title names the subject)."""
        fields: dict[int, dict[str, float]] = defaultdict(dict)  # staff -> where (+ "~" if unsure) -> best score
        meant: set[str] = set()

        def offer(token: str, factor: float, sure: bool = True, whole: bool = True, names: bool = True) -> None:
            if whole:
                meant.add(token)
            for staff_id, weights in self.tokens.get(token, {}).items():
                mine = fields[staff_id]
                for where, weight in weights.items():
                    if not sure:
                        where += UNSURE_WHERE
                    elif where == "name" and not names:
                        continue
                    score = weight * factor
                    if mine.get(where, 0.0) < score:
                        mine[where] = score

        forms = [f for f in word_forms(word) if f in self.tokens]
        for form in forms:
            offer(form, EXACT if form == word else FORM)
        for token in self._prefixed(self.sorted_tokens, word):
            if token != word:
                offer(token, SPOKEN_PREFIX if spoken else PREFIX, sure=not spoken, whole=False)
        if not fields and len(word) >= MIN_COMPOUND + 2:  # "bygglovsansökan": its longest known beginning
            part = next((word[:k] for k in range(len(word) - 2, MIN_COMPOUND - 1, -1) if word[:k] in self.tokens), None)
            if part:
                offer(part, COMPOUND, names=False)  # "Lundkvist" is not a compound of Lund
        plain = ascii_fold(word)
        if plain == word:  # typed without å/ä/ö: find the entries that have them, ranked lower
            for token in self.by_ascii.get(word, ()):
                if token != word:
                    offer(token, ASCII_EXACT)
            for folded in self._prefixed(self.sorted_ascii, word):
                for token in self.by_ascii[folded]:
                    if not token.startswith(word) and folded != word:
                        offer(token, ASCII_PREFIX, whole=False)
        if len(word) >= 4:
            for token in self.by_sound.get(sound_key(word), ()):
                if token not in forms and ascii_fold(token) != plain:
                    offer(token, SOUNDS, sure=False)
            limit = 1 if len(word) < 7 else 2
            for folded, distance, _ in process.extract(plain, self.sorted_ascii, scorer=Levenshtein.distance,
                                                       score_cutoff=limit, limit=100):
                if distance:
                    for token in self.by_ascii[folded]:
                        offer(token, FUZZY - 0.05 * (distance - 1), sure=False)
        best = {}
        for staff_id, scores in fields.items():
            if len(scores) == 1:
                (where, total), = scores.items()
            elif not scores:
                continue  # only a name began like this compound
            else:
                where, top = max(scores.items(), key=lambda item: (item[1], WHERE_ORDER.get(item[0], 0)))
                total = top + 0.1 * (sum(scores.values()) - top)
            best[staff_id] = (total, where, True) if where[-1] != UNSURE_WHERE else (total, where[:-1], False)
        return best, meant

    def search(self, query: str, limit: int = 50, lang: str = "sv", synonyms: Synonyms | None = None,
               spoken: bool = False) -> list[Candidate]:
        """Candidates for a query, best first; ``spoken``: words were said (a recogniser's whole words), not typed
        while searching, so a word that only begins a longer one is unsure."""
        text = query.strip()
        if not text:
            return []
        if re.fullmatch(r"[+\d][\d\s()-]*", text):
            return self.search_number(text, limit)
        query_words = understand(text, lang, synonyms)
        if not query_words:
            return []
        matches, meant, unknown = [], set(), 0
        for word in dict.fromkeys(query_words):
            matched, taken_for = self._word(word, spoken)
            if matched:
                matches.append(matched)
                meant |= taken_for
            else:
                unknown += 1  # a word the directory does not know ("bygga", "hämtats"): context, not a condition
        if not matches:
            return []
        totals = self._all_words(matches) or self._most_words(matches)
        phrase = " ".join(query_words)
        whole = {phrase, fold(text)} | {" ".join(query_words[:-1] + [f]) for f in word_forms(query_words[-1])[1:]}
        for said in whole:  # as understood, as said ("vård och omsorg"), or its last word's base form
            for bonus, phrases in ((PHRASE_BONUS, self.phrases), (UNIT_PHRASE_BONUS, self.unit_phrases)):
                for staff_id in phrases.get(said, ()):
                    if staff_id in totals:
                        score, how, sure = totals[staff_id]
                        totals[staff_id] = (score + bonus, how, sure)
        ranked = []
        entries = self.entries
        subjects = [t for t in meant if len(t) >= 5]  # a title naming one of these is the subject's lead
        for staff_id, (score, how, sure) in totals.items():
            if how in SUBJECTS:
                score = self._role(entries[staff_id], subjects, score)
            elif how == "name" and unknown:
                sure = False  # "Linda Strömberg": the surname alone is not enough to ring Linnea
            ranked.append((-score, entries[staff_id].name, staff_id, how, sure))
        ranked.sort()
        return [Candidate(sid, -neg, how, sure) for neg, _, sid, how, sure in ranked[:limit]]

    @staticmethod
    def _all_words(matches: list[dict[int, tuple[float, str, bool]]]) -> dict[int, tuple[float, str, bool]]:
        """Entries every word matched: summed scores, how the best word matched, sure if every word was."""
        totals = dict(matches[0])
        for matched in matches[1:]:
            joined = {}
            for staff_id, (score, how, sure) in totals.items():
                hit = matched.get(staff_id)
                if hit is not None:
                    joined[staff_id] = (score + hit[0], how if score >= hit[0] else hit[1], sure and hit[2])
            totals = joined
            if not totals:
                break
        return totals

    @staticmethod
    def _most_words(matches: list[dict[int, tuple[float, str, bool]]]) -> dict[int, tuple[float, str, bool]]:
        """Nobody matched every word: those matching most of them, all unsure."""
        found: dict[int, list[tuple[float, str, bool]]] = defaultdict(list)
        for matched in matches:
            for staff_id, hit in matched.items():
                found[staff_id].append(hit)
        most = max(len(hits) for hits in found.values())
        return {sid: (sum(h[0] for h in hits), max(hits)[1], False) for sid, hits in found.items() if len(hits) == most}

    @staticmethod
    def _role(entry: Entry, meant: list[str], score: float) -> float:
        """For a subject: the unit's function first, then its lead for that subject, heads of department last."""
        if entry.kind == "function":
            return score + FUNCTION_BONUS
        if entry.head:
            return score * HEAD_FACTOR
        if entry.title_words and any(t in entry.title_words for t in meant):
            return score + LEAD_BONUS
        return score

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
    for row in session.scalars(select(RotaEntry)):
        entry = index.entries.get(row.function_id)
        if entry is not None:
            if row.on_date is not None:
                entry.rota_dates[row.on_date] = row.person_id
            else:
                entry.rota_days[row.weekday] = row.person_id
    return index.finish()


def current_version(session: Session) -> tuple:
    """The version number and when it moved: together they name one state of the directory."""
    row = session.execute(select(DirectoryVersion.version, DirectoryVersion.changed_at)
                          .where(DirectoryVersion.id == 1)).first()
    return tuple(row) if row else (0, None)


def bump_version(session: Session) -> None:
    """Call in the same transaction as any directory change; every process re-indexes on its next search."""
    from datetime import datetime, timezone

    versions.bump(session, "directory")
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
