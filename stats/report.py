"""The report engine: any date range and filters -> every figure of :mod:`stats.definitions`.

The sums are done in SQL: per day, menu choice and entry number (from the
days' totals of :mod:`stats.rollup`, its hours under an hour filter, or
straight from ``call_facts`` for a department, which is no rollup dimension),
the heatmap per hour and weekday, the operators; then the transfers per unit
and person and the unmatched directory queries. Days, weeks, months and the two
service lines are summed in Python from a few thousand rows. The 90th
percentile of the queue wait: the rollups count answered calls per wait bucket,
which says the bucket it falls in; the facts of that one bucket give the exact
second. Every aggregate is a plain integer SUM/COUNT/MAX and percentiles are
nearest-rank over whole seconds, so SQLite and
PostgreSQL give the very same numbers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date, timedelta
from typing import Any, Callable, Mapping

from sqlalchemy import Engine, and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from core.text import N_
from ivr import queues as flow_queues
from stats import definitions as defs
from stats import rollup
from stats.definitions import Definitions
from stats.models import (HOUR_MEASURES, OPERATOR_MEASURES, WAIT_MEASURES, CallFact, DayRollup, HourRollup,
                          OperatorRollup, TransferFact)

WEEKDAYS_SV = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")
# Figures a higher layer computes from its own tables, added to every report under their name: the callback
# package registers "requests_by_unit" (callback/unitstats.py). Stats never imports that package; it only runs
# what was registered, each as provider(session, filters) -> JSON-ready data.
SECTIONS: dict[str, Callable[[Session, "Filters"], Any]] = {}
TOP_QUERIES = 10


class FilterError(ValueError):
    """A filter that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Filters:
    """Which calls a report covers. Dates are local and inclusive; hours are [hour_from, hour_to)."""

    start: date
    end: date
    weekdays: tuple[int, ...] = ()  # ISO 1 = Monday ... 7 = Sunday; () = all
    hour_from: int = 0
    hour_to: int = 24
    called: tuple[str, ...] = ()  # entry numbers; () = all
    queue: str | None = None
    department: str | None = None  # a unit slug: förvaltning, avdelning or enhet

    def __post_init__(self):
        if self.end < self.start:
            raise FilterError(N_("Perioden slutar (%(end)s) innan den börjar (%(start)s).", end=self.end,
                                 start=self.start))
        if not 0 <= self.hour_from < self.hour_to <= 24:
            raise FilterError(N_("Timmarna går från 0 till 24, t.ex. 8-12 (08:00 till 11:59)."))
        if any(not 1 <= w <= 7 for w in self.weekdays):
            raise FilterError(N_("Veckodagarna är 1 (måndag) till 7 (söndag)."))

    @classmethod
    def parse(cls, args: Mapping[str, Any], today: date, default_days: int = 30) -> "Filters":
        """From query-string or CLI values: from, to (YYYY-MM-DD), weekday (1,2 or mon,tue), hours (8-12),
        called, queue, department."""
        end = _date(args["to"]) if args.get("to") else today
        start = _date(args["from"]) if args.get("from") else end - timedelta(days=default_days - 1)
        return cls(start, end, weekdays=parse_weekdays(args.get("weekday") or ""),
                   **dict(zip(("hour_from", "hour_to"), parse_hours(args.get("hours") or ""))),
                   called=tuple(c.strip() for c in str(args.get("called") or "").split(",") if c.strip()),
                   queue=(args.get("queue") or None), department=(args.get("department") or None))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["start"], d["end"] = self.start.isoformat(), self.end.isoformat()
        return d


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FilterError(N_("Datum skrivs ÅÅÅÅ-MM-DD, inte ”%(text)s”.", text=text)) from None


DAY_NAMES = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7,
             "mån": 1, "tis": 2, "ons": 3, "tor": 4, "fre": 5, "lör": 6, "sön": 7}


def parse_weekdays(text: str) -> tuple[int, ...]:
    out = []
    for part in str(text).replace(" ", "").lower().split(","):
        if not part:
            continue
        if part.isdigit():
            out.append(int(part))
        elif part[:3] in DAY_NAMES:
            out.append(DAY_NAMES[part[:3]])
        else:
            raise FilterError(N_("Veckodag ”%(day)s”: skriv 1-7 eller mån..sön.", day=part))
    return tuple(sorted(set(out)))


