"""Callbacks out through Twilio: the exact REST request Twilio would receive, and each outcome reported once.

Twilio's HTTP layer is replaced by :class:`RecordingHttpClient` (a real
``twilio.http.HttpClient``), so the REST client runs for real without a network.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from callback.dialer import CallbackCall, DialError
from callback import queue as centre
from switchboard.app import create_app
from switchboard.twilio import twiml
from switchboard.twilio.dialer import TwilioDialer, make_dialer
from switchboard.twilio.models import CallbackOutcome
from switchboard.twilio.outbound import HANDLER_KEY
from tests.test_twilio_calls import ACCOUNT, TOKEN, Operator, Twilio, said, tags, verb
from tests.test_twilio_calls import phone  # noqa: F401  (the fixture)

PUBLIC = "https://vaxel.sjobacka.se"
CITIZEN = "+46701740601"
MAIN = "+46406280400"


class RecordingHttpClient(HttpClient):
    """Records every request the REST client makes and answers like Twilio's Calls endpoint."""

    def __init__(self, status: int = 201, body: dict | None = None):
        super().__init__(logger=logging.getLogger("test.twilio.http"), is_async=False)
        self.requests: list[dict] = []
        self.status, self.body = status, body or {"sid": "CA" + "c" * 32, "status": "queued"}

    def request(self, method, uri, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        self.requests.append({"method": method, "uri": uri, "data": dict(data or {}), "auth": auth})
        return Response(self.status, json.dumps(self.body))


def dialer(http: RecordingHttpClient) -> TwilioDialer:
    return TwilioDialer(Client(ACCOUNT, TOKEN, http_client=http), PUBLIC)


def callback(operator: str | None = None, attempt: int = 1) -> CallbackCall:
    return CallbackCall(request_id=7, attempt=attempt, number=CITIZEN, present_as=MAIN, operator=operator,
                        brief="Återuppringning till 070-174 06 01, ärende, försök 1.")


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_citizen_first_creates_the_call_twilio_expects():
    http = RecordingHttpClient()
    sid = dialer(http).place(callback())
    assert sid == "CA" + "c" * 32
    (sent,) = http.requests
    assert sent["method"] == "POST"
    assert sent["uri"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Calls.json"
    assert sent["auth"] == (ACCOUNT, TOKEN)
    form = sent["data"]
    assert form["To"] == CITIZEN and form["From"] == MAIN  # the municipality's main number is presented
    assert form["Url"] == f"{PUBLIC}/twilio/callback/answer?r=7&a=1" and form["Method"] == "POST"
    assert form["StatusCallback"] == f"{PUBLIC}/twilio/callback/status?r=7&a=1"
    assert form["StatusCallbackMethod"] == "POST"
    assert form["StatusCallbackEvent"] == ["answered", "completed"]


def test_operator_first_rings_the_operator_and_carries_the_brief():
    http = RecordingHttpClient()
    dialer(http).place(callback(operator="client:anna", attempt=2))
    form = http.requests[0]["data"]
    assert form["To"] == "client:anna" and form["From"] == MAIN
    answer = query(form["Url"])
    assert answer == {"r": "7", "a": "2", "o": "1", "n": CITIZEN, "p": MAIN, "b": callback().brief}
    assert query(form["StatusCallback"]) == {"r": "7", "a": "2", "o": "1"}


def test_an_operator_endpoint_twilio_cannot_ring_means_the_centre_queue():
    http = RecordingHttpClient()
    dialer(http).place(callback(operator="centre"))  # the default: a queue name, not an address
    form = http.requests[0]["data"]
    assert form["To"] == CITIZEN and "o" not in query(form["Url"])


def test_a_refused_call_is_a_dial_error():
    http = RecordingHttpClient(status=400, body={"code": 21211, "message": "Invalid 'To' Phone Number",
                                                 "status": 400})
    with pytest.raises(DialError, match="7/1"):
        dialer(http).place(callback())


def test_the_factory_needs_the_account_and_token_from_the_environment(monkeypatch):
    settings = {"public": {"url": PUBLIC}, "twilio": {"api_url": "https://api.dublin.ie1.twilio.com/"}}
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    with pytest.raises(ValueError, match="TWILIO_ACCOUNT_SID"):
        make_dialer(settings, None)
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    http = RecordingHttpClient()
    make_dialer(settings, None, http_client=http).place(callback())
    assert http.requests[0]["auth"] == (ACCOUNT, TOKEN)
    assert http.requests[0]["uri"].startswith("https://api.dublin.ie1.twilio.com/2010-04-01/")  # twilio.api_url
    with pytest.raises(ValueError, match="VAXEL_PUBLIC_URL"):
        make_dialer({**settings, "public": {"url": ""}}, None)


# -- the webhooks of the placed call -----------------------------------------------------------------


@pytest.fixture
def outcomes(phone, app):
    """Outcomes the adapter reports, in order."""
    reported: list[tuple[int, int, str]] = []
    app.extensions[HANDLER_KEY] = lambda request_id, attempt, outcome: reported.append((request_id, attempt, outcome))
    return reported


def rung(phone, url: str, **extra):
    """The outbound call's own requests: From is our number, To the party rung."""
    twilio = phone(MAIN, called=CITIZEN)
    return twilio, twilio.post(url, Direction="outbound-api", **extra)


def test_a_citizen_rung_back_waits_first_in_line_and_the_outcome_is_reported_once(phone, app, client, sessions,
                                                                                   outcomes):
    other = phone("+46701740605")
    other.press(other.call(), "2")  # someone already waits in the centre queue

    http = RecordingHttpClient()
    dialer(http).place(callback())
    form = http.requests[0]["data"]
    citizen, answered = rung(phone, form["Url"].replace(PUBLIC, "http://localhost"), CallStatus="in-progress")
    assert "Sjöbacka kommun" in said(answered) and "ringa upp" in said(answered)
    assert verb(answered, "Enqueue").text == "centre-returned"
    with sessions() as session:
        assert centre.waiting(session, "centre")[0].call_id == citizen.call_sid

    status_url = form["StatusCallback"].replace(PUBLIC, "http://localhost")
    citizen.post(status_url, CallStatus="in-progress", CallbackSource="call-progress-events")
    citizen.post(status_url, CallStatus="in-progress")  # Twilio retries
    line = Operator(client).call()
    assert verb(line, "Dial").find("Queue").text == "centre-returned"
    Operator(client).takes(line, citizen)
    citizen.post(verb(answered, "Enqueue").get("action"), QueueResult="bridged", QueueTime="5")
    citizen.post(status_url, CallStatus="completed", CallDuration="240")
    assert outcomes == [(7, 1, "answered")]
    with sessions() as session:
        assert centre.waiting(session, "centre")[0].call_id == other.call_sid
        row = session.scalar(select(CallbackOutcome))
        assert (row.request_id, row.attempt, row.outcome, row.call_sid) == (7, 1, "answered", citizen.call_sid)


@pytest.mark.parametrize("status, outcome", [("no-answer", "no-answer"), ("busy", "busy"), ("failed", "failed"),
                                             ("canceled", "failed")])
def test_a_citizen_not_reached_is_reported_as_such(phone, outcomes, status, outcome):
    twilio = phone(MAIN, called=CITIZEN)
    twilio.post("/twilio/callback/status?r=9&a=3", CallStatus="ringing")
    twilio.post("/twilio/callback/status?r=9&a=3", CallStatus=status)
    twilio.post("/twilio/callback/status?r=9&a=3", CallStatus=status)
    assert outcomes == [(9, 3, outcome)]


def test_operator_first_reports_how_ringing_the_citizen_ended(phone, outcomes):
    operator_leg = phone(MAIN, called="client:anna")
    brief = operator_leg.post("/twilio/callback/answer?r=5&a=1&o=1&n=%2B46701740601&p=%2B46406280400&b=Hej+Anna",
                              CallStatus="in-progress")
    assert said(brief) == "Hej Anna"
    dial = verb(brief, "Dial")
    assert dial.find("Number").text == CITIZEN and dial.get("callerId") == MAIN
    operator_leg.post("/twilio/callback/status?r=5&a=1&o=1", CallStatus="in-progress")  # the operator answered
    assert outcomes == []
    told = operator_leg.post(dial.get("action"), DialCallStatus="no-answer")
    assert said(told) == twiml.CALLBACK_NOT_REACHED and tags(told)[-1] == "Hangup"
    operator_leg.post("/twilio/callback/status?r=5&a=1&o=1", CallStatus="completed")
    assert outcomes == [(5, 1, "no-answer")]


def test_an_operator_who_never_answers_fails_the_attempt(phone, outcomes):
    operator_leg = phone(MAIN, called="client:anna")
    operator_leg.post("/twilio/callback/status?r=6&a=2&o=1", CallStatus="no-answer")
    assert outcomes == [(6, 2, "failed")]


def test_a_failing_handler_leaves_the_outcome_for_the_next_report(phone, app, outcomes):
    calls = []

    def flaky(request_id, attempt, outcome):
        calls.append(outcome)
        if len(calls) == 1:
            raise RuntimeError("database away")
        outcomes.append((request_id, attempt, outcome))

    app.extensions[HANDLER_KEY] = flaky
    twilio = phone(MAIN, called=CITIZEN)
    twilio.post("/twilio/callback/status?r=8&a=1", CallStatus="in-progress")  # lost: answered with empty TwiML
    twilio.post("/twilio/callback/status?r=8&a=1", CallStatus="completed")
    assert outcomes == [(8, 1, "answered")]


# -- startup ---------------------------------------------------------------------------------------


def production(database_url, monkeypatch, **twilio):
    monkeypatch.setenv("VAXEL_SERVICE_SECRET_KEY", "a-production-secret-of-at-least-32-chars-3f9c")
    return create_app({"database": {"url": database_url}, "service": {"mode": "production"},
                       "twilio": {"enabled": True, "operators": ["+46701740699"], **twilio}})


def test_production_refuses_to_start_without_the_auth_token(database_url, monkeypatch):
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    with pytest.raises(RuntimeError, match="TWILIO_AUTH_TOKEN"):
        production(database_url, monkeypatch)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    production(database_url, monkeypatch).extensions["vaxel"].engine.dispose()


def test_signature_checks_can_be_off_only_in_development_and_it_is_said_loudly(database_url, monkeypatch, caplog):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    with pytest.raises(RuntimeError, match="development only"):
        production(database_url, monkeypatch, validate_signatures=False)
    with caplog.at_level(logging.WARNING):
        app = create_app({"database": {"url": database_url},
                          "twilio": {"enabled": True, "validate_signatures": False}})
    assert "SIGNATURE VALIDATION IS OFF" in caplog.text
    unsigned = Twilio(app.test_client(), "CA" + "u" * 32).raw("/twilio/fallback", {"CallSid": "CA" + "u" * 32},
                                                                signature=None)
    assert unsigned.status_code == 200
    app.extensions["vaxel"].engine.dispose()
