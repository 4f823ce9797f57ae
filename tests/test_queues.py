"""Several queues (issue 16, item 7): queues defined in the flow with names people read, the English line in the
English queue, position per queue, a returned caller first in their own queue, operators serving the queues an
admin chose, statistics per queue, and each queue on Twilio and Asterisk."""

from __future__ import annotations

import copy
import json

import pytest

from ivr import flow as flows
from ivr.protocol import Digits, OperatorAnswered, OperatorToQueue, OperatorTransfer, TransferEnded
from switchboard.asterisk import operators as ast_operators
from switchboard.asterisk.conf import sections
from switchboard.asterisk.mapping import app_queue_name
from switchboard.asterisk.pbx_events import PbxWatcher
from switchboard.calls import CallRunner
from core.settings import CONFIG_DIR
from tests.conftest import at
from tests.fakes.fake_ami import CAPTURED_EVENTS, FakeAmi
from tests.test_asterisk_ami import connect, wait_for
from tests.test_simulator import as_traffic, call, prompts
from tests.test_twilio_calls import phone  # noqa: F401  (the fixture)

DEFAULT = flows.load_file(CONFIG_DIR / "flows" / "default.toml")
MAIN, ENGLISH_LINE, BYGG_LINE = "+46406280400", "+46406280498", "+46406280497"
T0 = at("2026-11-24T10:00")
TARGET_ARGS = dict(id="p039", name="Sven Olofsson", unit="Marknad och torghandel", number="+46406280439")


def runner_of(app) -> CallRunner:
    svc = app.extensions["vaxel"]
    return CallRunner(svc.sessions, svc.settings, channel="simulator")


def queued(runner: CallRunner, call_id: str, called: str = MAIN, key: str | None = "2"):
    """A caller on ``called`` who presses ``key`` (the centre; None: a line straight to its queue) — the Enqueue
    action they get."""
    actions = runner.start(call_id, T0, caller="+46701740600", called=called)
    if key is not None:
        actions = runner.handle(call_id, Digits(key), T0)
    return next(a for a in actions if a.kind == "enqueue")


# -- the flow ---------------------------------------------------------------------------------------


def test_the_default_flow_names_its_queues():
    flow = flows.Flow.from_document(DEFAULT)
    assert flow.queue_names == {"centre": "Kundcenter", "english": "English", "bygg": "Bygg och miljö"}
    assert flow.queue_of(flow.node("centre"), "en") == "english" and flow.queue_of(flow.node("centre"), "sv") == "centre"
    assert flow.start_for(BYGG_LINE) == "bygg_hours" and flow.start_for(MAIN) == "hours"


@pytest.mark.parametrize("change, problem", [
    (lambda d: d["nodes"]["centre"].update(queue="ekonomi"), "kön ekonomi är inte en av flödets köer"),
    (lambda d: d["nodes"]["centre"]["queue_for_language"].update(en="engelska"),
     "kön engelska (en) är inte en av flödets köer"),
    (lambda d: d["queues"].update({"Bygg Miljö": {"name": "x"}}), "ska vara små bokstäver"),
    (lambda d: d["queues"]["english"].update(name=""), "Kön english behöver ett namn"),
    (lambda d: d["queue"].update(name="ekonomi"), "Kön: name ekonomi (standardkön)"),
    (lambda d: d["numbers"][BYGG_LINE].update(start="nowhere"), "startsteget nowhere finns inte"),
])
def test_a_flow_naming_an_unknown_queue_is_refused_with_the_reason(change, problem):
    doc = copy.deepcopy(DEFAULT)
    change(doc)
    assert any(problem in p for p in flows.validate(doc)), flows.validate(doc)


def test_a_flow_without_queues_has_the_centre():
    doc = copy.deepcopy(DEFAULT)
    for key in ("queues",):
        doc.pop(key)
    doc["nodes"]["centre"].pop("queue_for_language")
    doc["nodes"]["bygg"].update(queue="centre", queue_for_language={})
    assert flows.validate(doc) == [] and flows.queue_names(doc) == {"centre": "Kundcenter"}