def parse_hours(text: str) -> tuple[int, int]:
    text = str(text).strip()
    if not text:
        return 0, 24
    try:
        a, b = text.split("-")
        return int(a), int(b)
    except ValueError:
        raise FilterError(N_("Timmar ”%(hours)s”: skriv FRÅN-TILL i hela timmar, t.ex. 8-12.", hours=text)) from None


def queue_named(session: Session, text: str | None) -> str | None:
    """The queue id a filter names — people write its name ("English"); its id works too. None for all queues;
    an unknown queue is a :class:`FilterError` listing the queues there are."""
    if not text:
        return None
    known = {**{q: q for q in _seen_queues(session)}, **flow_queues.names(session)}
    found = flow_queues.resolve(known, text)
    if found is None:
        raise FilterError(f"no queue {text!r}; the queues are " + ", ".join(known.values()))
    return found


def _seen_queues(session: Session) -> list[str]:
    """Every queue a call waited in, in order: one probe of ``ix_call_facts_queue`` per queue (a skip scan,
    which neither database does for ``DISTINCT``: that read every fact of every year)."""
    seen: list[str] = []
    while True:
        after = CallFact.queue > seen[-1] if seen else CallFact.queue.is_not(None)
        queue = session.scalar(select(func.min(CallFact.queue)).where(after))
        if queue is None:
            return seen
        seen.append(queue)


def queue_names(session: Session) -> dict[str, str]:
    """id -> name of every queue for the statistics: the flow's, then any a call waited in that it no longer has."""
    names = flow_queues.names(session)
    return {**names, **{q: q for q in _seen_queues(session) if q not in names}}


def _by_queue(session: Session, f: Filters, d: Definitions, facts: bool) -> list[dict[str, Any]]:
    """Per queue the calls waited in (a call counts in its first queue): offered, answered, abandoned,
    callbacks, returned callers and the mean answered wait — from the rollups (refreshed by :func:`_days`), or
    from the facts themselves for a department or the reference report (``facts``)."""
    if facts:
        c = CallFact
        short = func.sum(case((and_(c.queue_outcome == "abandoned", c.wait_seconds <= d.short_abandon_seconds), 1),
                              else_=0)) if d.short_abandon_seconds > 0 else literal(0)
        answered_wait = func.sum(case((c.queue_outcome == "answered", c.wait_seconds), else_=0))
        query = (select(c.queue, func.sum(c.queued), func.sum(c.answered), func.sum(c.abandoned),
                        func.sum(c.queue_callback), func.sum(c.queue_returned), answered_wait, short)
                 .where(*_where(c, f), c.queue.is_not(None), c.queued > 0).group_by(c.queue))
    else:
        t = HourRollup if _by_hours(f) else DayRollup
        query = (select(t.queue, *(func.sum(getattr(t, m)) for m in (
                     "queued", "answered", "abandoned", "queue_callback", "queue_returned", "answer_seconds", "short")))
                 .where(*_where(t, f, units=False), t.queue.is_not(None)).group_by(t.queue))
    names = queue_names(session)
    found = {r[0]: r for r in session.execute(query).all()}
    shown = {f.queue} if f.queue else set(names)  # listed even without calls: every queue of the flow
    out = []
    for qid in [*names, *sorted(set(found) - set(names))]:
        _, queued, answered, abandoned, callbacks, returned, waited, short_n = found.get(qid) or (qid, 0, 0, 0, 0, 0,
                                                                                                  0, 0)
        if not queued and qid not in shown:
            continue
        out.append(dict(id=qid, name=names.get(qid, qid), queued=int(queued or 0),
                        offered=int(queued or 0) - int(short_n or 0), answered=int(answered or 0),
                        abandoned=int(abandoned or 0) - int(short_n or 0), callbacks=int(callbacks or 0),
                        returned=int(returned or 0), asa=defs.mean(int(waited or 0), int(answered or 0))))
    return out


