"""Requests that know whom they are for and reach them in time (issue 15), through the real runner, database
and commands: the purpose, the unit's promise told truthfully, pacing, one call per number, merging, the brief."""

from __future__ import annotations

import json
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from callback import claims, outcomes
from callback.dispatcher import Dispatcher
from callback.models import CallbackRequest
from directory import promises
from directory.models import Unit
from ivr import schedules
from ivr.hours import Schedule, parse_weekly
from ivr.protocol import Digits, Speech, Tick
from switchboard.calls import CallRunner
from switchboard.console.models import ConsoleOperator
from switchboard.console.operators import free_count
from tests.conftest import TZ, at

STOCKHOLM = ZoneInfo("Europe/Stockholm")


@pytest.fixture
def calls(app):
    svc = app.extensions["vaxel"]
    return CallRunner(svc.sessions, svc.settings, channel="demo")


def spoken(result) -> list[dict]:
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def ask_for(calls, call_id, when, query, caller="+46701740699"):
    """Option 1, say ``query``, accept the callback (1) and confirm the number (1); the actions of the last step."""
    calls.start(call_id, when, caller=caller)
    calls.handle(call_id, Digits("1"), when + timedelta(seconds=2))
    calls.handle(call_id, Speech(query), when + timedelta(seconds=4))
    calls.handle(call_id, Digits("1"), when + timedelta(seconds=6))
    return calls.handle(call_id, Digits("1"), when + timedelta(seconds=8))


def request_of(session, call_id) -> CallbackRequest:
    return session.scalar(select(CallbackRequest).where(CallbackRequest.call_id == call_id))


def due_now(session, now, settings) -> list[int]:
    dispatcher = Dispatcher(lambda: session, settings, None, lambda: now)
    return dispatcher.due(session, now)


# --- the purpose, and what the caller hears -------------------------------------------------------------


def test_bygglov_at_14_is_booked_for_bygglov_in_its_next_phone_time(runner, app):
    """Finding 1: the request names Bygglov, is due in Bygglov's phone time, and the brief says so."""
    result = runner.invoke(args=["call", "--at", "2026-11-24T14:00:00+01:00", "--json", "1", "say:bygglov", "1", "1"])
    assert result.exit_code == 0, result.output
    lines = spoken(result)
    said = [a["text"] for a in lines if a["action"] == "say"][-1]
    assert said == "Tack. Vi ringer dig på 070-174 06 99 i morgon mellan 10:00 och 12:00, när Bygglov har telefontid."
    callback = next(a for a in lines if a["action"] == "callback")
    assert callback["due_at"] == "2026-11-25T10:00:00+01:00"

    listed = runner.invoke(args=["callbacks", "list", "--json", "--at", "2026-11-24T14:01:00+01:00"])
    (row,) = [json.loads(line) for line in listed.output.splitlines()]
    assert (row["target_kind"], row["target"], row["unit"], row["subject"], row["taken_by"], row["answered_by"]) == (
        "function", "Bygglov – dagens handläggare", "Bygglov", "bygglov", "ivr", "centre")
    assert row["due"] == "2026-11-25T10:00:00+01:00"
    assert row["due_by"] == "2026-11-25T11:00:00+00:00"  # the end of that phone time, 12:00 local

    early = runner.invoke(args=["callbacks", "run", "--dry-run", "--at", "2026-11-25T09:30:00+01:00"])
    assert "0 callback(s) due" in early.output  # the switchboard is open, Bygglov is not: not yet
    dry = runner.invoke(args=["callbacks", "run", "--dry-run", "--at", "2026-11-25T10:00:00+01:00"])
    assert "1 callback(s) due" in dry.output
    assert "Återuppringning för Bygglov" in dry.output and "när Bygglov hade stängd telefontid" in dry.output
    assert "sökte ”bygglov”" in dry.output and "växeln var stängd" not in dry.output
    late = runner.invoke(args=["callbacks", "run", "--dry-run", "--at", "2026-11-25T12:30:00+01:00"])
    assert "0 callback(s) due" in late.output  # after Bygglov's phone time: the next day's