# -- callers in their queues ------------------------------------------------------------------------


def test_each_line_waits_in_its_own_queue(runner):
    english = call(runner, "2", extra=("--to", ENGLISH_LINE))[1]
    assert next(a for a in english if a["action"] == "enqueue")["queue"] == "english"
    assert next(a for a in english if a["action"] == "say" and a["prompt"] == "queue_position")["lang"] == "en"
    bygg = call(runner, extra=("--to", BYGG_LINE))[1]
    assert prompts(bygg)[:2] == ["bygg_greeting", "queue_position"]
    assert next(a for a in bygg if a["action"] == "enqueue")["queue"] == "bygg"
    main = call(runner, "2")[1]
    assert next(a for a in main if a["action"] == "enqueue")["queue"] == "centre"


def test_position_and_wait_count_within_the_callers_own_queue(app):
    calls = runner_of(app)
    assert queued(calls, "c1").position == 1
    assert queued(calls, "c2").position == 2
    english = queued(calls, "e1", ENGLISH_LINE)
    assert (english.queue, english.position) == ("english", 1)  # the two in the centre are not ahead of them
    assert queued(calls, "c3").position == 3
    assert queued(calls, "e2", ENGLISH_LINE).position == 2


def test_a_returned_caller_goes_back_first_in_the_queue_they_came_from(app):
    calls = runner_of(app)
    queued(calls, "e1", ENGLISH_LINE)
    queued(calls, "c1")
    calls.handle("e1", OperatorAnswered("operator"), T0)  # not ready in the console: not free to take it back
    queued(calls, "e2", ENGLISH_LINE)
    queued(calls, "e3", ENGLISH_LINE)
    from ivr.protocol import Match

    calls.handle("e1", OperatorTransfer(Match(**TARGET_ARGS), "operator"), T0)
    back = calls.handle("e1", TransferEnded("no-answer"), T0)
    enqueue = next(a for a in back if a.kind == "enqueue")
    assert (enqueue.queue, enqueue.position, enqueue.returned) == ("english", 1, True)
    assert calls.state_of("e1").queue["name"] == "english"
    said = next(a for a in back if a.kind == "say" and a.prompt == "queue_position")
    assert said.lang == "en"


def test_an_operator_putting_the_caller_back_keeps_their_queue(app):
    calls = runner_of(app)
    queued(calls, "e1", ENGLISH_LINE)
    calls.handle("e1", OperatorAnswered("operator"), T0)
    back = calls.handle("e1", OperatorToQueue("operator"), T0)
    assert next(a for a in back if a.kind == "enqueue").queue == "english"


# -- operators and their queues ---------------------------------------------------------------------


def test_operators_serve_the_centre_unless_an_admin_chooses(runner):
    assert runner.invoke(args=["user", "queues", "operator"]).output.strip() == "operator serves: Kundcenter"
    chosen = runner.invoke(args=["user", "queues", "operator", "Kundcenter", "english"])
    assert chosen.exit_code == 0 and chosen.output.strip() == "operator serves: Kundcenter, English"
    unknown = runner.invoke(args=["user", "queues", "operator", "Ekonomi"])
    assert unknown.exit_code != 0 and "no queue 'Ekonomi'" in unknown.output and "Bygg och miljö" in unknown.output
    reset = runner.invoke(args=["user", "queues", "operator", "--default"])
    assert reset.output.strip() == "operator serves: Kundcenter"