def _where(model, f: Filters, *, units: bool = True, others: bool = True) -> list:
    """SQL conditions for ``f`` on a fact or rollup table (``others=False``: dates and weekdays only)."""
    conds = [model.local_date >= f.start, model.local_date <= f.end]
    if f.weekdays:
        conds.append(model.local_weekday.in_(f.weekdays))
    if not others:
        return conds
    if (f.hour_from, f.hour_to) != (0, 24):
        conds += [model.local_hour >= f.hour_from, model.local_hour < f.hour_to]
    if f.called:
        conds.append(model.called.in_(f.called))
    if f.queue:
        conds.append(model.queue == f.queue)
    if f.department and units:
        conds.append(or_(model.forvaltning == f.department, model.avdelning == f.department,
                         model.enhet == f.department))
    return conds


# --- the queries -----------------------------------------------------------------------------------
# Each returns plain tuples; the rollups are used when the filters allow (see stats.rollup).


def _by_hours(f: Filters) -> bool:
    return (f.hour_from, f.hour_to) != (0, 24)


def _days(session: Session, f: Filters, d: Definitions, facts: bool) -> list[tuple]:
    """(date, menu choice, entry number, *HOUR_MEASURES, longest wait) rows: the report's smallest grain, summed
    in SQL (``facts``: from the facts themselves — the department filter, which is no rollup dimension)."""
    if facts:
        c = CallFact
        keys = (c.local_date, c.menu_choice, c.called)
        measures = [*rollup.hour_measures(d), rollup.longest_wait(d)]
        return session.execute(select(*keys, *measures).where(*_where(c, f)).group_by(*keys)).all()
    rollup.ensure_fresh(session, f.start, f.end, d)
    table = HourRollup if _by_hours(f) else DayRollup
    keys = (table.local_date, table.menu_choice, table.called)
    sums = [*(func.sum(getattr(table, m)) for m in HOUR_MEASURES), func.max(table.longest_wait)]
    return session.execute(select(*keys, *sums).where(*_where(table, f, units=False)).group_by(*keys)).all()


def _heat(session: Session, f: Filters, facts: bool) -> list[tuple]:
    """(hour, weekday, calls): the heatmap (after :func:`_days`, which refreshed the rollups)."""
    table = CallFact if facts else HourRollup
    keys = (table.local_hour, table.local_weekday)
    calls = func.count() if facts else func.sum(table.calls)
    return session.execute(select(*keys, calls).where(*_where(table, f)).group_by(*keys)).all()


def _operators(session: Session, f: Filters, facts: bool) -> list[tuple]:
    """(operator, *OPERATOR_MEASURES) summed in SQL (after :func:`_days`, which refreshed the rollups)."""
    if facts:
        return session.execute(rollup.operator_select(*_where(CallFact, f), keys=("operator",))).all()
    o = OperatorRollup
    return session.execute(select(o.operator, *[func.sum(getattr(o, m)) for m in OPERATOR_MEASURES])
                           .where(*_where(o, f)).group_by(o.operator)).all()


def _waits(session: Session, f: Filters) -> list[tuple]:
    """(menu choice, queue outcome, wait seconds, calls): every queue wait, for the reference report
    (``rollups=False``)."""
    c = CallFact
    keys = (c.queue_outcome, c.menu_choice, c.wait_seconds)
    query = (select(c.menu_choice, c.queue_outcome, c.wait_seconds, func.count())
             .where(*_where(c, f), c.queue_outcome.in_(rollup.QUEUE_OUTCOMES), c.wait_seconds.is_not(None))
             .group_by(*keys))
    return session.execute(query.with_hint(c, "INDEXED BY ix_call_facts_waits", "sqlite")).all()


def _answered_waits(session: Session, f: Filters, choices: set, lower: int | None,
                    upper: int | None) -> list[tuple]:
    """(menu choice, wait seconds, calls) of the answered calls that waited [lower, upper): one wait bucket, read
    with the index on (queue outcome, menu choice, wait) — one range per query, so one query per kind of choice."""
    c = CallFact
    bounds = [*([c.wait_seconds >= lower] if lower is not None else []),
              *([c.wait_seconds < upper] if upper is not None else [])]
    named = sorted(x for x in choices if x is not None)
    rows: list[tuple] = []
    kinds = ([c.menu_choice.in_(named)] if named else []) + ([c.menu_choice.is_(None)] if None in choices else [])
    for choice in kinds:
        query = (select(c.menu_choice, c.wait_seconds, func.count())
                 .where(*_where(c, f), rollup.answered_wait(), choice, *bounds).group_by(c.menu_choice, c.wait_seconds))
        rows += session.execute(query.with_hint(c, "INDEXED BY ix_call_facts_waits", "sqlite")).all()
    return rows