def test_a_unit_that_answers_itself_gets_the_request_and_the_caller_hears_its_promise(calls, sessions, app):
    """LSS answers its own callbacks, the same or the next working day; the dispatcher leaves them alone."""
    actions = ask_for(calls, "lss", at("2026-11-24T15:00"), "Jonas Björk")
    said = [a.text for a in actions if a.kind == "say"][-1]
    assert said == "Tack. LSS-handläggning ringer dig på 070-174 06 99 i morgon mellan 13:00 och 14:00."
    morning = ask_for(calls, "lss2", at("2026-11-24T09:00"), "Hanna Pettersson", caller="+46701740698")
    said = [a.text for a in morning if a.kind == "say"][-1]
    assert said == "Tack. LSS-handläggning ringer dig på 070-174 06 98 senast i morgon klockan 14:00."
    settings = app.extensions["vaxel"].settings
    with sessions() as session:
        request = request_of(session, "lss")
        assert (request.answered_by, request.target_kind, request.target_name, request.unit_name) == (
            "unit", "person", "Jonas Björk", "LSS-handläggning")
        assert request.due_at == at("2026-11-25T13:00") and request.due_by == at("2026-11-25T14:00")
        assert request.email_to == "lss@sjobacka.example"
        assert due_now(session, at("2026-11-25T13:00"), settings) == []  # the unit's, not the dispatcher's


def test_a_callback_asked_for_just_before_closing_is_told_the_opening(calls):
    """Finding 2: at 16:59 "when it is your turn" alone is not true: the turn may come only tomorrow."""
    calls.start("late", at("2026-11-24T16:56"), caller="+46701740640")
    calls.handle("late", Digits("2"), at("2026-11-24T16:56:02"))
    calls.handle("late", Tick(), at("2026-11-24T16:59:00"))
    calls.handle("late", Digits("1"), at("2026-11-24T16:59:02"))
    actions = calls.handle("late", Digits("1"), at("2026-11-24T16:59:04"))
    said = [a for a in actions if a.kind == "say"][-1]
    assert said.prompt == "callback_confirmed_queue_late"
    assert said.text.endswith("Hinner vi inte före stängning ringer vi i morgon klockan 08:00.")


def test_early_in_the_day_a_queue_callback_is_still_told_its_turn(calls):
    calls.start("early", at("2026-11-24T10:00"), caller="+46701740641")
    calls.handle("early", Digits("2"), at("2026-11-24T10:00:02"))
    calls.handle("early", Tick(), at("2026-11-24T10:03:00"))
    calls.handle("early", Digits("1"), at("2026-11-24T10:03:02"))
    actions = calls.handle("early", Digits("1"), at("2026-11-24T10:03:04"))
    assert [a for a in actions if a.kind == "say"][-1].prompt == "callback_confirmed_queue"


# --- the promise, counted in the unit's phone hours ------------------------------------------------------

LSS = Schedule("unit:lss", "LSS", parse_weekly({d: ["13:00-14:00"] for d in ("mon", "tue", "wed", "thu", "fri")}),
               tz=STOCKHOLM)


@pytest.mark.parametrize("now, days, first, due_by", [
    ("2026-11-24T10:00", None, "2026-11-24T13:00", "2026-11-24T14:00"),  # the next phone time, today
    ("2026-11-24T15:00", None, "2026-11-25T13:00", "2026-11-25T14:00"),
    ("2026-11-24T10:00", 0, "2026-11-24T13:00", "2026-11-24T14:00"),
    ("2026-11-24T10:00", 1, "2026-11-24T13:00", "2026-11-25T14:00"),  # same or next working day
    ("2026-11-24T15:00", 1, "2026-11-25T13:00", "2026-11-25T14:00"),
    ("2026-11-27T15:00", 1, "2026-11-30T13:00", "2026-11-30T14:00"),  # Friday: Monday, not Saturday
    ("2026-11-27T15:00", 2, "2026-11-30T13:00", "2026-12-01T14:00"),
    ("2026-12-23T15:00", 1, "2026-12-28T13:00", "2026-12-28T14:00"),  # julafton, juldagen, annandag: holidays
    ("2026-11-24T13:30", None, "2026-11-24T13:30", "2026-11-24T14:00"),  # open now
])
def test_promises_count_working_days_in_the_units_phone_hours(now, days, first, due_by):
    promise = promises.promise(LSS, at(now), days)
    assert (promise.first, promise.due_by) == (at(first), at(due_by))