def test_an_operator_serving_two_queues_sees_both_and_answers_across_them(app, runner, operator_client):
    runner.invoke(args=["user", "queues", "operator", "Kundcenter", "English"])
    calls = runner_of(app)
    queued(calls, "c1")
    queued(calls, "e1", ENGLISH_LINE)
    queued(calls, "b1", BYGG_LINE, key=None)
    snap = operator_client.get("/api/console/snapshot").get_json()
    assert snap["served"]["operator"] == ["centre", "english"]
    assert {q["id"]: (q["name"], q["count"]) for q in snap["queues"]} == {
        "centre": ("Kundcenter", 1), "english": ("English", 1), "bygg": ("Bygg och miljö", 1)}
    rows = {q["call_id"]: (q["queue_name"], q["position"]) for q in snap["queue"]}
    assert rows["e1"] == ("English", 1) and rows["c1"] == ("Kundcenter", 1)
    refused = operator_client.post("/api/console/calls/b1/answer", headers=_csrf(operator_client))
    assert refused.status_code == 403 and "Bygg och miljö" in refused.get_json()["error"]
    assert operator_client.post("/api/console/calls/e1/answer", headers=_csrf(operator_client)).status_code == 200
    assert calls.state_of("e1").party == "operator"
    assert operator_client.post("/api/console/calls/e1/end", headers=_csrf(operator_client)).status_code == 200
    assert operator_client.post("/api/console/calls/c1/answer", headers=_csrf(operator_client)).status_code == 200
    assert calls.state_of("c1").party == "operator"


def test_an_operator_not_serving_a_queue_does_not_get_its_callers(app, operator_client):
    calls = runner_of(app)
    queued(calls, "e1", ENGLISH_LINE)
    refused = operator_client.post("/api/console/calls/e1/answer", headers=_csrf(operator_client))
    assert refused.status_code == 403 and "English" in refused.get_json()["error"]
    assert calls.state_of("e1").awaiting == "queue"


def _csrf(client) -> dict:
    from tests.conftest import csrf_token

    return {"X-CSRFToken": csrf_token(client, "/console")}


# -- statistics per queue ---------------------------------------------------------------------------


def test_statistics_per_queue_by_its_name(runner, sessions):
    for extra in ((), (), ("--to", ENGLISH_LINE)):
        call(runner, "2", "wait:30", extra=extra)
    as_traffic(sessions)  # a `vaxel call` alone is never counted
    report = runner.invoke(args=["stats", "report", "--from", "2026-11-24", "--to", "2026-11-24", "--format", "json"])
    by_queue = {q["name"]: q for q in json.loads(report.output)["by_queue"]}
    assert (by_queue["Kundcenter"]["answered"], by_queue["English"]["answered"]) == (2, 1)
    assert by_queue["Bygg och miljö"]["queued"] == 0
    english = runner.invoke(args=["stats", "report", "--from", "2026-11-24", "--to", "2026-11-24", "--queue", "English",
                                  "--format", "json"])
    data = json.loads(english.output)
    assert data["calls"]["answered"] == 1 and data["filters"]["queue_name"] == "English"
    table = runner.invoke(args=["stats", "report", "--from", "2026-11-24", "--to", "2026-11-24", "--queue", "english"])
    assert "kö English" in table.output
    wrong = runner.invoke(args=["stats", "report", "--queue", "Ekonomi"])
    assert wrong.exit_code != 0 and "no queue 'Ekonomi'" in wrong.output


def test_the_statistics_page_lists_queues_by_name(runner, admin_client, sessions):
    call(runner, "2", extra=("--to", ENGLISH_LINE))
    as_traffic(sessions)
    page = admin_client.get("/stats?from=2026-11-24&to=2026-11-24&queue=English").get_data(as_text=True)
    assert '<option value="english" selected>English</option>' in page
    assert '<tr data-queue="english"><td>English</td>' in page and '>Kundcenter</option>' in page


# -- the platforms ----------------------------------------------------------------------------------


def test_twilio_enqueues_each_queue_by_its_id():
    from ivr.protocol import Enqueue, Say
    from switchboard.twilio import twiml

    links = twiml.Links(wait="/w", queue_result="/r")
    doc = str(twiml.call_twiml([Say("q", "You are number 1.", "en"), Enqueue("english", 1, 60)],
                               twiml.Where("queue", "english"), links, twiml.Audio()))
    assert "<Enqueue" in doc and ">english</Enqueue>" in doc
    returned = str(twiml.call_twiml([Enqueue("bygg", 1, 0, returned=True)], twiml.Where("queue", "bygg", True), links,
                                    twiml.Audio()))
    assert ">bygg-returned</Enqueue>" in returned