def _percentiles(session: Session, f: Filters, d: Definitions, buckets: dict[str, list[int]], choices: set,
                 q: float = 0.9) -> dict[str, int | None]:
    """The q-th percentile of the answered calls' waits per line (and "all"), exactly as
    :func:`stats.definitions.percentile` gives it over every wait: the rollups' counts per wait bucket say which
    bucket holds it and its rank there; the facts of that bucket alone give the value."""
    found: dict[str, int | None] = dict.fromkeys(buckets)
    read: dict[int, list[tuple]] = {}
    for line, counts in buckets.items():
        if not sum(counts):
            continue
        rank = defs.nearest_rank(sum(counts), q)
        i = 0
        while rank > counts[i]:
            rank -= counts[i]
            i += 1
        if i not in read:
            read[i] = _answered_waits(session, f, choices, *rollup.bucket_range(i))
        seen = 0
        for wait, n in sorted((w, n) for choice, w, n in read[i] if line == "all" or d.line(choice) == line):
            found[line] = wait  # the largest, should a fact have left the bucket since the rollup was read
            seen += n
            if seen >= rank:
                break
    return found


_alongside = ThreadPoolExecutor(max_workers=2, thread_name_prefix="report")


def _transfers_alongside(session: Session, f: Filters) -> Future | None:
    """:func:`_transfers` on a connection of its own, in a thread, while ``session`` reads the rest: the biggest
    query of a long report (every transfer of the period) runs in the database while Python does the other work
    (SQLite and the driver let go of the GIL). None where a second connection would not see the same data: a
    session bound to a connection (its own transaction) or an in-memory SQLite database."""
    bind = session.get_bind()
    if not isinstance(bind, Engine) or bind.url.database in (None, "", ":memory:"):
        return None

    def read() -> list[tuple]:
        with Session(bind) as own:
            return _transfers(own, f)

    return _alongside.submit(read)


def _unmatched(session: Session, f: Filters, top: int) -> list[tuple]:
    c = CallFact
    n = func.count().label("n")
    return session.execute(select(c.unmatched_query, n).where(*_where(c, f), c.unmatched_query.is_not(None))
                           .group_by(c.unmatched_query).order_by(n.desc(), c.unmatched_query).limit(top)).all()


def _transfers(session: Session, f: Filters) -> list[tuple]:
    t = TransferFact
    keys = (t.forvaltning, t.avdelning, t.enhet, t.target_id, t.outcome, t.reason, t.returned, t.via)
    if session.get_bind().dialect.name == "sqlite":
        # a bare column in a grouped query is SQLite's value from the group's last row — in this index's order the
        # latest transfer's name — with no string comparison per row (max() was a third of this query on a year)
        names = (t.target, t.unit_name)
    else:
        names = (func.max(t.target), func.max(t.unit_name))
    query = select(*keys, *names, func.count()).where(*_where(t, f)).group_by(*keys)
    # Core, not the ORM: a year is tens of thousands of rows, and ORM rows cost a third more to fetch
    return session.connection().execute(query.with_hint(t, "INDEXED BY ix_transfer_facts_groups", "sqlite")).all()


def _unit_names(session: Session) -> dict[str, str]:
    from directory.models import Unit

    return dict(session.execute(select(Unit.slug, Unit.name)).all())


# --- assembling ------------------------------------------------------------------------------------

M = {name: i for i, name in enumerate(HOUR_MEASURES)}
ZERO = (0,) * len(HOUR_MEASURES)


def vsum(vectors: list) -> list[int]:
    """Column sums of measure vectors (C speed: a year is some twenty thousand of them)."""
    return [sum(col) for col in zip(*vectors)] if vectors else list(ZERO)


