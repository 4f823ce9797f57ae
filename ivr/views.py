"""Public page: phone hours of the switchboard and of every unit, and whether each is open now."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, render_template
from sqlalchemy import select

from ivr import hours, schedules, speech
from ivr.models import PhoneHours
from core.services import services

bp = Blueprint("ivr", __name__, template_folder="templates")


@bp.get("/hours")
def hours_page():
    svc = services()
    now = svc.clock.now()
    eve_close = svc.settings["hours"]["eve_close"]
    rows = []
    with svc.sessions() as session:
        keys = ["switchboard"] + [k for k in session.scalars(select(PhoneHours.key).order_by(PhoneHours.name))
                                  if k != "switchboard"]
        for key in keys:
            schedule = schedules.load(session, key, svc.clock.tz, eve_close, now)
            st = hours.status(schedule, now)
            rows.append({
                "name": schedule.name,
                "weekly": speech.weekly(schedule.weekly, "sv"),
                "status": st,
                "next_open": speech.moment(st.next_open, now, "sv") if st.next_open else None,
            })
    upcoming = [(d, hours.holiday_name(d)) for d in (now.date() + timedelta(days=i) for i in range(60))
                if hours.holiday_name(d)]
    return render_template("hours.html", rows=rows, upcoming=upcoming, now=now)