def test_a_unit_inherits_who_answers_and_the_promise_from_its_parent(sessions):
    with sessions() as session:
        lss = session.scalar(select(Unit).where(Unit.slug == "lss"))
        assert promises.policy_for(lss) == promises.Policy("unit", 1, "lss@sjobacka.example")
        lss.answered_by, lss.promise_days, lss.email = None, None, ""
        lss.parent.answered_by, lss.parent.promise_days, lss.parent.email = "unit", 2, "soc@sjobacka.example"
        assert promises.policy_for(lss) == promises.Policy("unit", 2, "soc@sjobacka.example")
        bygglov = session.scalar(select(Unit).where(Unit.slug == "bygglov"))
        assert promises.policy_for(bygglov) == promises.Policy("centre", None, "")
        session.rollback()


# --- pacing, one call per number, merging ----------------------------------------------------------------


class Recording:
    name = "recording"

    def __init__(self):
        self.calls = []

    def place(self, call):
        self.calls.append(call)
        return f"rec-{call.request_id}-{call.attempt}"


def add(session, call_id, number, due_at, **purpose):
    request = CallbackRequest(call_id=call_id, number=number, requested_at=due_at - timedelta(hours=15),
                              kind="next_open", due_at=due_at, queue="centre", menu_choice="case", **purpose)
    session.add(request)
    session.flush()
    return request.id


def ready(session, *names):
    for name in names:
        session.add(ConsoleOperator(username=name, state="ready", reason="", since=at("2026-11-25T07:55"),
                                    endpoint=""))


def test_fifty_due_at_opening_with_three_free_operators_are_spread(app, sessions):
    svc = app.extensions["vaxel"]
    opening = at("2026-11-25T08:00")
    with sessions() as session:
        ids = [add(session, f"b{i}", f"+467017406{i:02d}", opening) for i in range(50)]
        ready(session, "anna", "bo", "cia")
        session.commit()
        assert free_count(session) == 3
    clock = {"now": opening}
    dialer = Recording()
    dispatcher = Dispatcher(svc.sessions, svc.settings, dialer, lambda: clock["now"], worker="w",
                            free_operators=free_count)
    first = dispatcher.tick()
    assert [r for r, _ in first.dialled] == ids[:3] and first.held == 47  # oldest first, three at a time
    clock["now"] += timedelta(seconds=5)
    assert dispatcher.tick().dialled == []  # all three operators are on a callback
    with sessions() as session:
        for request_id, attempt in first.dialled:
            outcomes.report(session, request_id, attempt, "answered", clock["now"], svc.settings)
    clock["now"] += timedelta(seconds=5)
    assert [r for r, _ in dispatcher.tick().dialled] == ids[3:6]
    with sessions() as session:
        session.get(ConsoleOperator, "cia").state = "paused"
        session.commit()
    for request_id, attempt in [(ids[i], 1) for i in range(3, 6)]:
        with sessions() as session:
            outcomes.report(session, request_id, attempt, "answered", clock["now"], svc.settings)
    clock["now"] += timedelta(seconds=5)
    assert len(dispatcher.tick().dialled) == 2  # one operator paused: two at a time


def test_citizen_first_dials_only_as_many_as_configured(app, sessions):
    svc = app.extensions["vaxel"]
    opening = at("2026-11-25T08:00")
    with sessions() as session:
        for i in range(10):
            add(session, f"c{i}", f"+467017406{i:02d}", opening)
        session.commit()
    settings = {**svc.settings, "callback": {**svc.settings["callback"], "order": "citizen_first",
                                             "max_dialling": 4}}
    report = Dispatcher(svc.sessions, settings, Recording(), lambda: opening, worker="w").tick()
    assert len(report.dialled) == 4 and report.held == 6


def test_one_number_is_never_rung_twice_in_a_tick(app, sessions):
    """Finding 3: three requests from one number, three calls at once; now one."""
    svc = app.extensions["vaxel"]
    opening = at("2026-11-25T08:00")
    with sessions() as session:
        same = [add(session, f"s{i}", "+46701740650", opening, target_kind="function", target_id=f"f00{i + 1}")
                for i in range(3)]
        other = add(session, "o", "+46701740651", opening)
        session.commit()
    dialer = Recording()
    report = Dispatcher(svc.sessions, svc.settings, dialer, lambda: opening, worker="w").tick()
    assert [r for r, _ in report.dialled] == [same[0], other]
    report = Dispatcher(svc.sessions, svc.settings, dialer, lambda: opening + timedelta(seconds=5),
                        worker="w").tick()
    assert report.dialled == []  # the call to that number is still out


