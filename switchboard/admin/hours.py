"""The phone-hours editor: weekly hours, the holiday calendar, special days, closures and crisis messages.

Every change is validated (a bad interval is refused with the reason), audited,
and takes effect for the next call. The preview runs a test call at any moment:
"what does a caller hear at 12:15 on Tuesday?".
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from directory.models import Unit
from ivr import hours, speech
from ivr.models import Closure, PhoneHours, SpecialDay
from ivr.schedules import weekly_of
from core import audit
from core.text import N_, Text
from switchboard import testcall
from switchboard.i18n import language, translated
from core.services import services
from core.clock import YEARS, parse_instant
from switchboard.seed import published_flow

bp = Blueprint("hoursadmin", __name__, template_folder="templates")


SPAN = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?\s*[-–—]\s*(\d{1,2})(?:[:.](\d{2}))?$")


def span(text: str) -> str:
    """One span as people write it ("8-17", "8.30–16", "08:00-12:00") in the stored form "08:00-17:00"."""
    match = SPAN.match(text.strip())
    if match is None:
        raise ValueError(N_("”%(text)s” är inga tider; skriv till exempel 8-17 eller 08:00-12:00, 13:00-15:00",
                            text=text.strip()))
    start_h, start_m, end_h, end_m = match.groups()
    return f"{int(start_h):02d}:{start_m or '00'}-{int(end_h):02d}:{end_m or '00'}"


def _intervals(text: str) -> list[str]:
    """'8-12, 13:00-15:00' -> ['08:00-12:00', '13:00-15:00'], validated; '' -> closed. Errors in Swedish."""
    items = [span(part) for part in text.replace(";", ",").split(",") if part.strip()]
    try:
        hours.parse_intervals(items)
    except ValueError:
        raise ValueError(N_("tiderna %(spans)s går inte ihop: en tid slutar innan den börjar, ligger utanför dygnet "
                            "eller överlappar en annan", spans=", ".join(items))) from None
    return items


def _done(message: str):
    flash(message)
    return redirect(url_for("hoursadmin.page", **({"year": request.form["year"]} if request.form.get("year") else {})))


def _refuse(message):
    flash(_("Inte sparat: %(reason)s", reason=translated(message)))
    return redirect(url_for("hoursadmin.page"))


def _calendar(year: int, tz) -> list[dict]:
    """Every holiday and eve of the year, as the switchboard will treat them."""
    days = []
    day = date(year, 1, 1)
    while day.year == year:
        name = hours.holiday_name(day)
        if name or hours.is_eve(day):
            lang = language()
            name = hours.holiday_name(day, lang) or _("dag före %(holiday)s",
                                                      holiday=hours.holiday_name(day + timedelta(days=1), lang))
            days.append({"day": day, "name": name, "kind": "eve" if hours.is_eve(day) else "holiday",
                         "weekday": speech.DAYS[lang][day.weekday()]})
        day += timedelta(days=1)
    return days


@bp.get("/admin/hours")
def page():
    svc = services()
    now = svc.clock.now()
    year = request.args.get("year", type=int) or now.year
    if not YEARS[0] <= year <= YEARS[1]:
        return (_("Året måste ligga mellan %(first)s och %(last)s.", first=YEARS[0], last=YEARS[1]), 400,
                {"Content-Type": "text/plain; charset=utf-8"})
    preview = None
    with svc.sessions() as session:
        rows = list(session.scalars(select(PhoneHours).order_by(PhoneHours.key != "switchboard", PhoneHours.name)))
        schedules = [{"key": r.key, "name": r.name, "weekly": r.weekly, "eve_close": r.eve_close or "",
                      "observe_holidays": r.observe_holidays} for r in rows]
        if not any(s["key"] == "switchboard" for s in schedules):
            schedules.insert(0, {"key": "switchboard", "name": _("Växeln"), "weekly": weekly_of(session, "switchboard"),
                                 "eve_close": "", "observe_holidays": True})
        keys = {s["key"] for s in schedules}
        units = [u for u in session.scalars(select(Unit).order_by(Unit.name)) if f"unit:{u.slug}" not in keys]
        specials = list(session.scalars(select(SpecialDay).order_by(SpecialDay.day)))
        notices = list(session.scalars(select(Closure).where(Closure.ends_at > now - timedelta(days=7))
                                       .order_by(Closure.starts_at)))
        if request.args.get("preview_at"):
            try:
                at = parse_instant(request.args["preview_at"], svc.clock.tz)
                flow = published_flow(session)
                preview = {"at": at, **testcall.run(svc.sessions, svc.settings, flow.document, at, [])}
            except ValueError as exc:
                flash(translated(exc.args[0]))
    special_by_day = {(s.scope, s.day): s for s in specials}
    scope_names = {"switchboard": _("Växeln"), "*": _("alla")} | {s["key"]: s["name"] for s in schedules if s["key"] != "switchboard"}
    return render_template("hours_admin.html", schedules=schedules, units=units, scope_names=scope_names,
                           specials=[s for s in specials if s.day >= now.date()],
                           special_by_day=special_by_day, notices=notices,
                           calendar=[d for d in _calendar(year, svc.clock.tz) if d["day"] >= now.date()],
                           year=year, weekdays=hours.WEEKDAYS, day_names=speech.DAYS[language()], now=now,
                           preview=preview, default_eve=svc.settings["hours"]["eve_close"])


@bp.post("/admin/hours/schedule")
def save_schedule():
    key = request.form.get("key", "")
    svc = services()
    with svc.sessions() as session:
        if key != "switchboard" and not key.startswith("unit:"):
            return _refuse(_("okänt schema %(key)s", key=key))
        name = "Växeln"
        if key.startswith("unit:"):
            unit = session.scalar(select(Unit).where(Unit.slug == key[5:]))
            if unit is None:
                return _refuse(_("okänd enhet %(unit)s", unit=key[5:]))
            name = unit.name
        try:
            weekly = {day: _intervals(request.form.get(f"day__{day}", "")) for day in hours.WEEKDAYS}
            eve = request.form.get("eve_close", "").strip()
            if eve:
                hours.parse_time(eve)
        except ValueError as exc:
            return _refuse(exc.args[0])
        weekly = {day: spans for day, spans in weekly.items() if spans}
        row = session.scalar(select(PhoneHours).where(PhoneHours.key == key))
        before = None if row is None else {"weekly": row.weekly, "eve_close": row.eve_close,
                                           "observe_holidays": row.observe_holidays}
        if row is None:
            row = PhoneHours(key=key, name=name)
            session.add(row)
        row.weekly, row.eve_close = weekly, eve or None
        row.observe_holidays = bool(request.form.get("observe_holidays"))
        audit.record(session, audit.who(), "hours.schedule_save", "phone_hours", key, before=before,
                     after={"weekly": weekly, "eve_close": row.eve_close, "observe_holidays": row.observe_holidays})
        session.commit()
    return _done(_("Telefontiderna för %(name)s är sparade.", name=name))


@bp.post("/admin/hours/special")
def save_special():
    svc = services()
    try:
        day = date.fromisoformat(request.form.get("day", ""))
        spans = [] if request.form.get("closed") else _intervals(request.form.get("intervals", ""))
    except ValueError as exc:
        return _refuse(exc.args[0] if isinstance(exc.args[0], Text) else
                       _("”%(day)s” är inget datum; välj ett.", day=request.form.get("day", "")))
    scope = request.form.get("scope") or "switchboard"
    with svc.sessions() as session:
        row = session.scalar(select(SpecialDay).where(SpecialDay.scope == scope, SpecialDay.day == day))
        before = None if row is None else {"intervals": row.intervals, "note": row.note}
        if row is None:
            row = SpecialDay(scope=scope, day=day)
            session.add(row)
        row.intervals, row.note = spans, request.form.get("note", "").strip()
        audit.record(session, audit.who(), "hours.special_day_save", "special_day", f"{scope} {day}", before=before,
                     after={"intervals": spans, "note": row.note})
        session.commit()
    return _done(_("%(day)s: %(hours)s är sparat.", day=day.isoformat(), hours=", ".join(spans) or _("stängt")))


@bp.post("/admin/hours/special/<int:special_id>/delete")
def delete_special(special_id: int):
    with services().sessions() as session:
        row = session.get(SpecialDay, special_id)
        if row is not None:
            audit.record(session, audit.who(), "hours.special_day_delete", "special_day", f"{row.scope} {row.day}",
                         before={"intervals": row.intervals, "note": row.note})
            session.delete(row)
            session.commit()
    return _done(_("Undantaget är borttaget."))


@bp.post("/admin/hours/notice")
def add_notice():
    """A temporary closure (closes the line) or a crisis message (played before the menu)."""
    svc = services()
    kind = request.form.get("kind")
    if kind not in ("closure", "crisis"):
        return _refuse(_("välj stängning eller krismeddelande"))
    try:
        starts = parse_instant(request.form["starts"], svc.clock.tz) if request.form.get("starts") else svc.clock.now()
        ends = parse_instant(request.form.get("ends", ""), svc.clock.tz)
    except ValueError as exc:
        return _refuse(exc.args[0])
    message_sv = request.form.get("message_sv", "").strip()
    if ends <= starts:
        return _refuse(_("slutet måste komma efter början"))
    if not message_sv:
        return _refuse(_("meddelandet på svenska saknas"))
    scope = request.form.get("scope") or "switchboard"
    with svc.sessions() as session:
        notice = Closure(scope=scope, kind=kind, starts_at=starts, ends_at=ends, message_sv=message_sv,
                         message_en=request.form.get("message_en", "").strip(), created_at=datetime.now(timezone.utc))
        session.add(notice)
        session.flush()
        audit.record(session, audit.who(), f"hours.{kind}_add", "closure", str(notice.id), after={
            "scope": scope, "starts": starts.isoformat(), "ends": ends.isoformat(), "message_sv": message_sv,
            "message_en": notice.message_en})
        session.commit()
    lang, now = language(), svc.clock.now()
    period = {"start": speech.moment(starts, now, lang), "end": speech.moment(ends, now, lang)}
    return _done(_("Stängningen gäller %(start)s till %(end)s.", **period) if kind == "closure"
                 else _("Krismeddelandet gäller %(start)s till %(end)s.", **period))


@bp.post("/admin/hours/notice/<int:notice_id>/end")
def end_notice(notice_id: int):
    svc = services()
    with svc.sessions() as session:
        notice = session.get(Closure, notice_id)
        if notice is not None:
            before = {"ends": notice.ends_at.isoformat()}
            notice.ends_at = max(notice.starts_at, svc.clock.now())
            audit.record(session, audit.who(), f"hours.{notice.kind}_end", "closure", str(notice.id), before=before,
                         after={"ends": notice.ends_at.isoformat()})
            session.commit()
    return _done(_("Avslutat."))