class Bucket(dict):
    """Named measures of some set of rows; a missing name is 0."""

    def __missing__(self, key: str) -> int:
        return 0

    @classmethod
    def of(cls, vector: list[int]) -> "Bucket":
        return cls(zip(HOUR_MEASURES, vector))


def _line_figures(b: Bucket, line: str, d: Definitions, p90: int | None) -> dict[str, Any]:
    within = b[f"within_{line}"]
    abandoned = b["abandoned"] - b["short"]
    value = defs.service_level(within, b["answered"], abandoned, d.abandoned_in_denominator)
    return dict(value=value, target=d.target_percent(line), seconds=d.answer_seconds(line), within=within,
                answered=b["answered"], abandoned=abandoned, offered=b["queued"] - b["short"],
                asa=defs.mean(b["answer_seconds"], b["answered"]), asa_p90=p90,
                light=asdict(defs.light(value, d.target_percent(line), True, d.amber_margin_percent)))


def _period_row(key: str, sw: Bucket, cs: Bucket, d: Definitions) -> dict[str, Any]:
    b = Bucket({k: sw[k] + cs[k] for k in HOUR_MEASURES})
    abandoned = b["abandoned"] - b["short"]
    offered = b["queued"] - b["short"]
    return dict(period=key, calls=b["calls"], offered=offered, answered=b["answered"], abandoned=abandoned,
                ivr_exits=b["ivr_exits"], closed=b["closed"],
                service_level_switchboard=defs.service_level(sw["within_switchboard"], sw["answered"],
                                                             sw["abandoned"] - sw["short"],
                                                             d.abandoned_in_denominator),
                service_level_service=defs.service_level(cs["within_service"], cs["answered"],
                                                         cs["abandoned"] - cs["short"], d.abandoned_in_denominator),
                lost_percent=defs.share(abandoned, offered), asa=defs.mean(b["answer_seconds"], b["answered"]))


def week_of(day: date) -> str:
    y, w, _ = day.isocalendar()
    return f"{y}-W{w:02d}"


def _periods(per_day: dict[tuple[date, str], list], d: Definitions, name) -> list[dict[str, Any]]:
    """Sum (day, line) vectors into periods named by ``name(day)``, one row per period."""
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for (day, line), vector in per_day.items():
        groups[(name(day), line)].append(vector)
    keys = sorted({k for k, _ in groups})
    return [_period_row(k, Bucket.of(vsum(groups.get((k, "switchboard"), []))),
                        Bucket.of(vsum(groups.get((k, "service"), []))), d) for k in keys]


def build(session: Session, f: Filters, d: Definitions, top: int = TOP_QUERIES,
          personal: bool = True, rollups: bool = True) -> dict[str, Any]:
    """Every figure for the calls ``f`` selects, as plain data (JSON-ready).

    ``personal=False`` leaves out the figures about persons (see :func:`without_personal`): what a role not in
    ``stats.personal_roles`` gets. ``rollups=False`` sums the facts themselves and reads every queue wait (the
    same figures, slower: the reference the tests check the rollups and the wait buckets against)."""
    data = _build(session, f, d, top if personal else 0, rollups)
    data["by_queue"] = _by_queue(session, f, d, not rollups or bool(f.department))
    if f.queue:  # people read the queue's name, not its id
        data["filters"]["queue_name"] = queue_names(session).get(f.queue, f.queue)
    for name, provider in SECTIONS.items():
        data[name] = provider(session, f)
    return data if personal else without_personal(data)


def without_personal(data: dict[str, Any]) -> dict[str, Any]:
    """The report without personal figures: reach rates per person (the transfer tree stops at the enhet),
    figures per operator, and what callers said to the directory (speech transcripts, keyed names)."""

    def prune(item: dict[str, Any]) -> dict[str, Any]:
        return {**item, "children": [prune(c) for c in item.get("children", []) if c.get("level") != "person"]}

    transfers = {**data["transfers"], "by_department": [prune(x) for x in data["transfers"]["by_department"]]}
    return {**data, "personal": False, "transfers": transfers, "operators": [],
            "directory": {**data["directory"], "top_unmatched": []}}