def test_a_second_ask_for_the_same_purpose_is_merged(calls, sessions, runner):
    ask_for(calls, "m1", at("2026-11-24T14:00"), "bygglov")
    actions = ask_for(calls, "m2", at("2026-11-24T14:05"), "bygglov")
    assert [a for a in actions if a.kind == "say"][-1].prompt == "callback_confirmed_for"
    ask_for(calls, "m3", at("2026-11-24T14:10"), "Jonas Björk")  # another purpose: its own request
    with sessions() as session:
        requests = session.scalars(select(CallbackRequest).order_by(CallbackRequest.id)).all()
        assert [(r.call_id, r.merged, r.target_id) for r in requests] == [("m1", 1, "f001"), ("m3", 0, "p014")]
    dry = runner.invoke(args=["callbacks", "run", "--dry-run", "--at", "2026-11-25T10:00:00+01:00"])
    assert "Har bett om det 2 gånger." in dry.output and "1 callback(s) due" in dry.output


# --- each unit chooses in the directory admin ------------------------------------------------------------


def test_the_directory_admin_sets_who_answers_and_the_promise(admin_client, sessions):
    from tests.conftest import csrf_token

    token = csrf_token(admin_client, "/admin/directory")
    form = {"csrf_token": token, "slug": "bygglov", "name": "Bygglov", "kind": "avdelning",
            "parent": "stadsbyggnadskontoret", "keywords": "bygglov"}
    bad = admin_client.post("/admin/directory/units", data={**form, "answered_by": "nobody", "promise_days": "99"})
    assert bad.status_code == 302
    with sessions() as session:
        unit = session.scalar(select(Unit).where(Unit.slug == "bygglov"))
        assert (unit.answered_by, unit.promise_days) == (None, None)  # refused, nothing changed
    admin_client.post("/admin/directory/units", data={**form, "answered_by": "unit", "promise_days": "2",
                                                      "email": "bygglov@sjobacka.example"})
    with sessions() as session:
        unit = session.scalar(select(Unit).where(Unit.slug == "bygglov"))
        assert promises.policy_for(unit) == promises.Policy("unit", 2, "bygglov@sjobacka.example")
    page = admin_client.get("/admin/directory").get_data(as_text=True)
    assert "Bygglov (avdelning, under Stadsbyggnadskontoret) – svarar: enheten, inom 2 arbetsdagar" in page


# --- messages from operators, e-mailed through a real SMTP server ------------------------------------------


@pytest.fixture
def smtp_server(app):
    """A real local SMTP server (aiosmtpd) the app's [smtp] settings point at; yields the mails it received."""
    import socket

    from aiosmtpd.controller import Controller

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    smtp = app.extensions["vaxel"].settings["smtp"]
    saved = dict(smtp)
    smtp.update(host="127.0.0.1", port=port, sender="vaxel@sjobacka.example")
    yield received
    smtp.clear()
    smtp.update(saved)
    controller.stop()


def _queued_call(calls, call_id="msgcall", caller="+46701740655"):
    calls.start(call_id, at("2026-11-24T10:00"), caller=caller)
    calls.handle(call_id, Digits("2"), at("2026-11-24T10:00:02"))
    return call_id


def test_an_operator_message_is_stored_for_the_unit_and_emailed(calls, operator_client, sessions, smtp_server):
    from email import message_from_bytes
    from email.policy import default

    from tests.conftest import csrf_token

    call_id = _queued_call(calls)
    token = csrf_token(operator_client, "/console")
    reply = operator_client.post(f"/api/console/calls/{call_id}/message", headers={"X-CSRFToken": token}, json={
        "target": "p014", "subject": "Ansökan om ledsagare", "message": "Vill veta hur långt ärendet kommit."})
    assert reply.status_code == 200, reply.get_data(as_text=True)
    data = reply.get_json()
    assert (data["target"], data["unit"], data["emailed_to"], data["email_error"]) == (
        "Jonas Björk", "LSS-handläggning", "jonas.bjork@sjobacka.example", None)
    assert data["due_by"] == "2026-11-25T14:00:00+01:00"  # LSS: the same or the next working day
    (envelope,) = smtp_server
    assert envelope.rcpt_tos == ["jonas.bjork@sjobacka.example"]
    mail = message_from_bytes(envelope.content, policy=default)
    assert mail["From"] == "vaxel@sjobacka.example"
    assert mail["Subject"] == "Meddelande: Ansökan om ledsagare – ring 070-174 06 55"
    body = mail.get_content()
    assert "Vill veta hur långt ärendet kommit." in body and "Taget av operator" in body
    with sessions() as session:
        request = session.get(CallbackRequest, data["id"])
        assert (request.kind, request.answered_by, request.taken_by, request.number, request.unit_name) == (
            "message", "unit", "operator", "+46701740655", "LSS-handläggning")
        assert request.emailed_at is not None
        assert due_now(session, at("2026-11-25T13:00"), app_settings(operator_client)) == []  # never dialled


