"""Issue 14: one number policy for every number vaxel dials, applied where a number enters and where it is dialled.

Table first (directory.numbers.check, number by number), then each entry point (presence, the status API, the
CSV import, the console's operator endpoint), then each dial site (a forward stored straight in the database to a
premium number is never dialled — Twilio and Asterisk — and callbacks), then the Twilio operator line.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from sqlalchemy import func, select

from callback.dialer import CallbackCall, DialError
from directory import csv_io, numbers, presence
from directory.models import Presence, Staff, Unit
from tests.conftest import at, csrf_token
from tests.test_twilio_calls import phone  # noqa: F401  (the fixture)

NOW = at("2026-11-24T10:00")
PREMIUM = "+46900123456"
NORWEGIAN_MOBILE = "+4741234567"
EXCEPTED = numbers.Policy(exceptions=frozenset({NORWEGIAN_MOBILE}))

ALLOWED = [
    # raw, E.164, national
    ("070-174 06 99", "+46701740699", "070-174 06 99"),
    ("+46 73 123 45 67", "+46731234567", "073-123 45 67"),
    ("0046 8 123 456 78", "+46812345678", "08-123 456 78"),
    ("046-35 50 00", "+4646355000", "046-35 50 00"),
]

REFUSED = [
    # raw, reason, words of the Swedish message
    ("0900-123 45 67", "premium", "är ett betalnummer och får inte användas"),
    ("0939-123 456", "premium", "är ett betalnummer"),
    ("0944-123 456", "premium", "är ett betalnummer"),
    ("+46 944 123 456", "premium", "är ett betalnummer"),
    ("0991-234 567", "premium", "är ett betalnummer"),  # 099x mass-call: unknown to phonenumbers
    ("0712-34 56 78", "not_allowed", "är inte ett svenskt fast- eller mobilnummer"),  # 071x telematics
    ("0771-123 456", "not_allowed", "är inte ett svenskt fast- eller mobilnummer"),  # shared cost
    ("020-123 456", "not_allowed", "är inte ett svenskt fast- eller mobilnummer"),  # freephone
    ("075-123 45 67", "not_allowed", "är inte ett svenskt fast- eller mobilnummer"),  # personal number
    ("010-123 45 67", "not_allowed", "är inte ett svenskt fast- eller mobilnummer"),  # 010: not fixed or mobile
    ("+44 7911 123456", "international", "är inte ett svenskt fast- eller mobilnummer"),
    ("00358 40 123 4567", "international", "är inte ett svenskt fast- eller mobilnummer"),
    (NORWEGIAN_MOBILE, "international", "är inte ett svenskt fast- eller mobilnummer"),  # not excepted here
    ("ring mig på mobilen", "invalid", "går inte att tolka som ett telefonnummer"),
    ("12", "invalid", "går inte att tolka som ett telefonnummer"),
    ("070 123 45 67 ext 5", "invalid", "går inte att tolka som ett telefonnummer"),
    ("", "hidden", "saknas"),
]


@pytest.mark.parametrize("raw, e164, national", ALLOWED, ids=[a[0] for a in ALLOWED])
def test_allowed_numbers_come_back_as_e164_and_national(raw, e164, national):
    decision = numbers.check(raw)
    assert (decision.ok, decision.number, decision.spoken, decision.reason, decision.message) == \
        (True, e164, national, None, "")


@pytest.mark.parametrize("raw, reason, words", REFUSED, ids=[r[0] or "empty" for r in REFUSED])
def test_refused_numbers_have_a_reason_and_a_swedish_message(raw, reason, words):
    decision = numbers.check(raw)
    assert (decision.ok, decision.number, decision.reason) == (False, None, reason)
    assert words in decision.message


def test_the_message_names_the_number_as_people_write_it():
    assert numbers.check(" 0900-1234567").message == "Numret 0900-1234567 är ett betalnummer och får inte användas"
    assert numbers.check("ring mig på mobilen").message == \
        "”ring mig på mobilen” går inte att tolka som ett telefonnummer"


@pytest.mark.parametrize("raw, ok", [
    (NORWEGIAN_MOBILE, True),           # the per-site exception
    ("0047 41 23 45 67", True),         # the same number, written otherwise
    ("+4741234568", False),             # its neighbour is not excepted
    ("0900-123 45 67", False),          # exceptions add, they never open premium rate
    ("070-174 06 99", True),
])
def test_a_per_site_exception_is_allowed(raw, ok):
    assert numbers.check(raw, EXCEPTED).ok is ok


def test_exceptions_come_from_settings():
    policy = numbers.Policy.from_settings({"numbers": {"allowed_types": ["mobile"], "region": "SE",
                                                       "exceptions": ["0047 41 23 45 67", "nonsense"]},
                                           "twilio": {"operators": ["client:anna"]}})
    assert policy.exceptions == {NORWEGIAN_MOBILE} and policy.operators == {"client:anna"}
    assert numbers.check(NORWEGIAN_MOBILE, policy).ok and not numbers.check("08-465 004 00", policy).ok


@pytest.mark.parametrize("endpoint, ok", [
    ("", True),                    # no endpoint
    ("4400", True),                # an internal extension
    ("client:anna", True),         # listed in twilio.operators
    ("+46701740699", True),        # listed
    ("070-174 06 99", True),       # listed, written nationally
    ("client:mallory", False),     # not listed
    ("sip:x@example.com", False),
    ("+46900123456", False),       # a number, not listed: never an operator endpoint
    ("PJSIP/4400", False),
])
def test_operator_endpoints_are_extensions_or_listed(endpoint, ok):
    policy = numbers.Policy(operators=frozenset({"client:anna", "+46701740699"}))
    assert numbers.check_endpoint(endpoint, policy).ok is ok


def test_callbacks_keep_their_spoken_reasons():
    from callback.policy import check

    assert check("0900-123 45 67", ["fixed_line", "mobile"]).reason == "not_allowed"
    assert check("0991-234 567", ["fixed_line", "mobile"]).reason in {"invalid", "not_allowed"}
    assert check(NORWEGIAN_MOBILE, ["fixed_line", "mobile"]).reason == "international"


# -- where numbers enter ---------------------------------------------------------------------------


def _sven(session) -> int:
    return session.scalar(select(Staff.id).where(Staff.extension == "4439"))


@pytest.mark.parametrize("forward_to, words", [
    ("0900-123 45 67", "betalnummer"),
    ("0991-234 567", "betalnummer"),
    ("+44 7911 123456", "inte ett svenskt"),
    ("ring mig på mobilen", "går inte att tolka"),
])
def test_presence_refuses_a_forward_the_policy_refuses(app, sessions, forward_to, words):
    with sessions() as session:
        with pytest.raises(presence.PresenceError, match=words):
            presence.set_status(session, _sven(session), "forwarded", by="op", now=NOW, forward_to=forward_to)


def test_presence_stores_a_forward_as_e164_and_honours_an_exception(app, sessions):
    with sessions() as session:
        sid = _sven(session)
        assert presence.set_status(session, sid, "forwarded", by="op", now=NOW,
                                   forward_to="070-174 06 99").forward_to == "+46701740699"
        assert presence.set_status(session, sid, "forwarded", by="op", now=NOW, forward_to="0047 41 23 45 67",
                                   policy=EXCEPTED).forward_to == NORWEGIAN_MOBILE


def test_the_status_api_refuses_a_premium_forward_in_swedish(operator_client, app):
    url = "/api/directory/entries/p039/status"
    token = csrf_token(operator_client, "/directory")
    bad = operator_client.post(url, json={"status": "forwarded", "forward_to": "0900-123 45 67"},
                               headers={"X-CSRFToken": token})
    assert bad.status_code == 400
    assert bad.get_json()["error"] == "Numret 0900-123 45 67 är ett betalnummer och får inte användas"
    foreign = operator_client.post(url, json={"status": "forwarded", "forward_to": NORWEGIAN_MOBILE},
                                   headers={"X-CSRFToken": token})
    assert foreign.status_code == 400 and "inte ett svenskt fast- eller mobilnummer" in foreign.get_json()["error"]

    app.extensions["vaxel"].settings["numbers"]["exceptions"] = [NORWEGIAN_MOBILE]  # a per-site exception
    ok = operator_client.post(url, json={"status": "forwarded", "forward_to": "0047 41 23 45 67"},
                              headers={"X-CSRFToken": token})
    assert ok.status_code == 200 and ok.get_json()["forward_to"] == NORWEGIAN_MOBILE


CSV_HEADER = "id,kind,name,title,unit,extension,phone,mobile,other_numbers,email,keywords,hidden_number,notes\n"


@pytest.mark.parametrize("row, column, words", [
    ("z1,person,Pia Premium,,gata-och-park,4490,0900-123 45 67,,,,,no,\n", "phone", "betalnummer"),
    ("z1,person,Pia Premium,,gata-och-park,4490,,0939-123 456,,,,no,\n", "mobile", "betalnummer"),
    ("z1,person,Pia Premium,,gata-och-park,4490,,,4491|0991-234 567,,,no,\n", "other_numbers", "betalnummer"),
    ("z1,person,Pia Premium,,gata-och-park,4490,,+44 7911 123456,,,,no,\n", "mobile", "inte ett svenskt"),
    ("z1,person,Pia Premium,,gata-och-park,4490,ring mig på mobilen,,,,,no,\n", "phone", "går inte att tolka"),
])
def test_a_csv_import_with_a_refused_number_names_the_line_and_imports_nothing(app, sessions, row, column, words):
    text = CSV_HEADER + "z0,person,Olle Ok,,gata-och-park,4489,070-174 06 98,,,,,no,\n" + row
    with sessions() as session:
        before = session.scalar(select(func.count()).select_from(Staff))
        with pytest.raises(csv_io.ImportRejected) as rejected:
            csv_io.import_csv(session, text)
        assert session.scalar(select(func.count()).select_from(Staff)) == before
    [error] = rejected.value.errors
    assert error.startswith(f"rad 3: {column}: ") and words in error


def test_a_csv_import_stores_e164_and_keeps_extensions(app, sessions):
    text = CSV_HEADER + "z0,person,Olle Ok,,gata-och-park,4489,046-35 50 00,070-174 06 98,4491|08-465 004 00,,,no,\n"
    with sessions() as session:
        csv_io.import_csv(session, text)
        olle = session.scalar(select(Staff).where(Staff.external_id == "z0"))
        assert (olle.phone, olle.mobile) == ("+4646355000", "+46701740698")
        assert sorted(n.value for n in olle.numbers) == ["+46846500400", "4491"]


def test_the_console_refuses_an_operator_endpoint_not_allowed(operator_client, app):
    from switchboard.console.models import ConsoleOperator

    token = csrf_token(operator_client, "/console")
    for endpoint in ("+46900123456", "sip:anyone@example.com", "client:mallory"):
        bad = operator_client.post("/api/console/state", json={"state": "ready", "endpoint": endpoint},
                                   headers={"X-CSRFToken": token})
        assert bad.status_code == 400 and "anknytning" in bad.get_json()["error"]
    app.extensions["vaxel"].settings["twilio"]["operators"] = ["client:operator"]
    for endpoint in ("4400", "client:operator"):
        assert operator_client.post("/api/console/state", json={"state": "ready", "endpoint": endpoint},
                                    headers={"X-CSRFToken": token}).status_code == 200
    with app.extensions["vaxel"].sessions() as session:
        assert session.get(ConsoleOperator, "operator").endpoint == "client:operator"


# -- where numbers are dialled: a forward stored straight in the database --------------------------------


def _forward_in_the_database(sessions, number: str) -> None:
    """What an old row, a migration or a hand-edited database may hold: no policy ran on it."""
    with sessions() as session:
        for staff_id in session.scalars(select(Staff.id).join(Unit, Unit.id == Staff.unit_id)
                                        .where(Unit.slug == "torghandel")):
            session.merge(Presence(staff_id=staff_id, status="forwarded", reason="", set_by="x", set_at=NOW,
                                   forward_to=number, line="unknown"))
        session.commit()


def test_twilio_never_dials_a_premium_forward_the_caller_goes_back_to_the_centre(phone, sessions, caplog):
    from tests.test_twilio_calls import events, queue_of, reach_transfer, redirect, said

    _forward_in_the_database(sessions, PREMIUM)
    caller = phone()
    with caplog.at_level(logging.WARNING):
        doc = reach_transfer(caller)
    assert doc.find("Dial") is None  # never handed to Twilio
    assert PREMIUM in caplog.text and "not dialled" in caplog.text
    back = caller.post(redirect(doc))  # the Dial action, as after a failed transfer
    assert "kunde inte koppla" in said(back) and queue_of(back) == "centre-returned"
    failed = next(data for t, data in events(sessions, caller.call_sid) if t == "transfer_failed")
    assert failed["reason"] == "failed"


def test_twilio_dials_an_allowed_forward(phone, sessions):
    from tests.test_twilio_calls import reach_transfer, verb

    _forward_in_the_database(sessions, "+46701740698")
    assert verb(reach_transfer(phone()), "Dial").find("Number").text == "+46701740698"


def test_asterisk_never_dials_a_premium_forward(app, tmp_path, sessions):
    from tests.conftest import TZ
    from tests.fakes.clock import SteppingClock
    from tests.test_asterisk_calls import OPEN, last, start_phone

    _forward_in_the_database(sessions, PREMIUM)
    phone, server = start_phone(app, tmp_path, SteppingClock(TZ, at(OPEN)))
    try:
        fake = phone.call("1", "4439#", "queue:operator:Anna:3")
    finally:
        server.stop()
    assert fake.errors == [] and fake.dialled == []  # nothing went to Dial()
    events = phone.events(fake)
    assert last(events, "transfer_failed")["reason"] == "failed"
    assert last(events, "returned_to_queue")["target"] == "Sven Olofsson"
    assert any("kunde inte koppla" in p for p in fake.played)


def test_the_asterisk_dial_string_never_carries_a_refused_number():
    from ivr.protocol import Transfer
    from switchboard.asterisk.call import AsteriskCall

    class Runner:
        settings = {"numbers": {}, "twilio": {"operators": []}}

    call = AsteriskCall.__new__(AsteriskCall)
    call.runner, call.call_id = Runner(), "ast-x"
    call.dial_template, call.outbound_template = "Local/{extension}-{number}@t", "Local/{number}@out"
    call.clock = type("C", (), {"now": staticmethod(lambda: NOW)})()
    refused = call.transfer(Transfer("s1", "Pia", PREMIUM, None, 20))
    assert refused[0].status == "failed"
    dialled = []
    call.channel = type("Ch", (), {"run_app": lambda self, app, arg: dialled.append(arg) or 0,
                                   "var": lambda self, name: "NOANSWER", "alive": lambda self: True})()
    call.transfer(Transfer("s1", "Pia", PREMIUM, "4490", 20))
    assert dialled == ["Local/4490-@t,20"]  # the extension rings, the number is not filled in


def test_twilio_never_rings_an_operator_endpoint_the_policy_refuses(app, sessions, caplog):
    """An endpoint stored straight in the database is checked again before the console rings it."""
    from switchboard.console import operators
    from switchboard.twilio.control import TwilioControl

    control = TwilioControl(client=None, services=app.extensions["vaxel"])
    with sessions() as session:
        operators.set_state(session, "operator", "ready", NOW).endpoint = PREMIUM
        session.commit()
    with caplog.at_level(logging.WARNING):
        assert control.endpoint("operator") == ""  # treated as no endpoint: the caller goes to the queue
    assert "not rung" in caplog.text
    app.extensions["vaxel"].settings["twilio"]["operators"] = ["client:operator"]
    with sessions() as session:
        operators.get(session, "operator", NOW).endpoint = "client:operator"
        session.commit()
    assert control.endpoint("operator") == "client:operator"
    assert control.policy().operators == {"client:operator"}


@pytest.mark.parametrize("make", ["twilio", "asterisk"])
def test_callback_dialers_refuse_a_number_the_policy_refuses(make):
    call = CallbackCall(request_id=7, attempt=1, number=PREMIUM, present_as="+46406280400", operator=None,
                        brief="")
    if make == "twilio":
        from switchboard.twilio.dialer import TwilioDialer

        dialer = TwilioDialer(client=None, public_url="https://vaxel.example")  # would fail if it got that far
    else:
        from switchboard.asterisk.dialer import AmiDialer

        dialer = AmiDialer.__new__(AmiDialer)
        dialer.policy = numbers.DEFAULT
    with pytest.raises(DialError, match="number policy"):
        dialer.place(call)
    with pytest.raises(DialError, match="number policy"):
        dialer.place(replace(call, number="+4741234567"))


# -- the Twilio operator line ------------------------------------------------------------------------


def test_the_operator_line_refuses_everyone_while_twilio_operators_is_empty(phone, app, client, caplog):
    from tests.test_twilio_calls import Operator, said, tags

    app.extensions["vaxel"].settings["twilio"]["operators"] = []
    for who in ("+46701740699", "client:anna", ""):
        with caplog.at_level(logging.WARNING):
            refused = Operator(client, number=who).call()
        assert tags(refused) == ["Say", "Hangup"] and "inte registrerat" in said(refused)
    assert "twilio.operators is empty" in caplog.text


def test_the_operator_line_refuses_a_stranger_even_when_our_answer_fails(phone, app, client, monkeypatch):
    from switchboard.twilio import operator as line
    from tests.test_twilio_calls import Operator, tags

    def broken(queue):
        raise RuntimeError("database gone")

    monkeypatch.setattr(line, "_returned_first", broken)
    assert tags(Operator(client, number="+46701740688").call()) == ["Say", "Hangup"]  # the rescue refuses too
    assert "Dial" in tags(Operator(client).call())  # a listed operator still gets the centre queue


def test_production_refuses_to_start_with_twilio_on_and_no_operators(database_url, monkeypatch):
    from switchboard.app import create_app

    monkeypatch.setenv("VAXEL_SERVICE_SECRET_KEY", "a-production-secret-of-at-least-32-chars-3f9c")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "test-twilio-auth-token")
    with pytest.raises(RuntimeError, match="twilio.operators"):
        create_app({"database": {"url": database_url}, "service": {"mode": "production"},
                    "twilio": {"enabled": True}})
    app = create_app({"database": {"url": database_url}, "service": {"mode": "production"},
                      "twilio": {"enabled": True, "operators": ["client:anna"]}})
    app.extensions["vaxel"].engine.dispose()