def _build(session: Session, f: Filters, d: Definitions, top: int, rollups: bool) -> dict[str, Any]:
    facts = not rollups or bool(f.department)  # the department is no rollup dimension
    transfer_rows = _transfers_alongside(session, f)
    heat = [[0] * 7 for _ in range(24)]
    choices: Counter = Counter()
    entries: Counter = Counter()
    by_line: dict[str, list] = {"switchboard": [], "service": []}
    by_day_line: dict[tuple[date, str], list] = defaultdict(list)
    seen: set[str | None] = set()  # menu choices
    calls, closed = M["calls"], M["closed"]
    longest = None
    for day, choice, called, *vector, most in _days(session, f, d, facts):
        if most is not None:
            longest = most if longest is None else max(longest, most)
        line = d.line(choice)
        seen.add(choice)
        by_line[line].append(vector)
        by_day_line[(day, line)].append(vector)
        choices[choice or "none"] += vector[calls] - (vector[closed] if choice is None else 0)
        entries[called or "okänt"] += vector[calls]
    for hour, weekday, n in _heat(session, f, facts):
        heat[hour][weekday - 1] += n
    per_day = {key: vsum(vectors) for key, vectors in by_day_line.items()}
    lines = {line: Bucket.of(vsum(vectors)) for line, vectors in by_line.items()}
    total = Bucket({k: lines["switchboard"][k] + lines["service"][k] for k in HOUR_MEASURES})

    buckets = {line: [lines[line][m] for m in WAIT_MEASURES] for line in ("switchboard", "service")}
    buckets["all"] = [a + b for a, b in zip(buckets["switchboard"], buckets["service"])]
    if rollups:
        p90 = _percentiles(session, f, d, buckets, seen)
    else:  # the reference: every wait read, as stats.definitions computes it
        hist: dict[str, list[tuple[int, int]]] = {"switchboard": [], "service": []}
        longest = None
        for choice, outcome, wait, n in _waits(session, f):
            if outcome == "answered":
                hist[d.line(choice)].append((wait, n))
            if not defs.is_short_abandon(outcome, wait, d.short_abandon_seconds):
                longest = wait if longest is None else max(longest, wait)
        p90 = {line: defs.percentile(h, 0.9) for line, h in hist.items()}
        p90["all"] = defs.percentile(hist["switchboard"] + hist["service"], 0.9)

    abandoned = total["abandoned"] - total["short"]
    offered = total["queued"] - total["short"]
    lost = defs.share(abandoned, offered)
    asa = defs.mean(total["answer_seconds"], total["answered"])
    resolved = defs.share(total["resolved"], total["wrapups"])
    margin = d.amber_margin_percent

    operators: dict[str, Counter] = defaultdict(Counter)
    for who, *values in _operators(session, f, facts):
        operators[who].update(dict(zip(OPERATOR_MEASURES, (int(v or 0) for v in values))))

    rows = transfer_rows.result() if transfer_rows is not None else _transfers(session, f)
    transfers = _transfer_tree(rows, _unit_names(session))
    tiles = [
        dict(key="switchboard", label="Växeln: svar inom {} s".format(d.switchboard_answer_seconds),
             label_en=f"Switchboard: answered within {d.switchboard_answer_seconds} s", unit="%",
             target_text=f"mål ≥ {d.switchboard_target_percent:g} %",
             **_line_figures(lines["switchboard"], "switchboard", d, p90["switchboard"])),
        dict(key="service", label=f"Kundtjänst: svar inom {_minutes(d.service_answer_seconds)}",
             label_en=f"Customer service: answered within {_minutes(d.service_answer_seconds)}", unit="%",
             target_text=f"mål ≥ {d.service_target_percent:g} %",
             **_line_figures(lines["service"], "service", d, p90["service"])),
        dict(key="lost", label="Tappade samtal", label_en="Lost calls", unit="%", value=lost,
             target=d.lost_target_percent, target_text=f"mål ≤ {d.lost_target_percent:g} %",
             abandoned=abandoned, offered=offered,
             light=asdict(defs.light(lost, d.lost_target_percent, False, margin))),
        dict(key="queue_wait", label="Väntetid i kö (medel)", label_en="Queue wait (ASA)", unit="s", value=asa,
             target=d.queue_wait_target_seconds, target_text=f"mål < {_minutes(d.queue_wait_target_seconds)}",
             light=asdict(defs.light(asa, d.queue_wait_target_seconds, False, margin))),
        dict(key="resolved", label="Lösta i kundcenter", label_en="Resolved at the centre", unit="%",
             value=resolved, target=d.resolved_target_percent, target_text=f"mål ≥ {d.resolved_target_percent:g} %",
             wrapups=total["wrapups"], resolved=total["resolved"],
             light=asdict(defs.light(resolved, d.resolved_target_percent, True, margin))),
        dict(key="reach", label="Nådda vid koppling", label_en="Transfer reach rate", unit="%",
             value=defs.share(total["transfers_answered"], total["transfers"]), target=None,
             target_text="revisionen 2017: 42 %", attempted=total["transfers"], answered=total["transfers_answered"],
             light=asdict(defs.Light("info", "Jämförelse", "Comparison"))),
    ]
    menu_calls = total["calls"] - total["closed"]
    return {
        "filters": f.to_dict(),
        "personal": True,  # personal figures included (per person, per operator, directory queries)
        "definitions": asdict(d),
        "calls": dict(total=total["calls"], closed=total["closed"], ivr_exits=total["ivr_exits"],
                      reached_by_transfer=total["reached_by_transfer"], transfer_hangups=total["transfer_hangup"],
                      queued=total["queued"], short_abandoned=total["short"], offered=offered,
                      answered=total["answered"], abandoned=abandoned, callbacks_from_queue=total["queue_callback"],
                      returned_to_queue=total["queue_returned"],
                      unfinished=offered - total["answered"] - abandoned - total["queue_callback"],
                      english=total["english"]),
        "tiles": tiles,
        "speed": dict(asa=asa, asa_p90=p90["all"], longest_wait=longest,
                      talk_mean=defs.mean(total["centre_talk_seconds"], total["talked"]),
                      handle_mean=defs.mean(total["centre_talk_seconds"] + total["wrapup_seconds"], total["talked"]),
                      reach_mean=defs.mean(total["reach_seconds"], total["reach_calls"])),
        "transfers": dict(attempted=total["transfers"], answered=total["transfers_answered"],
                          returned=total["transfers_returned"],
                          reach_rate=defs.share(total["transfers_answered"], total["transfers"]), **transfers),
        "resolved": dict(wrapups=total["wrapups"], resolved=total["resolved"], share=resolved,
                         by_outcome={k: total[f"wrapups_{k}"] for k in defs.WRAPUP_OUTCOMES}),
        "callbacks": dict(requested=total["cb_requested"], from_queue=total["queue_callback"],
                          completed=total["cb_completed"], failed=total["cb_failed"], cancelled=total["cb_cancelled"],
                          pending=total["cb_requested"] - total["cb_completed"] - total["cb_failed"]
                          - total["cb_cancelled"],
                          attempts=total["cb_attempts"],
                          attempts_per_completion=defs.mean(total["cb_attempts"], total["cb_completed"]),
                          contact_mean_seconds=defs.mean(total["cb_contact_seconds"], total["cb_completed"])),
        "menu": dict(calls=menu_calls, choices=dict(sorted(choices.items())), english=total["english"],
                     invalid_calls=total["invalid_calls"], timeout_calls=total["timeout_calls"],
                     invalid_rate=defs.share(total["invalid_calls"], menu_calls),
                     no_input_rate=defs.share(total["timeout_calls"], menu_calls),
                     invalid_inputs=total["invalid_inputs"], timeouts=total["timeouts"]),
        "directory": dict(lookups=total["lookups"], matched=total["lookups_matched"],
                          unmatched=total["lookups"] - total["lookups_matched"],
                          top_unmatched=[dict(query=q, calls=n) for q, n in _unmatched(session, f, top)]
                          if top else []),
        "heatmap": dict(weekdays=list(WEEKDAYS_SV), hours=list(range(24)), calls=heat),
        "by_day": _periods(per_day, d, date.isoformat),
        "by_week": _periods(per_day, d, week_of),
        "by_month": _periods(per_day, d, lambda day: day.strftime("%Y-%m")),
        "entries": [dict(called=k, calls=v) for k, v in sorted(entries.items())],
        "operators": [_operator_row(k, v) for k, v in sorted(operators.items())],
    }