def app_settings(client):
    return client.application.extensions["vaxel"].settings


def test_a_message_with_a_number_we_may_not_call_is_refused_and_nothing_is_stored(calls, operator_client, sessions):
    from tests.conftest import csrf_token

    call_id = _queued_call(calls, "badnum")
    token = csrf_token(operator_client, "/console")
    for body, error in (({"target": "p014", "subject": "x", "number": "0900-123456"}, "kan inte ringas upp"),
                        ({"target": "p014", "subject": ""}, "skriv vad det gäller"),
                        ({"target": "nobody", "subject": "x"}, "finns inte i katalogen")):
        reply = operator_client.post(f"/api/console/calls/{call_id}/message", headers={"X-CSRFToken": token},
                                     json=body)
        assert reply.status_code == 400 and error in reply.get_json()["error"], body
    with sessions() as session:
        assert session.scalars(select(CallbackRequest).where(CallbackRequest.kind == "message")).all() == []


def test_with_the_mail_server_away_the_message_is_kept_with_the_reason(calls, operator_client, sessions, app):
    from tests.conftest import csrf_token

    smtp = app.extensions["vaxel"].settings["smtp"]
    saved = dict(smtp)
    smtp.update(host="127.0.0.1", port=1, timeout_seconds=2)  # nothing listens there
    try:
        call_id = _queued_call(calls, "away")
        token = csrf_token(operator_client, "/console")
        reply = operator_client.post(f"/api/console/calls/{call_id}/message", headers={"X-CSRFToken": token},
                                     json={"target": "unit:lss", "subject": "Ledsagare", "number": "040-628 04 77"})
    finally:
        smtp.clear()
        smtp.update(saved)
    data = reply.get_json()
    assert reply.status_code == 200 and data["emailed_to"] is None and "ConnectionRefusedError" in data["email_error"]
    with sessions() as session:
        request = session.get(CallbackRequest, data["id"])
        assert (request.target_kind, request.target_name, request.number) == ("unit", "LSS-handläggning", "+46406280477")


def test_a_mail_that_failed_is_tried_again_until_it_goes(app, sessions, smtp_server):
    """The server is away when the message is taken, back 20 minutes later: the dispatcher mails it then."""
    from callback import messages

    svc = app.extensions["vaxel"]
    smtp = svc.settings["smtp"]
    live_port = smtp["port"]
    smtp.update(port=1, timeout_seconds=2)  # nothing listens there
    with sessions() as session:
        taken = messages.take(session, target="unit:lss", number="040-628 04 77", subject="Ledsagare", message="",
                              operator="operator", now=at("2026-11-24T10:00"), settings=svc.settings, tz=TZ)
        assert (taken.email_attempts, taken.email_retry_at) == (1, at("2026-11-24T10:05"))

    def tick(when: str) -> int:
        return Dispatcher(svc.sessions, svc.settings, Recording(), lambda: at(when), worker="w").tick().mailed

    assert tick("2026-11-24T10:04") == 0 and smtp_server == []  # not before its time
    assert tick("2026-11-24T10:05") == 0  # tried, still away: next in 10 minutes
    with sessions() as session:
        assert session.get(CallbackRequest, taken.id).email_retry_at == at("2026-11-24T10:15")
    smtp["port"] = live_port
    assert tick("2026-11-24T10:10") == 0 and smtp_server == []
    assert tick("2026-11-24T10:15") == 1 and len(smtp_server) == 1
    assert tick("2026-11-24T12:00") == 0 and len(smtp_server) == 1  # once
    with sessions() as session:
        request = session.get(CallbackRequest, taken.id)
        assert (request.email_attempts, request.email_error, request.email_retry_at) == (3, None, None)
        assert request.emailed_at == at("2026-11-24T10:15")


