"""The report engine: any date range and filters -> every figure of :mod:`stats.definitions`.

A handful of SQL aggregates over ``call_facts`` and ``transfer_facts`` (one
scan each), grouped finely enough that everything else — the hour × weekday
heatmap, days, weeks, months, the two service lines — is summed up in Python
from a few thousand rows. Aggregates are plain integer SUM/COUNT/MAX and
percentiles come from a histogram of whole seconds, so SQLite and PostgreSQL
return the very same numbers.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import Any, Mapping

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.orm import Session

from stats import definitions as defs
from stats.definitions import Definitions
from stats.models import CallFact, TransferFact

WEEKDAYS_SV = ("mån", "tis", "ons", "tor", "fre", "lör", "sön")
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
            raise FilterError(f"the range ends ({self.end}) before it starts ({self.start})")
        if not 0 <= self.hour_from < self.hour_to <= 24:
            raise FilterError("hours run from 0 to 24, e.g. 8-12 (08:00 to 11:59)")
        if any(not 1 <= w <= 7 for w in self.weekdays):
            raise FilterError("weekdays are 1 (Monday) to 7 (Sunday)")

    @classmethod
    def parse(cls, args: Mapping[str, Any], today: date, default_days: int = 30) -> "Filters":
        """From query-string or CLI values: from, to (YYYY-MM-DD), weekday (1,2 or mon,tue), hours (8-12),
        called, queue, department."""
        try:
            end = date.fromisoformat(args["to"]) if args.get("to") else today
            start = date.fromisoformat(args["from"]) if args.get("from") else end - timedelta(days=default_days - 1)
        except ValueError as exc:
            raise FilterError(f"dates are YYYY-MM-DD ({exc})") from None
        return cls(start, end, weekdays=parse_weekdays(args.get("weekday") or ""),
                   **dict(zip(("hour_from", "hour_to"), parse_hours(args.get("hours") or ""))),
                   called=tuple(c.strip() for c in str(args.get("called") or "").split(",") if c.strip()),
                   queue=(args.get("queue") or None), department=(args.get("department") or None))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["start"], d["end"] = self.start.isoformat(), self.end.isoformat()
        return d


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
            raise FilterError(f"weekday {part!r}: use 1-7 or mon..sun")
    return tuple(sorted(set(out)))


def parse_hours(text: str) -> tuple[int, int]:
    text = str(text).strip()
    if not text:
        return 0, 24
    try:
        a, b = text.split("-")
        return int(a), int(b)
    except ValueError:
        raise FilterError(f"hours {text!r}: use FROM-TO in whole hours, e.g. 8-12") from None


def _where(model, f: Filters, *, own_units: bool = True) -> list:
    conds = [model.local_date >= f.start, model.local_date <= f.end]
    if f.weekdays:
        conds.append(model.local_weekday.in_(f.weekdays))
    if (f.hour_from, f.hour_to) != (0, 24):
        conds += [model.local_hour >= f.hour_from, model.local_hour < f.hour_to]
    if f.called:
        conds.append(model.called.in_(f.called))
    if f.queue:
        conds.append(model.queue == f.queue)
    if f.department:
        conds.append(or_(model.forvaltning == f.department, model.avdelning == f.department,
                         model.enhet == f.department))
    return conds


def _sum(expr):
    return func.coalesce(func.sum(expr), 0)


def _flag(cond):
    return _sum(case((cond, 1), else_=0))


# --- the queries -----------------------------------------------------------------------------------

CUBE_MEASURES = ("calls", "closed", "english", "invalid_calls", "timeout_calls", "invalid_inputs", "timeouts",
                 "lookups", "lookups_matched", "queued", "queue_returned", "answered", "abandoned", "queue_callback",
                 "short", "within_switchboard", "within_service", "answer_seconds", "transfers",
                 "transfers_answered", "transfers_returned", "transfer_hangup", "reached_by_transfer", "ivr_exits",
                 "talked", "centre_talk_seconds", "wrapups", "resolved", "wrapup_seconds", "cb_requested",
                 "cb_completed", "cb_failed", "cb_cancelled", "cb_attempts", "cb_contact_seconds", "reach_calls",
                 "reach_seconds")


def _cube(session: Session, f: Filters, d: Definitions) -> list[tuple]:
    c = CallFact
    short = d.short_abandon_seconds if d.short_abandon_seconds > 0 else -1
    measures = [
        func.count(), _sum(c.closed), _sum(c.english), _flag(c.invalid_inputs > 0), _flag(c.timeouts > 0),
        _sum(c.invalid_inputs), _sum(c.timeouts), _sum(c.lookups), _sum(c.lookups_matched), _sum(c.queued),
        _sum(c.queue_returned), _sum(c.answered), _sum(c.abandoned), _sum(c.queue_callback),
        _flag(and_(c.abandoned == 1, c.wait_seconds <= short)),
        _flag(and_(c.answered == 1, c.wait_seconds <= d.switchboard_answer_seconds)),
        _flag(and_(c.answered == 1, c.wait_seconds <= d.service_answer_seconds)),
        _sum(c.answer_seconds), _sum(c.transfers), _sum(c.transfers_answered), _sum(c.transfers_returned),
        _sum(c.transfer_hangup), _flag(c.outcome == "transferred"), _flag(c.outcome == "ivr_exit"),
        _flag(and_(c.answered == 1, c.talk_seconds.is_not(None))), _sum(c.centre_talk_seconds), _sum(c.wrapups),
        _sum(c.resolved), _sum(c.wrapup_seconds), _sum(c.cb_requested), _sum(c.cb_completed), _sum(c.cb_failed),
        _sum(c.cb_cancelled), _sum(c.cb_attempts), _sum(c.cb_contact_seconds), func.count(c.reach_seconds),
        _sum(c.reach_seconds),
    ]
    keys = (c.local_date, c.local_hour, c.menu_choice, c.called)
    return session.execute(select(*keys, *measures).where(*_where(c, f)).group_by(*keys)).all()


def _waits(session: Session, f: Filters) -> list[tuple]:
    c = CallFact
    keys = (c.menu_choice, c.queue_outcome, c.wait_seconds)
    return session.execute(select(*keys, func.count()).where(*_where(c, f), c.queued == 1,
                                                             c.wait_seconds.is_not(None)).group_by(*keys)).all()


def _operators(session: Session, f: Filters) -> list[tuple]:
    c = CallFact
    who = func.coalesce(c.operator, c.wrapup_operator, literal("(okänd)"))
    keys = (who, c.wrapup_outcome)
    measures = (_sum(c.answered), _sum(c.answer_seconds), _flag(and_(c.answered == 1, c.talk_seconds.is_not(None))),
                _sum(c.centre_talk_seconds), _sum(c.wrapups), _sum(c.resolved), _sum(c.wrapup_seconds))
    return session.execute(select(*keys, *measures).where(*_where(c, f), or_(c.answered == 1, c.wrapups == 1))
                           .group_by(*keys)).all()


def _unmatched(session: Session, f: Filters, top: int) -> list[tuple]:
    c = CallFact
    n = func.count().label("n")
    return session.execute(select(c.unmatched_query, n).where(*_where(c, f), c.unmatched_query.is_not(None))
                           .group_by(c.unmatched_query).order_by(n.desc(), c.unmatched_query).limit(top)).all()


def _transfers(session: Session, f: Filters) -> list[tuple]:
    t = TransferFact
    keys = (t.forvaltning, t.avdelning, t.enhet, t.target_id, t.outcome, t.reason, t.returned)
    return session.execute(select(*keys, func.max(t.target), func.max(t.unit_name), func.count())
                           .where(*_where(t, f)).group_by(*keys)).all()


def _unit_names(session: Session) -> dict[str, str]:
    from directory.models import Unit

    return dict(session.execute(select(Unit.slug, Unit.name)).all())


# --- assembling ------------------------------------------------------------------------------------


@dataclass
class Bucket:
    """Summed measures of some set of cube rows (a day, an hour, a service line ...)."""

    m: Counter = field(default_factory=Counter)

    def add(self, values: Mapping[str, int]) -> None:
        self.m.update(values)

    def __getitem__(self, key: str) -> int:
        return self.m[key]


def _line_figures(b: Bucket, line: str, d: Definitions, waits: list[tuple[int, int]]) -> dict[str, Any]:
    within = b[f"within_{line}"]
    abandoned = b["abandoned"] - b["short"]
    value = defs.service_level(within, b["answered"], abandoned, d.abandoned_in_denominator)
    return dict(value=value, target=d.target_percent(line), seconds=d.answer_seconds(line), within=within,
                answered=b["answered"], abandoned=abandoned, offered=b["queued"] - b["short"],
                asa=defs.mean(b["answer_seconds"], b["answered"]), asa_p90=defs.percentile(waits, 0.9),
                light=asdict(defs.light(value, d.target_percent(line), True, d.amber_margin_percent)))


def _period_row(key: str, b: Bucket, d: Definitions) -> dict[str, Any]:
    abandoned = b["abandoned"] - b["short"]
    offered = b["queued"] - b["short"]
    return dict(period=key, calls=b["calls"], offered=offered, answered=b["answered"], abandoned=abandoned,
                ivr_exits=b["ivr_exits"], closed=b["closed"],
                service_level_switchboard=defs.service_level(b["sw_within"], b["sw_answered"], b["sw_abandoned"],
                                                             d.abandoned_in_denominator),
                service_level_service=defs.service_level(b["cs_within"], b["cs_answered"], b["cs_abandoned"],
                                                         d.abandoned_in_denominator),
                lost_percent=defs.share(abandoned, offered), asa=defs.mean(b["answer_seconds"], b["answered"]))


def week_of(day: date) -> str:
    y, w, _ = day.isocalendar()
    return f"{y}-W{w:02d}"


def build(session: Session, f: Filters, d: Definitions, top: int = TOP_QUERIES) -> dict[str, Any]:
    """Every figure for the calls ``f`` selects, as plain data (JSON-ready)."""
    total, lines = Bucket(), {"switchboard": Bucket(), "service": Bucket()}
    days: dict[date, Bucket] = defaultdict(Bucket)
    heat = [[0] * 7 for _ in range(24)]
    choices: Counter = Counter()
    entries: Counter = Counter()
    longest = 0
    for row in _cube(session, f, d):
        day, hour, choice, called = row[:4]
        values = dict(zip(CUBE_MEASURES, (int(v or 0) for v in row[4:])))
        line = d.line(choice)
        tag = "sw" if line == "switchboard" else "cs"
        values.update({f"{tag}_within": values[f"within_{line}"], f"{tag}_answered": values["answered"],
                       f"{tag}_abandoned": values["abandoned"] - values["short"]})
        total.add(values)
        lines[line].add(values)
        days[day].add(values)
        heat[hour][day.isoweekday() - 1] += values["calls"]
        choices[choice or "none"] += values["calls"] - (values["closed"] if choice is None else 0)
        entries[called or "okänt"] += values["calls"]

    hist: dict[str, list[tuple[int, int]]] = {"switchboard": [], "service": []}
    offered_waits: list[tuple[int, int]] = []
    short = d.short_abandon_seconds
    for choice, outcome, wait, n in _waits(session, f):
        if outcome == "answered":
            hist[d.line(choice)].append((wait, n))
        if not defs.is_short_abandon(outcome, wait, short):
            offered_waits.append((wait, n))
            longest = max(longest, wait)
    answered_hist = hist["switchboard"] + hist["service"]

    abandoned = total["abandoned"] - total["short"]
    offered = total["queued"] - total["short"]
    lost = defs.share(abandoned, offered)
    asa = defs.mean(total["answer_seconds"], total["answered"])
    resolved = defs.share(total["resolved"], total["wrapups"])
    margin = d.amber_margin_percent

    operators: dict[str, Counter] = defaultdict(Counter)
    wrapup_outcomes: Counter = Counter()
    for who, outcome, *values in _operators(session, f):
        operators[who].update(dict(zip(("answered", "answer_seconds", "talked", "talk_seconds", "wrapups",
                                        "resolved", "wrapup_seconds"), (int(v or 0) for v in values))))
        if outcome:
            wrapup_outcomes[outcome] += int(values[4] or 0)

    transfers = _transfer_tree(_transfers(session, f), _unit_names(session))
    tiles = [
        dict(key="switchboard", label="Växeln: svar inom {} s".format(d.switchboard_answer_seconds),
             label_en=f"Switchboard: answered within {d.switchboard_answer_seconds} s", unit="%",
             target_text=f"mål ≥ {d.switchboard_target_percent:g} %",
             **_line_figures(lines["switchboard"], "switchboard", d, hist["switchboard"])),
        dict(key="service", label=f"Kundtjänst: svar inom {_minutes(d.service_answer_seconds)}",
             label_en=f"Customer service: answered within {_minutes(d.service_answer_seconds)}", unit="%",
             target_text=f"mål ≥ {d.service_target_percent:g} %",
             **_line_figures(lines["service"], "service", d, hist["service"])),
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
    by_day = [_period_row(day.isoformat(), days[day], d) for day in sorted(days)]
    weeks: dict[str, Bucket] = defaultdict(Bucket)
    months: dict[str, Bucket] = defaultdict(Bucket)
    for day, b in days.items():
        weeks[week_of(day)].add(b.m)
        months[day.strftime("%Y-%m")].add(b.m)
    return {
        "filters": f.to_dict(),
        "definitions": asdict(d),
        "calls": dict(total=total["calls"], closed=total["closed"], ivr_exits=total["ivr_exits"],
                      reached_by_transfer=total["reached_by_transfer"], transfer_hangups=total["transfer_hangup"],
                      queued=total["queued"], short_abandoned=total["short"], offered=offered,
                      answered=total["answered"], abandoned=abandoned, callbacks_from_queue=total["queue_callback"],
                      returned_to_queue=total["queue_returned"],
                      unfinished=offered - total["answered"] - abandoned - total["queue_callback"],
                      english=total["english"]),
        "tiles": tiles,
        "speed": dict(asa=asa, asa_p90=defs.percentile(answered_hist, 0.9), longest_wait=longest if offered_waits else None,
                      talk_mean=defs.mean(total["centre_talk_seconds"], total["talked"]),
                      handle_mean=defs.mean(total["centre_talk_seconds"] + total["wrapup_seconds"], total["talked"]),
                      reach_mean=defs.mean(total["reach_seconds"], total["reach_calls"])),
        "transfers": dict(attempted=total["transfers"], answered=total["transfers_answered"],
                          returned=total["transfers_returned"],
                          reach_rate=defs.share(total["transfers_answered"], total["transfers"]), **transfers),
        "resolved": dict(wrapups=total["wrapups"], resolved=total["resolved"], share=resolved,
                         by_outcome={k: wrapup_outcomes.get(k, 0) for k in defs.WRAPUP_OUTCOMES}),
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
                          top_unmatched=[dict(query=q, calls=n) for q, n in _unmatched(session, f, top)]),
        "heatmap": dict(weekdays=list(WEEKDAYS_SV), hours=list(range(24)), calls=heat),
        "by_day": by_day,
        "by_week": [_period_row(k, weeks[k], d) for k in sorted(weeks)],
        "by_month": [_period_row(k, months[k], d) for k in sorted(months)],
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
    """Transfers summed per förvaltning, avdelning, enhet and person, with the reach rate of each."""
    reasons: Counter = Counter()
    nodes: dict[tuple, dict[str, Any]] = {}

    def node(level: str, key: tuple, name: str) -> dict[str, Any]:
        if key not in nodes:
            nodes[key] = dict(level=level, key=key[-1], name=name, attempted=0, answered=0, returned=0,
                              failed=Counter(), children=[])
        return nodes[key]

    tops: list[dict[str, Any]] = []
    for forv, avd, enh, target_id, outcome, reason, returned, target, unit_name, n in rows:
        forv_key = forv or f"?{unit_name}"
        chain = [node("forvaltning", ("f", forv_key), names.get(forv, forv or f"okänd ({unit_name})"))]
        if avd:
            chain.append(node("avdelning", ("f", forv_key, "a", avd), names.get(avd, avd)))
        if enh:
            chain.append(node("enhet", ("f", forv_key, "a", avd, "e", enh), names.get(enh, enh)))
        person_key = (*("f", forv_key, "a", avd, "e", enh), "p", target_id)
        chain.append(node("person", person_key, target))
        for item in chain:
            item["attempted"] += n
            item["answered"] += n if outcome == "answered" else 0
            item["returned"] += n * returned
            if outcome == "failed" and reason:
                item["failed"][reason] += n
        if outcome == "failed" and reason:
            reasons[reason] += n
        for parent, child in zip(chain, chain[1:]):
            if child not in parent["children"]:
                parent["children"].append(child)
        if chain[0] not in tops:
            tops.append(chain[0])

    def finish(item: dict[str, Any]) -> dict[str, Any]:
        item["reach_rate"] = defs.share(item["answered"], item["attempted"])
        item["failed"] = dict(sorted(item["failed"].items()))
        item["children"] = sorted((finish(c) for c in item["children"]), key=lambda c: (-c["attempted"], c["name"]))
        return item

    return dict(failed=dict(sorted(reasons.items())),
                by_department=sorted((finish(t) for t in tops), key=lambda c: (-c["attempted"], c["name"])))