def _operator_row(who: str, m: Counter) -> dict[str, Any]:
    return dict(operator=who, answered=m["answered"], asa=defs.mean(m["answer_seconds"], m["answered"]),
                talk_mean=defs.mean(m["talk_seconds"], m["talked"]),
                handle_mean=defs.mean(m["talk_seconds"] + m["wrapup_seconds"], m["talked"]), wrapups=m["wrapups"],
                resolved_share=defs.share(m["resolved"], m["wrapups"]))


def _minutes(seconds: int) -> str:
    return f"{seconds // 60} min" if seconds % 60 == 0 and seconds >= 60 else f"{seconds} s"


def _transfer_tree(rows: list[tuple], names: Mapping[str, str]) -> dict[str, Any]:
    """Transfers summed per förvaltning, avdelning, enhet and person, with the reach rate of each.

    The rows are first summed per person (a year is tens of thousands of rows, some thousands of people), then
    each person is added once to the levels above."""
    reasons: Counter = Counter()
    origins: dict[str, list[int]] = {via: [0, 0, 0] for via in ("ivr", "operator")}  # attempted, answered, returned
    people: dict[tuple, list] = {}  # (förvaltning key, avdelning, enhet, id) -> [attempted, answered, returned, ...]
    for forv, avd, enh, target_id, outcome, reason, returned, via, target, unit_name, n in rows:
        answered = n if outcome == "answered" else 0
        back = n if returned else 0
        origin = origins.setdefault(via, [0, 0, 0])
        origin[0] += n
        origin[1] += answered
        origin[2] += back
        key = (forv or f"?{unit_name}", avd, enh, target_id)
        person = people.get(key)
        if person is None:  # names as the first row has them
            person = people[key] = [0, 0, 0, {}, names.get(forv, forv or f"okänd ({unit_name})"), target]
        person[0] += n
        person[1] += answered
        person[2] += back
        if reason and outcome == "failed":
            person[3][reason] = person[3].get(reason, 0) + n
            reasons[reason] += n

    nodes: dict[tuple, dict[str, Any]] = {}

    def node(level: str, key: tuple, name: str) -> dict[str, Any]:
        if key not in nodes:
            nodes[key] = dict(level=level, key=key[-1], name=name, attempted=0, answered=0, returned=0,
                              failed=Counter(), children={})
        return nodes[key]

    tops: dict[tuple, dict[str, Any]] = {}
    for (forv_key, avd, enh, target_id), (attempted, answered, returned, failed, forv_name, target) in people.items():
        chain = [node("forvaltning", ("f", forv_key), forv_name)]
        if avd:
            chain.append(node("avdelning", ("f", forv_key, "a", avd), names.get(avd, avd)))
        if enh:
            chain.append(node("enhet", ("f", forv_key, "a", avd, "e", enh), names.get(enh, enh)))
        chain.append(node("person", ("f", forv_key, "a", avd, "e", enh, "p", target_id), target))
        for item in chain:
            item["attempted"] += attempted
            item["answered"] += answered
            item["returned"] += returned
            for reason, n in failed.items():
                item["failed"][reason] += n
        for parent, child in zip(chain, chain[1:]):
            parent["children"].setdefault(id(child), child)
        tops.setdefault(id(chain[0]), chain[0])

    def finish(item: dict[str, Any]) -> dict[str, Any]:
        item["reach_rate"] = defs.share(item["answered"], item["attempted"])
        item["failed"] = dict(sorted(item["failed"].items()))
        item["children"] = sorted((finish(c) for c in item["children"].values()),
                                  key=lambda c: (-c["attempted"], c["name"]))
        return item

    return dict(failed=dict(sorted(reasons.items())),
                by_origin={via: dict(attempted=attempted, answered=answered, returned=returned,
                                     reach_rate=defs.share(answered, attempted))
                           for via, (attempted, answered, returned) in sorted(origins.items())},
                by_department=sorted((finish(t) for t in tops.values()), key=lambda c: (-c["attempted"], c["name"])))