def test_a_mail_that_never_goes_stops_after_the_last_attempt_and_keeps_the_reason(app, sessions):
    from callback import messages

    svc = app.extensions["vaxel"]
    smtp = svc.settings["smtp"]
    saved = dict(smtp)
    smtp.update(host="127.0.0.1", port=1, timeout_seconds=2)
    try:
        with sessions() as session:
            taken = messages.take(session, target="unit:lss", number="040-628 04 77", subject="Ledsagare",
                                  message="", operator="operator", now=at("2026-11-24T10:00"), settings=svc.settings,
                                  tz=TZ)
        when, tries = at("2026-11-24T10:00"), []
        for _ in range(20):  # a day of wake-ups every half hour
            when += timedelta(minutes=30)
            with sessions() as session:
                messages.deliver_pending(session, svc.settings, TZ, when)
                tries.append(session.get(CallbackRequest, taken.id).email_attempts)
    finally:
        smtp.clear()
        smtp.update(saved)
    assert max(tries) == messages.MAIL_ATTEMPTS and tries[-1] == tries[-5]  # stopped, not retried for ever
    with sessions() as session:
        request = session.get(CallbackRequest, taken.id)
        assert request.email_retry_at is None and "ConnectionRefusedError" in request.email_error
        assert request.status == "pending"  # still on the unit's list


@pytest.mark.parametrize("attempts, minutes", [(1, 5), (2, 10), (3, 20), (4, 40), (5, 80), (6, 120), (7, 120)])
def test_retry_delays_double_up_to_two_hours(attempts, minutes):
    from callback.messages import retry_delay

    assert retry_delay(attempts) == timedelta(minutes=minutes)


# --- the unit's own list: role staff sees only their unit ------------------------------------------------


def _unit_request(session, call_id, unit_slug, *, number, due_by, answered_by="unit", subject="Ärende"):
    unit = session.scalar(select(Unit).where(Unit.slug == unit_slug))
    request = CallbackRequest(call_id=call_id, number=number, requested_at=at("2026-11-23T09:00"), kind="message",
                              due_at=at("2026-11-23T13:00"), queue="centre", target_kind="unit",
                              target_id=unit.slug, target_name=unit.name, unit_id=unit.id, unit_name=unit.name,
                              answered_by=answered_by, subject=subject, taken_by="operator", due_by=due_by)
    session.add(request)
    session.commit()
    return request.id


def test_staff_see_and_work_only_their_units_list(client, sessions, app):
    from tests.conftest import csrf_token, login

    with sessions() as session:
        mine_late = _unit_request(session, "u1", "lss", number="+46701740661", due_by=at("2026-11-23T14:00"),
                                  subject="Försenad fråga")
        mine = _unit_request(session, "u2", "lss", number="+46701740662", due_by=at("2026-11-25T14:00"),
                             subject="Ledsagare")
        other = _unit_request(session, "u3", "bygglov", number="+46701740663", due_by=at("2026-11-25T12:00"),
                              subject="Altan")
    assert login(client, "lss", "demo-lss-2026").status_code == 302
    page = client.get("/requests").get_data(as_text=True)
    assert "Ledsagare" in page and "Försenad fråga" in page and "Altan" not in page
    assert page.index("Försenad fråga") < page.index("Ledsagare")  # overdue first
    assert "försenad" in page
    for path in ("/callbacks", "/console", "/directory", "/admin/directory", "/stats"):
        assert client.get(path).status_code == 403, path
    token = csrf_token(client, "/requests")
    assert client.post(f"/requests/{other}/done", data={"csrf_token": token, "outcome": "reached"}).status_code == 404
    assert client.post(f"/requests/{mine}/done", data={"csrf_token": token, "outcome": "not_reached"}).status_code == 409
    assert client.post(f"/requests/{mine}/done", data={"csrf_token": token, "outcome": "reached"}).status_code == 302
    assert client.post(f"/requests/{mine_late}/return", data={"csrf_token": token, "note": "fel enhet"}).status_code == 302
    with sessions() as session:
        done, back, untouched = (session.get(CallbackRequest, i) for i in (mine, mine_late, other))
        assert (done.status, done.outcome, done.closed_by) == ("done", "reached", "lss")
        assert (back.status, back.answered_by) == ("pending", "centre") and "fel enhet" in back.note
        assert untouched.status == "pending"
        settings = app.extensions["vaxel"].settings
        assert due_now(session, at("2026-11-24T10:30"), settings) == [mine_late]  # the centre now dials it


def test_the_centre_sees_every_units_list(operator_client, sessions):
    with sessions() as session:
        _unit_request(session, "c1", "lss", number="+46701740664", due_by=at("2026-11-25T14:00"), subject="Ledsagare")
        _unit_request(session, "c2", "bygglov", number="+46701740665", due_by=at("2026-11-23T12:00"), subject="Altan")
    page = operator_client.get("/requests").get_data(as_text=True)
    assert "Ledsagare" in page and "Altan" in page and page.index("Altan") < page.index("Ledsagare")


