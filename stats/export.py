"""Getting the figures out: a report as table, CSV or JSON, and the raw per-call data file ("rådatafil").

The raw file has one row per call — its outcome, its times and a compact
timeline of its events — for QlikView, Power BI or a spreadsheet. It carries
no personal data (caller number, operator and staff names, what the caller
said to the directory) unless an administrator asks for it explicitly; every
such export is written to the audit log (``stats.personal_export``: who, which
range and filters, which format, from where) before its first row is read.
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime
from typing import Any, Iterable, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from core import csvsafe
from stats import definitions as defs
from stats.definitions import Definitions
from stats.models import CallEvent, CallFact
from stats.report import Filters, _where

FORMATS = ("table", "csv", "json")
BATCH = 2000


def _json_default(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=1, default=_json_default)


def _rows(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _rows(f"{prefix}.{k}" if prefix else str(k), v)
    elif isinstance(value, list) and value and isinstance(value[0], dict):
        for i, item in enumerate(value):
            name = next((str(item[k]) for k in ("key", "period", "called", "operator", "query") if k in item), str(i))
            yield from _rows(f"{prefix}.{name}", {k: v for k, v in item.items() if k != "children"})
            if item.get("children"):
                yield from _rows(f"{prefix}.{name}", {"children": item["children"]})
    elif isinstance(value, list):
        if value and isinstance(value[0], list):  # the heatmap: one row per hour
            for i, row in enumerate(value):
                yield f"{prefix}.{i:02d}", " ".join(str(x) for x in row)
        else:
            yield prefix, ",".join("" if x is None else str(x) for x in value)
    else:
        yield prefix, value


def to_csv(report: dict[str, Any]) -> str:
    """Long format (section, metric, value): one line per figure, easy to pivot in a spreadsheet."""
    buf = io.StringIO()
    writer = csvsafe.writer(buf)  # no cell can start a formula in a spreadsheet
    writer.writerow(["section", "metric", "value"])
    for path, value in _rows("", report):
        section, _, metric = path.partition(".")
        writer.writerow([section, metric, "" if value is None else (round(value, 2) if isinstance(value, float)
                                                                    else value)])
    return buf.getvalue()


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f} %"


def _secs(value: float | None) -> str:
    if value is None:
        return "–"
    value = int(round(value))
    return f"{value // 60}:{value % 60:02d}"


def tile_value(tile: dict[str, Any]) -> str:
    return _secs(tile["value"]) if tile["unit"] == "s" else _pct(tile["value"])


def to_table(r: dict[str, Any]) -> str:
    """A plain-text report for the terminal."""
    f, c, s = r["filters"], r["calls"], r["speed"]
    lines = [f"Statistik {f['start']} – {f['end']}" + _filter_text(f), ""]
    lines.append("Servicemål")
    for t in r["tiles"]:
        lines.append(f"  {t['label']:<34} {tile_value(t):>9}   {t['target_text']:<22} [{t['light']['text']}]")
    lines += ["", "Samtal",
              f"  inkommande {c['total']}, utanför telefontid {c['closed']}, avslutade i menyn (IVR) {c['ivr_exits']}",
              f"  erbjudna i kö {c['offered']}: besvarade {c['answered']}, tappade {c['abandoned']}, "
              f"till återuppringning {c['callbacks_from_queue']}, ej avslutade {c['unfinished']}; "
              f"korta avhopp (≤ {r['definitions']['short_abandon_seconds']} s, räknas inte) {c['short_abandoned']}",
              f"  direkt kopplade och besvarade {c['reached_by_transfer']}, åter till kundcenter {c['returned_to_queue']}",
              f"  väntetid medel {_secs(s['asa'])}, 90:e percentil {_secs(s['asa_p90'])}, längsta "
              f"{_secs(s['longest_wait'])}; samtalstid {_secs(s['talk_mean'])}, hanteringstid {_secs(s['handle_mean'])}"
              f"; tid till svar inkl. koppling {_secs(s['reach_mean'])}"]
    for q in r.get("by_queue", []):
        lines.append(f"  kö {q['name'][:24]:<24} erbjudna {q['offered']}, besvarade {q['answered']}, tappade "
                     f"{q['abandoned']}, återuppringning {q['callbacks']}, åter {q['returned']}, väntetid "
                     f"{_secs(q['asa'])}")
    t = r["transfers"]
    lines += ["", f"Kopplingar: {t['attempted']} försök, {t['answered']} besvarade, {t['returned']} åter, "
                  f"nådda {_pct(t['reach_rate'])}; ej svar: "
                  + (", ".join(f"{k} {v}" for k, v in t["failed"].items()) or "–")]
    for dep in t["by_department"]:
        lines.append(f"  {dep['name'][:40]:<40} {dep['attempted']:>7} {dep['answered']:>7} {_pct(dep['reach_rate']):>8}")
    cb = r["callbacks"]
    lines += ["", f"Återuppringningar: {cb['requested']} begärda, {cb['completed']} klara, {cb['failed']} misslyckade, "
                  f"{cb['cancelled']} avbrutna, {cb['pending']} väntar; försök per klar "
                  f"{'–' if cb['attempts_per_completion'] is None else round(cb['attempts_per_completion'], 2)}, "
                  f"tid till kontakt {_secs(cb['contact_mean_seconds'])}"]
    if r.get("requests_by_unit"):
        lines += ["", f"  {'Meddelanden och återuppringningar per enhet':<40} {'tagna':>6} {'besv.':>6} "
                      f"{'i tid':>8} {'försen.':>7} {'missl.':>6} {'öppna':>6}"]
        for u in r["requests_by_unit"]:
            lines.append(f"  {u['key'][:40]:<40} {u['taken']:>6} {u['answered']:>6} {_pct(u['in_time_rate']):>8} "
                         f"{u['overdue']:>7} {u['failed']:>6} {u['open']:>6}")
    m, dr = r["menu"], r["directory"]
    lines += ["", "Meny: " + ", ".join(f"{k} {v}" for k, v in m["choices"].items())
              + f"; fel knapp {_pct(m['invalid_rate'])}, inget svar {_pct(m['no_input_rate'])}",
              f"Katalogen: {dr['lookups']} sökningar, {dr['matched']} med träff, {dr['unmatched']} utan"]
    for q in dr["top_unmatched"]:
        lines.append(f"  {q['calls']:>6}  {q['query']}")
    res = r["resolved"]
    lines += ["", f"Avslutskoder: {res['wrapups']}, lösta i kundcenter {_pct(res['share'])}"]
    lines += ["", "Per månad: period, samtal, erbjudna, besvarade, tappade, servicenivå växeln, kundtjänst"]
    for row in r["by_month"]:
        lines.append(f"  {row['period']}  {row['calls']:>8} {row['offered']:>8} {row['answered']:>8} "
                     f"{row['abandoned']:>7} {_pct(row['service_level_switchboard']):>8} "
                     f"{_pct(row['service_level_service']):>8}")
    return "\n".join(lines) + "\n"


def _filter_text(f: dict[str, Any]) -> str:
    parts = []
    if f["weekdays"]:
        parts.append("veckodagar " + ",".join(map(str, f["weekdays"])))
    if (f["hour_from"], f["hour_to"]) != (0, 24):
        parts.append(f"kl {f['hour_from']:02d}–{f['hour_to']:02d}")
    if f["called"]:
        parts.append("nummer " + ",".join(f["called"]))
    if f["queue"]:
        parts.append(f"kö {f.get('queue_name') or f['queue']}")
    if f["department"]:
        parts.append(f"enhet {f['department']}")
    return f" ({'; '.join(parts)})" if parts else ""


# --- the raw data file ---------------------------------------------------------------------------

RAW_COLUMNS = ["call_id", "channel", "started_at", "ended_at", "local_date", "local_hour", "weekday", "called",
               "lang", "closed", "menu_choice", "invalid_inputs", "timeouts", "lookups", "lookups_matched", "queue",
               "queue_returned", "queue_outcome", "wait_seconds", "short_abandon", "line", "answered_within_target",
               "transfers", "transfers_answered", "transfers_returned", "forvaltning", "avdelning", "enhet",
               "answered_by", "reach_seconds", "talk_seconds", "end_reason", "outcome", "callback_kind",
               "callback_status", "callback_attempts", "callback_contact_seconds", "callback_unit",
               "callback_answered_by", "callback_due_by", "wrapup_outcome", "wrapup_seconds", "timeline"]
PERSONAL_COLUMNS = ["caller", "operator", "wrapup_operator", "unmatched_query"]
# event details safe to show without the personal flag, per event type
SAFE_DETAILS = {"hours_checked": ("open",), "menu_choice": ("option",), "input_invalid": ("digits",),
                "transfer_failed": ("reason",), "returned_to_queue": ("reason",), "queue_joined": ("position",),
                "queue_left": ("reason", "waited"), "callback_requested": ("when",),
                "callback_attempt": ("attempt", "outcome"), "call_ended": ("reason",),
                "operator_wrapup": ("outcome",), "directory_lookup": ("matched",)}
PERSONAL_DETAILS = {"call_started": ("caller",), "directory_lookup": ("query",), "transfer_started": ("target",),
                    "transfer_answered": ("target",), "queue_left": ("operator",), "operator_wrapup": ("operator",)}


def timeline(events: Iterable[CallEvent], personal: bool) -> str:
    """'+0 call_started; +8 menu_choice(option=case); +70 queue_left(reason=answered, waited=61)' ..."""
    events = list(events)
    if not events:
        return ""
    start = min(e.at for e in events)
    parts = []
    for e in events:
        keys = SAFE_DETAILS.get(e.type, ()) + (PERSONAL_DETAILS.get(e.type, ()) if personal else ())
        details = ", ".join(f"{k}={e.data[k]}" for k in keys if (e.data or {}).get(k) not in (None, ""))
        parts.append(f"+{int((e.at - start).total_seconds())} {e.type}" + (f"({details})" if details else ""))
    return "; ".join(parts)


def cli_user() -> str:
    """Who runs a command, for the audit log: ``cli:`` and the operating-system account."""
    try:
        import getpass

        return f"cli:{getpass.getuser()}"[:80]
    except Exception:  # no account name (a container without one): still say it was the command line
        return "cli"


def audit_personal_export(session: Session, user: str, f: Filters, fmt: str, via: str) -> None:
    """Record an export of personal data (who, range and filters, format, api/cli); the caller commits."""
    from core import audit

    audit.record(session, user, "stats.personal_export", "calls", f"{f.start}..{f.end}",
                 after=dict(filters=f.to_dict(), format=fmt, via=via, columns=PERSONAL_COLUMNS),
                 note=f"raw call data with personal columns, {f.start} – {f.end}")


def raw_rows(session: Session, f: Filters, d: Definitions, personal: bool = False,
             tz: ZoneInfo | None = None, audit_as: str | None = "cli") -> Iterator[dict[str, Any]]:
    """One dict per call in ``f``, oldest first, read in batches (a year is a million rows).

    With ``personal`` the export is audited as ``audit_as`` (the command line's account by default) and committed
    before the first row is read; ``audit_as=None`` only when the caller has audited it already (the web view)."""
    from stats.facts import timezone

    tz = tz or timezone()
    if personal and audit_as is not None:
        audit_personal_export(session, cli_user() if audit_as == "cli" else audit_as, f, "file", "cli")
        session.commit()
    last: tuple[datetime, str] | None = None
    while True:
        query = select(CallFact).where(*_where(CallFact, f))
        if last is not None:
            query = query.where(or_(CallFact.started_at > last[0],
                                    and_(CallFact.started_at == last[0], CallFact.call_id > last[1])))
        batch = list(session.scalars(query.order_by(CallFact.started_at, CallFact.call_id).limit(BATCH)))
        if not batch:
            return
        last = (batch[-1].started_at, batch[-1].call_id)
        by_call: dict[str, list[CallEvent]] = {}
        for e in session.scalars(select(CallEvent).where(CallEvent.call_id.in_([x.call_id for x in batch]))
                                 .order_by(CallEvent.call_id, CallEvent.step, CallEvent.seq)):
            by_call.setdefault(e.call_id, []).append(e)
        for fact in batch:
            yield _raw(fact, by_call.get(fact.call_id, []), d, personal, tz)
        session.expunge_all()


def _raw(x: CallFact, events: list[CallEvent], d: Definitions, personal: bool, tz: ZoneInfo) -> dict[str, Any]:
    line = d.line(x.menu_choice) if x.queued else None
    within = None
    if x.queue_outcome == "answered" and x.wait_seconds is not None:
        within = int(x.wait_seconds <= d.answer_seconds(line))
    row = dict(
        call_id=x.call_id, channel=x.channel, started_at=x.started_at.astimezone(tz).isoformat(),
        ended_at=x.ended_at.astimezone(tz).isoformat() if x.ended_at else None, local_date=x.local_date.isoformat(),
        local_hour=x.local_hour, weekday=x.local_weekday, called=x.called, lang=x.lang, closed=x.closed,
        menu_choice=x.menu_choice, invalid_inputs=x.invalid_inputs, timeouts=x.timeouts, lookups=x.lookups,
        lookups_matched=x.lookups_matched, queue=x.queue, queue_returned=x.queue_returned,
        queue_outcome=x.queue_outcome, wait_seconds=x.wait_seconds,
        short_abandon=int(defs.is_short_abandon(x.queue_outcome, x.wait_seconds, d.short_abandon_seconds)),
        line=line, answered_within_target=within, transfers=x.transfers, transfers_answered=x.transfers_answered,
        transfers_returned=x.transfers_returned, forvaltning=x.forvaltning, avdelning=x.avdelning, enhet=x.enhet,
        answered_by=x.answered_by, reach_seconds=x.reach_seconds, talk_seconds=x.talk_seconds,
        end_reason=x.end_reason, outcome=x.outcome, callback_kind=x.cb_kind, callback_status=x.cb_status,
        callback_attempts=x.cb_attempts, callback_contact_seconds=x.cb_contact_seconds,
        **_callback_purpose(events),
        wrapup_outcome=x.wrapup_outcome, wrapup_seconds=x.wrapup_seconds if x.wrapups else None,
        timeline=timeline(events, personal),
    )
    if personal:
        started = next((e for e in events if e.type == "call_started"), None)
        row.update(caller=(started.data or {}).get("caller") if started else None, operator=x.operator,
                   wrapup_operator=x.wrapup_operator, unmatched_query=x.unmatched_query)
    return row


def _callback_purpose(events: list[CallEvent]) -> dict[str, Any]:
    """Whom the call's callback was for (the unit, who answers, the promise), from its callback_requested event."""
    data = next(((e.data or {}) for e in events if e.type == "callback_requested"), {})
    return {"callback_unit": data.get("unit"), "callback_answered_by": data.get("answered_by"),
            "callback_due_by": data.get("due_by")}


def raw_csv(rows: Iterable[dict[str, Any]], personal: bool = False) -> Iterator[str]:
    """The raw file as CSV text, a chunk at a time (for streaming responses and files alike)."""
    columns = RAW_COLUMNS + (PERSONAL_COLUMNS if personal else [])
    buf = io.StringIO()
    writer = csvsafe.writer(buf)  # no cell can start a formula in a spreadsheet; E.164 numbers stay as they are
    writer.writerow(columns)
    for i, row in enumerate(rows, start=1):
        writer.writerow([row.get(column) for column in columns])
        if i % 500 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def raw_json(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The raw file as one JSON array, streamed."""
    yield "["
    for i, row in enumerate(rows):
        yield ("," if i else "") + "\n" + json.dumps(row, ensure_ascii=False)
    yield "\n]\n"
