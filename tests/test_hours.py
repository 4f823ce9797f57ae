"""Phone hours (ivr.hours) at every boundary, in Europe/Stockholm, plus the words a caller hears (ivr.speech).

Dates used (2026 unless said otherwise), worked out by hand:

* Tue 24 Nov, Thu 26 Nov, Fri 27 Nov: ordinary weekdays; Sat 28 Nov; Mon 30 Nov.
* Mon 5 Jan eve of Tue 6 Jan (trettondedag jul).
* Thu 2 Apr (skärtorsdag) eve of Fri 3 Apr (långfredag); Sat 4 Apr, Sun 5 Apr påskdag, Mon 6 Apr annandag påsk,
  so the next opening is Tue 7 Apr.
* Thu 30 Apr (valborgsmässoafton) eve of Fri 1 May; next opening Mon 4 May.
* Wed 13 May eve of Thu 14 May (Kristi himmelsfärd); Fri 15 May is an ordinary (klämdag) Friday.
* Fri 19 Jun midsommarafton (de facto holiday); Sat 20 Jun midsommardagen; next opening Mon 22 Jun.
* Thu 24 Dec julafton, Fri 25 juldagen, Sat 26 annandag jul, Sun 27: next opening Mon 28 Dec.
* Thu 31 Dec nyårsafton, Fri 1 Jan 2027 nyårsdagen, Sat 2, Sun 3: next opening Mon 4 Jan 2027 (5 Jan 2027 is
  only an eve, 4 Jan an ordinary Monday).
* Summer time: starts Sun 29 Mar 2026 02:00 (+01:00 -> +02:00), ends Sun 25 Oct 2026 03:00 (+02:00 -> +01:00).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zoneinfo import ZoneInfo

from ivr import speech
from ivr.hours import (
    SWITCHBOARD_DEFAULT,
    WEEKDAYS,
    Notice,
    Schedule,
    day_hours,
    holiday_name,
    is_eve,
    next_opening,
    parse_intervals,
    parse_weekly,
    status,
)

TZ = ZoneInfo("Europe/Stockholm")
UTC = timezone.utc


def at(text: str) -> datetime:
    """'2026-11-24 08:00' in Stockholm local time."""
    return datetime.fromisoformat(text).replace(tzinfo=TZ)


SWITCHBOARD = Schedule("switchboard", "Växeln", parse_weekly(SWITCHBOARD_DEFAULT))
LUNCH_UNIT = Schedule(
    "bygglov", "Bygglov", parse_weekly({day: ["09:00-12:00", "13:00-15:00"] for day in WEEKDAYS[:5]})
)


def case(id_: str, when: str, *, open_: bool, reason: str, closes_at: str | None = None,
         next_open: str | None = None, holiday: str | None = None, eve: bool = False):
    """One row: the moment and every field of the expected status (defaults: nothing set)."""
    expected = (open_, reason, closes_at and at(closes_at), next_open and at(next_open), holiday, eve)
    return pytest.param(at(when), expected, id=id_)


def observed(st_) -> tuple:
    return (st_.open, st_.reason, st_.closes_at, st_.next_open, st_.holiday, st_.eve)


# ---------------------------------------------------------------------------------------------------------
# The switchboard's default hours: Mon–Thu 08:00–17:00, Fri 08:00–16:00, eves close 15:00
# ---------------------------------------------------------------------------------------------------------

SWITCHBOARD_CASES = [
    # an ordinary Tuesday, second by second at both ends
    case("tue-07:59:59-before-opening", "2026-11-24 07:59:59", open_=False, reason="before_opening",
         next_open="2026-11-24 08:00"),
    case("tue-00:00-before-opening", "2026-11-24 00:00", open_=False, reason="before_opening",
         next_open="2026-11-24 08:00"),
    case("tue-08:00:00-opens", "2026-11-24 08:00:00", open_=True, reason="open", closes_at="2026-11-24 17:00"),
    case("tue-12:00-open", "2026-11-24 12:00", open_=True, reason="open", closes_at="2026-11-24 17:00"),
    case("tue-16:59:59-still-open", "2026-11-24 16:59:59", open_=True, reason="open",
         closes_at="2026-11-24 17:00"),
    case("tue-17:00:00-after-hours", "2026-11-24 17:00:00", open_=False, reason="after_hours",
         next_open="2026-11-25 08:00"),
    case("tue-23:59:59-after-hours", "2026-11-24 23:59:59", open_=False, reason="after_hours",
         next_open="2026-11-25 08:00"),
    # Thursday until 17, Friday until 16
    case("thu-16:30-open", "2026-11-26 16:30", open_=True, reason="open", closes_at="2026-11-26 17:00"),
    case("thu-17:00-closed-opens-fri", "2026-11-26 17:00", open_=False, reason="after_hours",
         next_open="2026-11-27 08:00"),
    case("fri-15:59-open", "2026-11-27 15:59", open_=True, reason="open", closes_at="2026-11-27 16:00"),
    case("fri-15:59:59-open", "2026-11-27 15:59:59", open_=True, reason="open", closes_at="2026-11-27 16:00"),
    case("fri-16:00-closed", "2026-11-27 16:00", open_=False, reason="after_hours",
         next_open="2026-11-30 08:00"),
    case("fri-16:30-closed-opens-monday", "2026-11-27 16:30", open_=False, reason="after_hours",
         next_open="2026-11-30 08:00"),
    # weekend
    case("sat-closed", "2026-11-28 10:00", open_=False, reason="no_hours", next_open="2026-11-30 08:00"),
    case("sun-23:59-closed", "2026-11-29 23:59", open_=False, reason="no_hours", next_open="2026-11-30 08:00"),
    case("mon-08:00-open", "2026-11-30 08:00", open_=True, reason="open", closes_at="2026-11-30 17:00"),
    # holidays (public and de facto) are closed all day
    case("julafton-closed", "2026-12-24 10:00", open_=False, reason="holiday", holiday="Julafton",
         next_open="2026-12-28 08:00"),
    case("julafton-07:00-closed", "2026-12-24 07:00", open_=False, reason="holiday", holiday="Julafton",
         next_open="2026-12-28 08:00"),
    case("dag-fore-julafton-is-ordinary", "2026-12-23 16:30", open_=True, reason="open",
         closes_at="2026-12-23 17:00"),
    case("midsommarafton-closed", "2026-06-19 10:00", open_=False, reason="holiday", holiday="Midsommarafton",
         next_open="2026-06-22 08:00"),
    case("dag-fore-midsommarafton-is-ordinary", "2026-06-18 16:30", open_=True, reason="open",
         closes_at="2026-06-18 17:00"),
    case("nyarsafton-closed-opens-4-jan", "2026-12-31 10:00", open_=False, reason="holiday",
         holiday="Nyårsafton", next_open="2027-01-04 08:00"),
    case("nyarsdagen-closed", "2027-01-01 10:00", open_=False, reason="holiday", holiday="Nyårsdagen",
         next_open="2027-01-04 08:00"),
    case("trettondedag-jul-closed", "2026-01-06 10:00", open_=False, reason="holiday",
         holiday="Trettondedag jul", next_open="2026-01-07 08:00"),
    case("langfredag-closed", "2026-04-03 10:00", open_=False, reason="holiday", holiday="Långfredagen",
         next_open="2026-04-07 08:00"),
    case("annandag-pask-closed", "2026-04-06 10:00", open_=False, reason="holiday", holiday="Annandag påsk",
         next_open="2026-04-07 08:00"),
    case("forsta-maj-closed", "2026-05-01 10:00", open_=False, reason="holiday", holiday="Första maj",
         next_open="2026-05-04 08:00"),
    case("kristi-himmelsfard-closed", "2026-05-14 10:00", open_=False, reason="holiday",
         holiday="Kristi himmelsfärdsdag", next_open="2026-05-15 08:00"),
    # eves (dag före helgdag) close at 15:00 instead of 17:00 / 16:00
    case("valborg-14:59-open-eve", "2026-04-30 14:59", open_=True, reason="open",
         closes_at="2026-04-30 15:00", eve=True),
    case("valborg-14:59:59-open-eve", "2026-04-30 14:59:59", open_=True, reason="open",
         closes_at="2026-04-30 15:00", eve=True),
    case("valborg-15:00-closed-eve", "2026-04-30 15:00", open_=False, reason="after_hours",
         next_open="2026-05-04 08:00", eve=True),
    case("valborg-07:00-before-opening-eve", "2026-04-30 07:00", open_=False, reason="before_opening",
         next_open="2026-04-30 08:00", eve=True),
    case("5-jan-14:59-open-eve", "2026-01-05 14:59", open_=True, reason="open",
         closes_at="2026-01-05 15:00", eve=True),
    case("5-jan-15:00-closed-eve", "2026-01-05 15:00", open_=False, reason="after_hours",
         next_open="2026-01-07 08:00", eve=True),
    case("skartorsdag-14:59-open-eve", "2026-04-02 14:59", open_=True, reason="open",
         closes_at="2026-04-02 15:00", eve=True),
    case("skartorsdag-15:00-closed-until-tuesday", "2026-04-02 15:00", open_=False, reason="after_hours",
         next_open="2026-04-07 08:00", eve=True),
    case("13-may-14:00-open-eve", "2026-05-13 14:00", open_=True, reason="open",
         closes_at="2026-05-13 15:00", eve=True),
    case("13-may-15:00-closed-eve", "2026-05-13 15:00", open_=False, reason="after_hours",
         next_open="2026-05-15 08:00", eve=True),
    case("friday-before-nationaldagen-eve", "2026-06-05 15:30", open_=False, reason="after_hours",
         next_open="2026-06-08 08:00", eve=True),
    # the day after a holiday is ordinary again
    case("klamdag-15-may-15:59-ordinary-friday", "2026-05-15 15:59", open_=True, reason="open",
         closes_at="2026-05-15 16:00"),
]


@pytest.mark.parametrize(("now", "expected"), SWITCHBOARD_CASES)
def test_switchboard_status(now, expected):
    assert observed(status(SWITCHBOARD, now)) == expected


@pytest.mark.parametrize(("now", "expected"), SWITCHBOARD_CASES)
def test_the_same_instant_given_in_utc_gives_the_same_status(now, expected):
    assert observed(status(SWITCHBOARD, now.astimezone(UTC))) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        pytest.param(at("2026-11-27 16:30"), at("2026-11-30 08:00"), id="friday-evening->monday"),
        pytest.param(at("2026-12-24 10:00"), at("2026-12-28 08:00"), id="julafton->28-dec"),
        pytest.param(at("2026-12-31 10:00"), at("2027-01-04 08:00"), id="nyarsafton->4-jan-2027"),
        pytest.param(at("2026-11-24 10:00"), at("2026-11-24 10:00"), id="open-now->now"),
        pytest.param(at("2026-11-24 07:00"), at("2026-11-24 08:00"), id="early->same-day"),
    ],
)
def test_next_opening(now, expected):
    assert next_opening(SWITCHBOARD, now) == expected


@pytest.mark.parametrize(
    ("day", "reason", "spans", "holiday"),
    [
        pytest.param(date(2026, 11, 24), "weekly", [("08:00", "17:00")], None, id="tuesday"),
        pytest.param(date(2026, 11, 27), "weekly", [("08:00", "16:00")], None, id="friday"),
        pytest.param(date(2026, 11, 28), "no_hours", [], None, id="saturday"),
        pytest.param(date(2026, 4, 30), "eve", [("08:00", "15:00")], None, id="valborg-eve"),
        pytest.param(date(2026, 12, 24), "holiday", [], "Julafton", id="julafton"),
    ],
)
def test_day_hours(day, reason, spans, holiday):
    hours = day_hours(SWITCHBOARD, day)
    assert hours.reason == reason
    assert hours.holiday == holiday
    assert [(s.strftime("%H:%M"), e.strftime("%H:%M")) for s, e in hours.spans] == spans
    assert all(s.tzinfo is TZ and e.tzinfo is TZ for s, e in hours.spans)


@pytest.mark.parametrize(
    ("day", "sv", "en", "eve"),
    [
        pytest.param(date(2026, 12, 24), "Julafton", "Christmas Eve", False, id="julafton"),
        pytest.param(date(2026, 6, 19), "Midsommarafton", "Midsummer Eve", False, id="midsommarafton"),
        pytest.param(date(2026, 12, 31), "Nyårsafton", "New Year's Eve", False, id="nyarsafton"),
        pytest.param(date(2026, 1, 6), "Trettondedag jul", "Epiphany", False, id="trettondedag"),
        pytest.param(date(2026, 4, 3), "Långfredagen", "Good Friday", False, id="langfredag"),
        pytest.param(date(2026, 5, 14), "Kristi himmelsfärdsdag", "Ascension Day", False, id="ascension"),
        pytest.param(date(2026, 4, 30), None, None, True, id="valborg-is-eve"),
        pytest.param(date(2026, 1, 5), None, None, True, id="5-jan-is-eve"),
        pytest.param(date(2026, 4, 2), None, None, True, id="skartorsdag-is-eve"),
        pytest.param(date(2026, 5, 13), None, None, True, id="13-may-is-eve"),
        pytest.param(date(2026, 12, 23), None, None, False, id="23-dec-not-eve-julafton-is-de-facto"),
        pytest.param(date(2026, 12, 30), None, None, False, id="30-dec-not-eve"),
        pytest.param(date(2026, 11, 24), None, None, False, id="ordinary-tuesday"),
    ],
)
def test_holiday_name_and_eve(day, sv, en, eve):
    assert holiday_name(day) == sv
    assert holiday_name(day, "en") == en
    assert is_eve(day) is eve


# ---------------------------------------------------------------------------------------------------------
# Summer time: local wall-clock hours stay put, the UTC offset moves
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "open_", "offset_hours"),
    [
        pytest.param(at("2026-03-27 08:00"), True, 1, id="fri-before-spring-change-+01"),
        pytest.param(at("2026-03-30 08:00"), True, 2, id="mon-after-spring-change-+02"),
        pytest.param(at("2026-03-30 07:59:59"), False, 2, id="mon-after-spring-change-07:59:59"),
        pytest.param(at("2026-03-30 16:59:59"), True, 2, id="mon-after-spring-change-16:59:59"),
        pytest.param(at("2026-10-23 08:00"), True, 2, id="fri-before-autumn-change-+02"),
        pytest.param(at("2026-10-26 08:00"), True, 1, id="mon-after-autumn-change-+01"),
        pytest.param(at("2026-10-26 07:59:59"), False, 1, id="mon-after-autumn-change-07:59:59"),
    ],
)
def test_dst_local_hours(now, open_, offset_hours):
    assert now.utcoffset() == timedelta(hours=offset_hours)
    assert status(SWITCHBOARD, now).open is open_


@pytest.mark.parametrize(
    ("utc", "open_"),
    [
        pytest.param(datetime(2026, 3, 30, 5, 59, 59, tzinfo=UTC), False, id="spring-05:59:59Z-is-07:59:59-local"),
        pytest.param(datetime(2026, 3, 30, 6, 0, tzinfo=UTC), True, id="spring-06:00Z-is-08:00-local"),
        pytest.param(datetime(2026, 3, 30, 7, 0, tzinfo=UTC), True, id="spring-07:00Z-is-09:00-local"),
        pytest.param(datetime(2026, 3, 30, 15, 0, tzinfo=UTC), False, id="spring-15:00Z-is-17:00-local"),
        pytest.param(datetime(2026, 10, 26, 6, 59, 59, tzinfo=UTC), False, id="autumn-06:59:59Z-is-07:59:59-local"),
        pytest.param(datetime(2026, 10, 26, 7, 0, tzinfo=UTC), True, id="autumn-07:00Z-is-08:00-local"),
        pytest.param(datetime(2026, 10, 26, 15, 59, tzinfo=UTC), True, id="autumn-15:59Z-is-16:59-local"),
        pytest.param(datetime(2026, 10, 26, 16, 0, tzinfo=UTC), False, id="autumn-16:00Z-is-17:00-local"),
    ],
)
def test_dst_utc_instants(utc, open_):
    assert status(SWITCHBOARD, utc).open is open_


@pytest.mark.parametrize(
    ("now", "expected", "offset_hours", "hours_later"),
    [
        # Fri 17:00 +01:00 -> Mon 08:00 +02:00 is 63 wall-clock hours but only 62 real ones
        pytest.param(at("2026-03-27 17:00"), at("2026-03-30 08:00"), 2, 62, id="over-spring-change"),
        # Fri 16:00 +02:00 -> Mon 08:00 +01:00 is 64 wall-clock hours but 65 real ones
        pytest.param(at("2026-10-23 16:00"), at("2026-10-26 08:00"), 1, 65, id="over-autumn-change"),
    ],
)
def test_next_opening_across_dst(now, expected, offset_hours, hours_later):
    opens = status(SWITCHBOARD, now).next_open
    assert opens == expected
    assert opens.utcoffset() == timedelta(hours=offset_hours)
    # subtract in UTC: two datetimes with the same tzinfo subtract as wall clocks
    assert opens.astimezone(UTC) - now.astimezone(UTC) == timedelta(hours=hours_later)


# ---------------------------------------------------------------------------------------------------------
# A unit with a lunch gap: Mon–Fri 09:00–12:00 and 13:00–15:00
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        case("08:59:59-before-opening", "2026-11-24 08:59:59", open_=False, reason="before_opening",
             next_open="2026-11-24 09:00"),
        case("09:00-open-morning", "2026-11-24 09:00", open_=True, reason="open", closes_at="2026-11-24 12:00"),
        case("11:59-open", "2026-11-24 11:59", open_=True, reason="open", closes_at="2026-11-24 12:00"),
        case("12:00-lunch", "2026-11-24 12:00", open_=False, reason="between", next_open="2026-11-24 13:00"),
        case("12:30-lunch", "2026-11-24 12:30", open_=False, reason="between", next_open="2026-11-24 13:00"),
        case("12:59:59-lunch", "2026-11-24 12:59:59", open_=False, reason="between",
             next_open="2026-11-24 13:00"),
        case("13:00-open-afternoon", "2026-11-24 13:00", open_=True, reason="open",
             closes_at="2026-11-24 15:00"),
        case("15:00-after-hours", "2026-11-24 15:00", open_=False, reason="after_hours",
             next_open="2026-11-25 09:00"),
        case("eve-afternoon-15:00-cut-is-no-change", "2026-04-30 14:59", open_=True, reason="open",
             closes_at="2026-04-30 15:00", eve=True),
        case("friday-after-hours->monday", "2026-11-27 15:00", open_=False, reason="after_hours",
             next_open="2026-11-30 09:00"),
    ],
)
def test_lunch_gap(now, expected):
    assert observed(status(LUNCH_UNIT, now)) == expected


def test_eve_cut_inside_the_afternoon_span_of_a_lunch_unit():
    unit = replace(LUNCH_UNIT, eve_close=time(14, 0))
    assert [(s.time(), e.time()) for s, e in day_hours(unit, date(2026, 4, 30)).spans] == [
        (time(9), time(12)), (time(13), time(14)),
    ]
    assert status(unit, at("2026-04-30 13:59")).open
    assert status(unit, at("2026-04-30 14:00")).reason == "after_hours"


def test_eve_cut_before_the_afternoon_span_drops_it():
    unit = replace(LUNCH_UNIT, eve_close=time(12, 30))
    assert [(s.time(), e.time()) for s, e in day_hours(unit, date(2026, 4, 30)).spans] == [(time(9), time(12))]
    assert status(unit, at("2026-04-30 13:30")).reason == "after_hours"


# ---------------------------------------------------------------------------------------------------------
# Temporary closures and crisis messages
# ---------------------------------------------------------------------------------------------------------

MEETING = Notice(at("2026-11-24 10:00"), at("2026-11-24 11:30"),
                 {"sv": "Växeln är stängd för personalmöte.", "en": "The switchboard is closed for a staff meeting."})
REST_OF_DAY = Notice(at("2026-11-24 12:00"), at("2026-11-24 18:00"),
                     {"sv": "Stängt resten av dagen.", "en": "Closed for the rest of the day."})
OVERNIGHT = Notice(at("2026-11-24 16:00"), at("2026-11-25 10:00"),
                   {"sv": "Stängt för systembyte.", "en": "Closed for a system upgrade."})
OVER_WEEKEND = Notice(at("2026-11-27 14:00"), at("2026-11-30 09:15"),
                      {"sv": "Stängt för flytt.", "en": "Closed while we move."})
IN_UTC = Notice(datetime(2026, 11, 24, 9, 0, tzinfo=UTC), datetime(2026, 11, 24, 10, 0, tzinfo=UTC),
                {"sv": "Stängt.", "en": "Closed."})  # 10:00–11:00 Stockholm (+01:00 in November)
CHAINED = (Notice(at("2026-11-24 10:00"), at("2026-11-24 11:00"), {"sv": "A", "en": "A"}),
           Notice(at("2026-11-24 11:00"), at("2026-11-24 14:00"), {"sv": "B", "en": "B"}))
LUNCH_CLOSURE = Notice(at("2026-11-24 10:00"), at("2026-11-24 12:30"), {"sv": "Stängt.", "en": "Closed."})


@pytest.mark.parametrize(
    ("schedule", "now", "open_", "reason", "closure", "next_open"),
    [
        pytest.param(SWITCHBOARD, "2026-11-24 09:59:59", True, "open", None, None, id="meeting-not-yet"),
        pytest.param(SWITCHBOARD, "2026-11-24 10:00", False, "closure", MEETING, "2026-11-24 11:30",
                     id="meeting-starts-ends-within-hours"),
        pytest.param(SWITCHBOARD, "2026-11-24 11:29:59", False, "closure", MEETING, "2026-11-24 11:30",
                     id="meeting-last-second"),
        pytest.param(SWITCHBOARD, "2026-11-24 11:30", True, "open", None, None, id="meeting-over"),
    ],
)
def test_closure_inside_hours(schedule, now, open_, reason, closure, next_open):
    schedule = replace(schedule, closures=(MEETING,))
    st_ = status(schedule, at(now))
    assert (st_.open, st_.reason, st_.closure) == (open_, reason, closure)
    assert st_.next_open == (next_open and at(next_open))
    if not open_:
        assert st_.closes_at is None
        assert st_.closure.message["sv"] == "Växeln är stängd för personalmöte."


@pytest.mark.parametrize(
    ("schedule", "closures", "now", "next_open"),
    [
        pytest.param(SWITCHBOARD, (REST_OF_DAY,), "2026-11-24 12:00", "2026-11-25 08:00",
                     id="ends-after-hours->next-morning"),
        pytest.param(SWITCHBOARD, (OVERNIGHT,), "2026-11-24 16:00", "2026-11-25 10:00",
                     id="overnight-evening->end-next-morning"),
        pytest.param(SWITCHBOARD, (OVERNIGHT,), "2026-11-25 02:00", "2026-11-25 10:00",
                     id="overnight-at-night"),
        pytest.param(SWITCHBOARD, (OVERNIGHT,), "2026-11-25 09:59:59", "2026-11-25 10:00",
                     id="overnight-during-next-mornings-hours"),
        pytest.param(SWITCHBOARD, (OVER_WEEKEND,), "2026-11-28 12:00", "2026-11-30 09:15",
                     id="over-weekend-ends-monday-09:15"),
        pytest.param(SWITCHBOARD, (IN_UTC,), "2026-11-24 10:30", "2026-11-24 11:00",
                     id="closure-given-in-utc"),
        pytest.param(SWITCHBOARD, CHAINED, "2026-11-24 10:30", "2026-11-24 14:00",
                     id="back-to-back-closures->end-of-last"),
        pytest.param(LUNCH_UNIT, (LUNCH_CLOSURE,), "2026-11-24 10:30", "2026-11-24 13:00",
                     id="ends-in-lunch-gap->afternoon-opening"),
    ],
)
def test_closure_next_open(schedule, closures, now, next_open):
    st_ = status(replace(schedule, closures=closures), at(now))
    assert st_.open is False
    assert st_.reason == "closure"
    assert st_.closure in closures
    assert st_.next_open == at(next_open)


def test_closure_on_a_holiday_still_names_the_holiday():
    closure = Notice(at("2026-12-23 12:00"), at("2026-12-29 12:00"), {"sv": "Jullov.", "en": "Christmas."})
    st_ = status(replace(SWITCHBOARD, closures=(closure,)), at("2026-12-24 10:00"))
    assert (st_.open, st_.reason, st_.holiday, st_.closure) == (False, "closure", "Julafton", closure)
    assert st_.next_open == at("2026-12-29 12:00")


def test_closure_that_never_meets_hours_again_has_no_next_open():
    closure = Notice(at("2026-11-24 00:00"), at("2030-01-01 00:00"), {"sv": "Nedlagd.", "en": "Closed down."})
    st_ = status(replace(SWITCHBOARD, closures=(closure,)), at("2026-11-24 10:00"))
    assert (st_.open, st_.reason, st_.next_open) == (False, "closure", None)


CRISIS = Notice(at("2026-11-24 06:00"), at("2026-11-25 06:00"),
                {"sv": "Vattnet är avstängt i Norra Sjöbacka.", "en": "The water is off in northern Sjöbacka."})


@pytest.mark.parametrize(
    ("now", "open_", "reason", "crisis"),
    [
        pytest.param("2026-11-24 05:59", False, "before_opening", None, id="before-crisis"),
        pytest.param("2026-11-24 07:00", False, "before_opening", CRISIS, id="crisis-before-opening"),
        pytest.param("2026-11-24 10:00", True, "open", CRISIS, id="crisis-does-not-close"),
        pytest.param("2026-11-24 18:00", False, "after_hours", CRISIS, id="crisis-after-hours"),
        pytest.param("2026-11-25 06:00", False, "before_opening", None, id="crisis-over"),
    ],
)
def test_crisis_never_closes(now, open_, reason, crisis):
    st_ = status(replace(SWITCHBOARD, crises=(CRISIS,)), at(now))
    assert (st_.open, st_.reason, st_.crisis, st_.closure) == (open_, reason, crisis, None)


def test_crisis_and_closure_together_both_reported():
    st_ = status(replace(SWITCHBOARD, crises=(CRISIS,), closures=(MEETING,)), at("2026-11-24 10:15"))
    assert (st_.open, st_.reason, st_.crisis, st_.closure) == (False, "closure", CRISIS, MEETING)


# ---------------------------------------------------------------------------------------------------------
# Special days, holidays switched off, eves switched off
# ---------------------------------------------------------------------------------------------------------

SPECIAL = replace(
    SWITCHBOARD,
    special_days={
        date(2026, 12, 24): parse_intervals(["09:00-12:00"]),  # julafton kept open in the morning
        date(2026, 11, 25): (),  # an extra closed Wednesday (planeringsdag)
        date(2026, 11, 28): parse_intervals(["10:00-14:00"]),  # an open Saturday
        date(2026, 4, 30): parse_intervals(["08:00-17:00"]),  # an eve kept at full hours
    },
)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        case("julafton-kept-open-10:00", "2026-12-24 10:00", open_=True, reason="open",
             closes_at="2026-12-24 12:00"),
        case("julafton-kept-open-until-12", "2026-12-24 12:00", open_=False, reason="after_hours",
             next_open="2026-12-28 08:00"),
        case("julafton-kept-open-08:59", "2026-12-24 08:59", open_=False, reason="before_opening",
             next_open="2026-12-24 09:00"),
        case("23-dec-evening->julafton-09:00", "2026-12-23 17:00", open_=False, reason="after_hours",
             next_open="2026-12-24 09:00"),
        case("extra-closed-wednesday", "2026-11-25 10:00", open_=False, reason="no_hours",
             next_open="2026-11-26 08:00"),
        case("tuesday-evening-skips-closed-wednesday", "2026-11-24 17:00", open_=False, reason="after_hours",
             next_open="2026-11-26 08:00"),
        case("open-saturday", "2026-11-28 13:59", open_=True, reason="open", closes_at="2026-11-28 14:00"),
        case("friday-evening->open-saturday", "2026-11-27 16:00", open_=False, reason="after_hours",
             next_open="2026-11-28 10:00"),
        case("special-day-on-eve-not-shortened", "2026-04-30 16:00", open_=True, reason="open",
             closes_at="2026-04-30 17:00"),
    ],
)
def test_special_days(now, expected):
    assert observed(status(SPECIAL, now)) == expected


@pytest.mark.parametrize(
    ("schedule", "now", "expected"),
    [
        pytest.param(replace(SWITCHBOARD, observe_holidays=False), at("2026-12-24 10:00"),
                     (True, "open", at("2026-12-24 17:00"), None, None, False), id="no-holidays-julafton-open"),
        pytest.param(replace(SWITCHBOARD, observe_holidays=False), at("2026-04-30 16:00"),
                     (True, "open", at("2026-04-30 17:00"), None, None, False), id="no-holidays-no-eve-either"),
        pytest.param(replace(SWITCHBOARD, observe_holidays=False), at("2026-12-31 16:00"),
                     (True, "open", at("2026-12-31 17:00"), None, None, False), id="no-holidays-nyarsafton-open"),
        pytest.param(replace(SWITCHBOARD, eve_close=None), at("2026-04-30 16:00"),
                     (True, "open", at("2026-04-30 17:00"), None, None, False), id="eve-close-none-valborg-16:00"),
        pytest.param(replace(SWITCHBOARD, eve_close=None), at("2026-12-24 10:00"),
                     (False, "holiday", None, at("2026-12-28 08:00"), "Julafton", False),
                     id="eve-close-none-still-closes-holidays"),
        pytest.param(replace(SWITCHBOARD, eve_close=time(14, 0)), at("2026-04-30 14:00"),
                     (False, "after_hours", None, at("2026-05-04 08:00"), None, True), id="eve-close-14:00"),
    ],
)
def test_holiday_and_eve_switches(schedule, now, expected):
    assert observed(status(schedule, now)) == expected


# ---------------------------------------------------------------------------------------------------------
# A round-the-clock line ("00:00-24:00")
# ---------------------------------------------------------------------------------------------------------

ROUND_THE_CLOCK = Schedule("jour", "Socialjouren", parse_weekly({day: ["00:00-24:00"] for day in WEEKDAYS}),
                           observe_holidays=False)


@pytest.mark.parametrize(
    "now",
    [
        pytest.param("2026-11-24 00:00", id="midnight"),
        pytest.param("2026-11-24 12:00", id="noon"),
        pytest.param("2026-11-24 23:59:58", id="23:59:58"),
        pytest.param("2026-10-25 02:30", id="dst-autumn-repeated-hour"),
        pytest.param("2026-03-29 03:00", id="dst-spring-after-jump"),
    ],
)
def test_round_the_clock_line_is_open(now):
    assert status(ROUND_THE_CLOCK, at(now)).open


@pytest.mark.parametrize("now", [pytest.param("2026-11-24 23:59:59", id="23:59:59"),
                                 pytest.param("2026-11-24 23:59:59.500000", id="23:59:59.5")])
def test_round_the_clock_line_is_open_in_the_last_second_of_the_day(now):
    st_ = status(ROUND_THE_CLOCK, at(now))
    assert (st_.open, st_.reason) == (True, "open")


def test_round_the_clock_hours_are_read_as_24():
    assert speech.weekly(ROUND_THE_CLOCK.weekly, "sv") == "måndag till söndag 00:00–24:00"


# ---------------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        pytest.param(["08:00-17:00"], ((time(8), time(17)),), id="one"),
        pytest.param(["13:00-15:00", "09:00-12:00"], ((time(9), time(12)), (time(13), time(15))), id="sorted"),
        pytest.param(["8:00-12:00", " 12:00 - 13:00 "], ((time(8), time(12)), (time(12), time(13))),
                     id="one-digit-hour-spaces-adjacent"),
        pytest.param(["00:00-24:00"], ((time(0), time.max),), id="24:00-is-end-of-day"),
        pytest.param([], (), id="empty"),
    ],
)
def test_parse_intervals(items, expected):
    assert parse_intervals(items) == expected


@pytest.mark.parametrize(
    "items",
    [
        pytest.param(["8-17"], id="no-minutes"),
        pytest.param(["08.00-17.00"], id="dots"),
        pytest.param(["08:00"], id="no-end"),
        pytest.param(["17:00-08:00"], id="ends-before-start"),
        pytest.param(["08:00-08:00"], id="empty-span"),
        pytest.param(["08:00-12:00", "11:00-13:00"], id="overlap"),
        pytest.param(["08:00-17:00", "09:00-10:00"], id="contained"),
        pytest.param(["25:00-26:00"], id="hour-25"),
        pytest.param(["08:60-09:00"], id="minute-60"),
        pytest.param(["08:00-24:30"], id="past-24"),
        pytest.param([""], id="blank"),
    ],
)
def test_parse_intervals_rejects(items):
    with pytest.raises(ValueError):
        parse_intervals(items)


@pytest.mark.parametrize(
    "weekly",
    [
        pytest.param({"monday": ["08:00-17:00"]}, id="long-day-name"),
        pytest.param({"Mon": ["08:00-17:00"]}, id="capitalised"),
        pytest.param({"mån": ["08:00-17:00"]}, id="swedish"),
        pytest.param({"mon": ["8-17"]}, id="bad-interval"),
    ],
)
def test_parse_weekly_rejects(weekly):
    with pytest.raises(ValueError):
        parse_weekly(weekly)


def test_parse_weekly_fills_missing_days_with_closed():
    week = parse_weekly(SWITCHBOARD_DEFAULT)
    assert week[0] == week[3] == ((time(8), time(17)),)
    assert week[4] == ((time(8), time(16)),)
    assert week[5] == week[6] == ()


# ---------------------------------------------------------------------------------------------------------
# Speech
# ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("weekly", "lang", "expected"),
    [
        pytest.param(SWITCHBOARD_DEFAULT, "sv", "måndag till torsdag 08:00–17:00, fredag 08:00–16:00",
                     id="switchboard-sv"),
        pytest.param(SWITCHBOARD_DEFAULT, "en", "Monday to Thursday 08:00–17:00, Friday 08:00–16:00",
                     id="switchboard-en"),
        pytest.param({d: ["09:00-12:00", "13:00-15:00"] for d in WEEKDAYS[:5]}, "sv",
                     "måndag till fredag 09:00–12:00 och 13:00–15:00", id="lunch-sv"),
        pytest.param({d: ["09:00-12:00", "13:00-15:00"] for d in WEEKDAYS[:5]}, "en",
                     "Monday to Friday 09:00–12:00 and 13:00–15:00", id="lunch-en"),
        pytest.param({"mon": ["08:00-12:00"], "tue": ["08:00-12:00"], "thu": ["10:00-12:00"]}, "sv",
                     "måndag och tisdag 08:00–12:00, torsdag 10:00–12:00", id="two-days-och-sv"),
        pytest.param({"mon": ["10:00-12:00"], "wed": ["10:00-12:00"]}, "sv",
                     "måndag 10:00–12:00, onsdag 10:00–12:00", id="not-consecutive-not-grouped"),
        pytest.param({}, "sv", "stängt", id="no-hours-sv"),
        pytest.param({}, "en", "closed", id="no-hours-en"),
    ],
)
def test_speech_weekly(weekly, lang, expected):
    assert speech.weekly(parse_weekly(weekly), lang) == expected


@pytest.mark.parametrize(
    ("when", "now", "lang", "expected"),
    [
        pytest.param("2026-11-24 13:00", "2026-11-24 12:30", "sv", "i dag klockan 13:00", id="today-sv"),
        pytest.param("2026-11-24 13:00", "2026-11-24 12:30", "en", "today at 13:00", id="today-en"),
        pytest.param("2026-11-25 08:00", "2026-11-24 17:30", "sv", "i morgon klockan 08:00", id="tomorrow-sv"),
        pytest.param("2026-11-25 08:00", "2026-11-24 23:59", "en", "tomorrow at 08:00", id="tomorrow-en"),
        pytest.param("2026-11-30 08:00", "2026-11-27 16:30", "sv", "måndag 30 november klockan 08:00",
                     id="later-sv"),
        pytest.param("2026-11-30 08:00", "2026-11-27 16:30", "en", "Monday 30 November at 08:00", id="later-en"),
        pytest.param("2027-01-04 08:00", "2026-12-31 10:00", "sv", "måndag 4 januari klockan 08:00",
                     id="over-new-year-sv"),
    ],
)
def test_speech_moment(when, now, lang, expected):
    assert speech.moment(at(when), at(now), lang) == expected


def test_speech_moment_of_next_open_as_the_switchboard_says_it():
    now = at("2026-11-27 16:30")
    assert speech.moment(status(SWITCHBOARD, now).next_open, now, "sv") == "måndag 30 november klockan 08:00"
    now = at("2026-11-24 12:30")
    assert speech.moment(status(LUNCH_UNIT, now).next_open, now, "sv") == "i dag klockan 13:00"


def test_speech_moment_of_a_utc_time_is_read_in_local_time():
    now = at("2026-11-24 17:30")
    assert speech.moment(datetime(2026, 11, 25, 7, 0, tzinfo=UTC), now, "sv") == "i morgon klockan 08:00"


@pytest.mark.parametrize(
    ("seconds", "sv", "en"),
    [
        pytest.param(0, "mindre än en minut", "less than a minute", id="0"),
        pytest.param(59, "mindre än en minut", "less than a minute", id="59"),
        pytest.param(60, "ungefär 1 minut", "about 1 minute", id="60"),
        pytest.param(89, "ungefär 1 minut", "about 1 minute", id="89"),
        pytest.param(91, "ungefär 2 minuter", "about 2 minutes", id="91"),
        pytest.param(600, "ungefär 10 minuter", "about 10 minutes", id="600"),
    ],
)
def test_speech_wait(seconds, sv, en):
    assert (speech.wait(seconds, "sv"), speech.wait(seconds, "en")) == (sv, en)


# ---------------------------------------------------------------------------------------------------------
# Property: whenever the line is closed, it says truthfully when it opens
# ---------------------------------------------------------------------------------------------------------

PROPERTY_SCHEDULES = {
    "switchboard": SWITCHBOARD,
    "lunch-unit": LUNCH_UNIT,
    "special-days": SPECIAL,
    "closures": replace(SWITCHBOARD, closures=(MEETING, REST_OF_DAY, OVERNIGHT, OVER_WEEKEND, *CHAINED)),
    "lunch-closure": replace(LUNCH_UNIT, closures=(LUNCH_CLOSURE,)),
    "round-the-clock": ROUND_THE_CLOCK,
}

MOMENTS = st.datetimes(
    min_value=datetime(2026, 1, 1),
    max_value=datetime(2027, 12, 31, 23, 59, 59),
    timezones=st.sampled_from([TZ, UTC]),
    allow_imaginary=False,
)


@settings(max_examples=400, deadline=None)
@given(key=st.sampled_from(sorted(PROPERTY_SCHEDULES)), now=MOMENTS)
def test_property_next_opening_is_truthful(key, now):
    schedule = PROPERTY_SCHEDULES[key]
    st_ = status(schedule, now)
    opens = next_opening(schedule, now)
    assert opens is not None
    if st_.open:
        assert opens.timestamp() == now.timestamp()  # PEP 495: == across zones is False in the autumn fold
        assert st_.closes_at > now
        assert st_.next_open is None
    else:
        assert opens > now
        assert st_.next_open.timestamp() == opens.timestamp()
        assert st_.closes_at is None
        assert status(schedule, opens).open


def test_closes_at_is_the_start_of_a_closure_later_the_same_day():
    meeting = Notice(at("2026-11-24 13:00"), at("2026-11-24 14:00"), {"sv": "Personalmöte."})
    schedule = replace(SWITCHBOARD, closures=(meeting,))
    assert status(schedule, at("2026-11-24 09:00")).closes_at == at("2026-11-24 13:00")
    assert status(schedule, at("2026-11-24 14:00")).closes_at == at("2026-11-24 17:00")


def test_two_consecutive_days_are_joined_with_and_in_both_languages():
    week = parse_weekly({"mon": ["09:00-12:00"], "tue": ["09:00-12:00"]})
    assert speech.weekly(week, "sv") == "måndag och tisdag 09:00–12:00"
    assert speech.weekly(week, "en") == "Monday and Tuesday 09:00–12:00"