def test_a_staff_account_needs_a_unit(runner):
    bad = runner.invoke(args=["user", "add", "sara", "--role", "staff", "--password", "sara-password-2026"])
    assert bad.exit_code == 2 and "needs --unit" in bad.output
    good = runner.invoke(args=["user", "add", "sara", "--role", "staff", "--unit", "bygglov",
                               "--password", "sara-password-2026"])
    assert good.exit_code == 0, good.output


def test_a_callback_booked_for_a_unit_that_answers_itself_is_mailed_at_the_next_wake_up(calls, app, sessions,
                                                                                       smtp_server):
    ask_for(calls, "lssmail", at("2026-11-24T15:00"), "Jonas Björk")
    assert smtp_server == []  # the call never waits for a mail server
    svc = app.extensions["vaxel"]
    report = Dispatcher(svc.sessions, svc.settings, Recording(), lambda: at("2026-11-24T15:00:10"), worker="w").tick()
    assert report.mailed == 1 and report.dialled == []
    (envelope,) = smtp_server
    assert envelope.rcpt_tos == ["lss@sjobacka.example"]
    from email import message_from_bytes
    from email.policy import default

    mail = message_from_bytes(envelope.content, policy=default)
    assert mail["Subject"] == "Återuppringning: Jonas Björk – ring 070-174 06 99"
    assert "Taget av röstmenyn" in mail.get_content()
    Dispatcher(svc.sessions, svc.settings, Recording(), lambda: at("2026-11-24T15:00:20"), worker="w").tick()
    assert len(smtp_server) == 1  # once


def test_units_choices_round_trip_through_csv(admin_client, sessions):
    import io

    from tests.conftest import csrf_token

    exported = admin_client.get("/admin/directory/units.csv").get_data(as_text=True)
    assert "lss,LSS-handläggning,unit,1,lss@sjobacka.example" in exported
    edited = exported.replace("bygglov,Bygglov,,,", "bygglov,Bygglov,unit,2,bygglov@sjobacka.example")
    token = csrf_token(admin_client, "/admin/directory")
    bad = edited.replace("lss,LSS-handläggning,unit,1,", "lss,LSS-handläggning,somebody,99,")
    reply = admin_client.post("/admin/directory/units.csv", data={"csrf_token": token,
                              "file": (io.BytesIO(bad.encode()), "enheter.csv")})
    assert reply.status_code == 303
    page = admin_client.get("/admin/directory").get_data(as_text=True)
    assert "vem som svarar ska vara en av centre, unit" in page
    with sessions() as session:  # all or nothing: Bygglov's good line did not go in either
        assert session.scalar(select(Unit).where(Unit.slug == "bygglov")).answered_by is None
    reply = admin_client.post("/admin/directory/units.csv", data={"csrf_token": token,
                              "file": (io.BytesIO(edited.encode()), "enheter.csv")})
    assert reply.status_code == 302
    with sessions() as session:
        bygglov = session.scalar(select(Unit).where(Unit.slug == "bygglov"))
        assert promises.policy_for(bygglov) == promises.Policy("unit", 2, "bygglov@sjobacka.example")


# --- statistics by unit: the report, the dashboard and the raw file -------------------------------------