def test_the_twilio_operator_line_takes_from_the_queues_the_operator_serves(app, runner, client, phone):
    from switchboard.console import operators
    from tests.test_console_twilio import ENDPOINT, query
    from tests.test_twilio_calls import HOST, Operator, verb

    svc = app.extensions["vaxel"]
    svc.settings["public"]["url"] = HOST
    svc.settings["twilio"]["operators"].append(ENDPOINT)
    with svc.sessions() as session:
        operators.set_state(session, "operator", "ready", T0).endpoint = ENDPOINT
        session.commit()
    line = Operator(client, number=ENDPOINT)
    calls = runner_of(app)
    queued(calls, "e1", ENGLISH_LINE)
    assert verb(line.call(), "Dial").find("Queue").text == "centre"  # serves the centre only: waits there
    runner.invoke(args=["user", "queues", "operator", "Kundcenter", "English"])
    dial = verb(line.call(), "Dial").find("Queue")
    assert dial.text == "english" and query(dial.get("url"))["queue"] == "english"


def test_asterisk_has_an_app_queue_for_each_queue_of_the_default_flow():
    queues = sections(CONFIG_DIR / "asterisk" / "queues_vaxel.conf")
    assert "vaxel-queue" not in queues  # the template is not a queue
    for qid in flows.queue_names(DEFAULT):
        options = dict(queues[app_queue_name(qid)])
        assert options["timeoutpriority"] == "conf" and options["setinterfacevar"] == "yes"
        assert options["joinempty"] == "yes" and options["announce-frequency"] == "0"


def test_ami_mirrors_several_queues_and_their_callers():
    ami = FakeAmi()
    from switchboard.asterisk.ami import AmiClient

    client = AmiClient("127.0.0.1", ami.port, "vaxel", "test", timeout=3, backoff=(0.05, 0.2))
    try:
        watcher = PbxWatcher("PJSIP/{extension}", ["vaxel-centre", "vaxel-english"])
        connect(client, watcher)
        assert wait_for(lambda: [a["Queue"] for a in ami.actions("QueueStatus")] == ["vaxel-centre", "vaxel-english"])
        ast_operators.log_in(client, "PJSIP/4400", "Anna", queue="english")
        assert wait_for(lambda: "PJSIP/4400" in watcher.mirror.operators("vaxel-english"))
        assert "PJSIP/4400" not in watcher.mirror.operators("vaxel-centre")
        joined = next(e for e in CAPTURED_EVENTS if e["Event"] == "QueueCallerJoin")  # as Asterisk sends it
        ami.push({**joined, "Queue": "vaxel-english"})
        assert wait_for(lambda: joined["Uniqueid"] in watcher.mirror.callers.get("vaxel-english", {}))
        assert joined["Uniqueid"] not in watcher.mirror.callers.get("vaxel-centre", {})
    finally:
        client.stop()
        ami.close()


def test_an_asterisk_operator_joins_the_app_queues_they_serve_and_no_other(app, runner, monkeypatch):
    from switchboard.asterisk.control import make_factory
    from switchboard.asterisk.ami import AmiClient

    ami = FakeAmi()
    client = AmiClient("127.0.0.1", ami.port, "vaxel", "test", timeout=3, backoff=(0.05, 0.2))
    try:
        connect(client)
        runner.invoke(args=["user", "queues", "operator", "english", "bygg"])
        make_factory(client)(app.extensions["vaxel"]).set_operator("operator", "4400", "ready")
        assert sorted(a["Queue"] for a in ami.actions("QueueAdd")) == ["vaxel-bygg", "vaxel-english"]
        assert "PJSIP/4400" not in ami.members_of("vaxel-centre")
        make_factory(client)(app.extensions["vaxel"]).set_operator("operator", "4400", "offline")
        assert not ami.members_of("vaxel-english") and not ami.members_of("vaxel-bygg")
    finally:
        client.stop()
        ami.close()