def test_messages_and_callbacks_by_unit_in_the_report_dashboard_and_raw_file(calls, runner, sessions, client, app):
    from core.clock import Clock
    from tests.conftest import login

    ask_for(calls, "st1", at("2026-11-24T15:00"), "Jonas Björk", caller="+46701740671")  # LSS answers
    ask_for(calls, "st2", at("2026-11-24T15:05"), "Hanna Pettersson", caller="+46701740672")
    ask_for(calls, "st3", at("2026-11-24T14:00"), "bygglov", caller="+46701740673")  # the centre for Bygglov
    with sessions() as session:
        first, second = request_of(session, "st1"), request_of(session, "st2")
        first.status, first.outcome, first.closed_at = "done", "reached", at("2026-11-25T13:10")  # in time
        second.status, second.outcome, second.closed_at = "done", "not_reached", at("2026-11-25T13:20")
        session.add(CallbackRequest(call_id="st4", number="+46701740674", requested_at=at("2026-11-24T11:00"),
                                    kind="message", due_at=at("2026-11-24T13:00"), queue="centre",
                                    unit_name="LSS-handläggning", answered_by="unit", due_by=at("2026-11-24T14:00"),
                                    taken_by="operator"))
        session.commit()
    app.extensions["vaxel"].clock = Clock(TZ, start=at("2026-11-26T10:00"))  # the report is made later
    assert runner.invoke(args=["stats", "rebuild"]).exit_code == 0
    result = runner.invoke(args=["stats", "report", "--from", "2026-11-24", "--to", "2026-11-24", "--format", "json"])
    rows = {r["key"]: r for r in json.loads(result.output)["requests_by_unit"]}
    assert {k: rows["LSS-handläggning"][k] for k in ("taken", "messages", "answered", "in_time", "overdue",
                                                      "failed", "open")} == {
        "taken": 3, "messages": 1, "answered": 1, "in_time": 1, "overdue": 1, "failed": 1, "open": 1}
    assert rows["Bygglov"]["taken"] == 1 and rows["Bygglov"]["overdue"] == 1  # due by 25/11 12:00, still open
    table = runner.invoke(args=["stats", "report", "--from", "2026-11-24", "--to", "2026-11-24"]).output
    assert "Meddelanden och återuppringningar per enhet" in table and "LSS-handläggning" in table

    assert login(client, "statistik", "demo-statistik-2026").status_code == 302
    page = client.get("/stats?from=2026-11-24&to=2026-11-24").get_data(as_text=True)
    assert 'id="requests-by-unit"' in page and "LSS-handläggning" in page
    raw = runner.invoke(args=["stats", "calls", "--from", "2026-11-24", "--to", "2026-11-24", "--format", "json"])
    by_call = {r["call_id"]: r for r in json.loads(raw.output)}
    assert (by_call["st1"]["callback_unit"], by_call["st1"]["callback_answered_by"],
            by_call["st1"]["callback_due_by"]) == ("LSS-handläggning", "unit", "2026-11-25T14:00:00+01:00")
    assert (by_call["st3"]["callback_unit"], by_call["st3"]["callback_answered_by"]) == ("Bygglov", "centre")


def test_a_test_call_hears_the_units_promise_and_writes_nothing(admin_client, sessions):
    from tests.conftest import csrf_token

    token = csrf_token(admin_client, "/admin/flow")
    reply = admin_client.post("/api/admin/flow/testcall", headers={"X-CSRFToken": token}, json={
        "at": "2026-11-24T14:00", "tokens": ["1", "say:bygglov", "1", "1"], "flow": "published",
        "caller": "+46701740699"})
    said = [a for a in reply.get_json()["actions"] if a["action"] == "say"]
    assert said[-1]["prompt"] == "callback_confirmed_for"
    assert "i morgon mellan 10:00 och 12:00, när Bygglov har telefontid" in said[-1]["text"]
    with sessions() as session:
        assert session.scalars(select(CallbackRequest)).all() == []


def test_two_queue_callbacks_from_one_number_are_one_request(calls, sessions):
    for i, start in enumerate(("2026-11-24T10:00", "2026-11-24T10:05")):
        cid = f"q{i}"
        calls.start(cid, at(start), caller="+46701740612")
        calls.handle(cid, Digits("2"), at(start) + timedelta(seconds=2))
        calls.handle(cid, Tick(), at(start) + timedelta(seconds=125))
        calls.handle(cid, Digits("1"), at(start) + timedelta(seconds=127))
        actions = calls.handle(cid, Digits("1"), at(start) + timedelta(seconds=130))
        assert [a.kind for a in actions] == ["callback", "say", "hangup"]
    with sessions() as session:
        (request,) = session.scalars(select(CallbackRequest)).all()
        assert (request.call_id, request.merged) == ("q0", 1)


def test_a_retry_for_bygglov_after_its_phone_time_waits_for_the_next_day(calls, app, sessions):
    from callback import operators

    ask_for(calls, "retry", at("2026-11-24T14:00"), "bygglov")
    svc = app.extensions["vaxel"]
    with sessions() as session:
        request = request_of(session, "retry")
        request.due_at = at("2026-11-25T12:05")  # a retry set for after Bygglov's 10-12
        session.commit()
        assert due_now(session, at("2026-11-25T12:05"), svc.settings) == []  # the switchboard is open, Bygglov not
        assert due_now(session, at("2026-11-26T10:00"), svc.settings) == [request.id]
        (row,) = operators.rows(session, at("2026-11-25T12:05"), svc.settings)
        assert row.due == at("2026-11-26T10:00")
