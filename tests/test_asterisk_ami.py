"""The AMI client against a fake Asterisk Manager over real TCP (tests/fakes/fake_ami.py).

The fake answers as wire/ami-session.txt shows: banner, responses carrying the client's ActionID,
events interleaved before and between responses, list actions ended by a Complete event.
"""

from __future__ import annotations

import logging
import re
import time

import pytest

from callback.dialer import CallbackCall, DialError
from switchboard.asterisk import operators
from switchboard.asterisk.ami import AmiClient, AmiError, AmiUnavailable
from switchboard.asterisk.dialer import AmiDialer
from switchboard.asterisk.pbx_events import PbxWatcher
from tests.fakes.captures import ami_messages
from tests.fakes.fake_ami import FakeAmi


def wait_for(condition, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.fixture
def ami():
    fake = FakeAmi()
    yield fake
    fake.close()


@pytest.fixture
def client(ami):
    c = AmiClient("127.0.0.1", ami.port, "vaxel", "test", timeout=3, backoff=(0.05, 0.2))
    yield c
    c.stop()


def connect(client: AmiClient, watcher: PbxWatcher | None = None) -> None:
    if watcher is not None:
        watcher.attach(client)
    client.start()
    assert client.connected.wait(5)


def test_login_and_resync_of_queue_and_device_states(ami, client):
    presence: list[tuple[str, str]] = []
    watcher = PbxWatcher("PJSIP/{extension}", ["vaxel-centre"], on_presence=lambda e, s: presence.append((e, s)))
    connect(client, watcher)
    assert wait_for(lambda: len(presence) == 2)
    login = ami.actions("Login")[0]
    assert (login["Username"], login["Secret"]) == ("vaxel", "test") and login["ActionID"]
    assert ami.actions("QueueStatus")[0]["Queue"] == "vaxel-centre"
    assert watcher.mirror.operators("vaxel-centre") == {
        "Local/100@ops-slow/n": {"name": "Local/100@ops-slow/n", "paused": False, "status": 1, "in_call": False}}
    assert presence == [("4439", "available"), ("4417", "unavailable")]


def test_responses_are_matched_by_action_id_and_headers_never_leak(ami, client):
    connect(client)
    response = client.action("Ping")  # the fake first answers somebody else's ActionID, then events, then ours
    assert response["Ping"] == "Pong"
    client.action("QueueAdd", Queue="vaxel-centre", Interface="PJSIP/4400", MemberName="Anna", Paused="false")
    client.action("Ping")
    pings = ami.actions("Ping")
    assert "Interface" not in pings[1] and "MemberName" not in pings[1]  # pyst2's mutable default dict
    ids = [a["ActionID"] for a in ami.received]
    assert len(ids) == len(set(ids))


def test_list_action_collects_its_events_despite_interleaved_ones(ami, client):
    connect(client)
    events = client.listing("QueueStatus", Queue="vaxel-centre")
    assert [e["Event"] for e in events] == ["QueueParams", "QueueMember"]


def test_an_error_response_raises(ami, client):
    connect(client)
    with pytest.raises(AmiError, match="Invalid/unknown command"):
        client.action("NoSuchAction")


def test_events_become_presence_and_call_events(ami, client):
    presence, calls = [], []
    watcher = PbxWatcher("PJSIP/{extension}", ["vaxel-centre"], on_presence=lambda e, s: presence.append((e, s)),
                         on_call_event=calls.append)
    connect(client, watcher)
    assert wait_for(lambda: len(presence) == 2)
    captured = [h for sent, h in ami_messages() if not sent and h.get("Event") in (
        "DialBegin", "DialEnd", "Hangup", "QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon",
        "AgentRingNoAnswer")]
    ami.push(*captured,
             {"Event": "DeviceStateChange", "Device": "PJSIP/4439", "State": "INUSE"},
             {"Event": "DeviceStateChange", "Device": "Local/200@staff-answer", "State": "INUSE"},  # not a phone
             {"Event": "ExtensionStatus", "Exten": "4417", "Context": "default", "Status": "0"},
             {"Event": "BlindTransfer", "TransfererChannel": "PJSIP/4400-01", "TransfererUniqueid": "7.1",
              "Extension": "4439", "Result": "Success"})
    assert wait_for(lambda: len(calls) == len(captured) + 1 and len(presence) == 4)
    assert presence[2:] == [("4439", "busy"), ("4417", "available")]
    kinds = {c.kind for c in calls}
    assert {"dial_begin", "dial_end", "hangup", "queue_join", "queue_leave", "queue_abandon", "operator_no_answer",
            "transfer"} <= kinds


def test_dropped_connection_reconnects_and_resynchronises(ami, client):
    watcher = PbxWatcher("PJSIP/{extension}", ["vaxel-centre"])
    connect(client, watcher)
    assert wait_for(lambda: len(ami.actions("DeviceStateList")) == 1)
    ami.members["PJSIP/4400"] = {"Name": "Anna", "Paused": "0"}  # changed while we were away
    ami.drop()
    assert wait_for(lambda: client.connections == 2 and client.connected.is_set())
    assert wait_for(lambda: len(ami.actions("DeviceStateList")) == 2)
    assert len(ami.actions("QueueStatus")) == 2 and ami.logins == 2
    assert "PJSIP/4400" in watcher.mirror.operators("vaxel-centre")
    assert client.action("Ping")["Ping"] == "Pong"


def test_actions_while_disconnected_fail_fast(ami):
    ami.close()
    c = AmiClient("127.0.0.1", ami.port, "vaxel", "test", timeout=1, backoff=(0.05, 0.1))
    c.start()
    try:
        with pytest.raises(AmiUnavailable):
            c.action("Ping")
    finally:
        c.stop()


def test_a_refused_login_is_retried_with_backoff(ami):
    c = AmiClient("127.0.0.1", ami.port, "vaxel", "wrong", timeout=2, backoff=(0.05, 0.1))
    c.start()
    try:
        assert wait_for(lambda: len(ami.actions("Login")) >= 3)
        assert not c.connected.is_set()
    finally:
        c.stop()


# -- Asterisk start-up: FullyBooted, actions of modules not loaded yet --------------------------------

AMI_LOG = "switchboard.asterisk.ami"
RETRY = re.compile(r"^AMI (\w+) not available yet \(Invalid/unknown command: \1\. [^)]*\); "
                   r"Asterisk may still be loading its modules: retrying in ([\d.]+) s$")


def booting_client(ami, boot_timeout: float = 10.0, resync_backoff=(0.05, 0.2)) -> tuple[AmiClient, PbxWatcher]:
    c = AmiClient("127.0.0.1", ami.port, "vaxel", "test", timeout=3, backoff=(0.05, 0.2),
                  boot_timeout=boot_timeout, resync_backoff=resync_backoff)
    watcher = PbxWatcher("PJSIP/{extension}", ["vaxel-centre"])
    watcher.attach(c)
    return c, watcher


def retries(caplog) -> list[tuple[str, float]]:
    found = []
    for r in caplog.records:
        m = RETRY.match(r.getMessage()) if r.name == AMI_LOG else None
        if m:
            found.append((m.group(1), float(m.group(2))))
    return found


def assert_one_line_each(caplog) -> None:
    for r in caplog.records:
        if r.name == AMI_LOG:
            assert r.exc_info is None and r.exc_text is None and "\n" not in r.getMessage(), r.getMessage()


def synchronised(watcher: PbxWatcher) -> bool:
    return "Local/100@ops-slow/n" in watcher.mirror.operators("vaxel-centre")


@pytest.fixture
def booting():
    fake = FakeAmi(booting=True)
    yield fake
    fake.close()


def test_resync_waits_for_fully_booted_while_asterisk_is_starting(booting, caplog):
    caplog.set_level(logging.INFO, logger=AMI_LOG)
    presence: list[tuple[str, str]] = []
    c, watcher = booting_client(booting)
    watcher.on_presence = lambda e, s: presence.append((e, s))
    c.start()
    try:
        assert wait_for(lambda: booting.logins == 1)
        time.sleep(0.3)
        assert booting.actions("QueueStatus") == [] and booting.actions("DeviceStateList") == []
        assert not c.connected.is_set()
        with pytest.raises(AmiUnavailable, match="still starting"):
            c.action("Ping")
        booting.finish_booting()  # app_queue and res_manager_devicestate loaded; FullyBooted to every session
        assert c.connected.wait(5)
        assert wait_for(lambda: len(presence) == 2)
        assert synchronised(watcher) and presence == [("4439", "available"), ("4417", "unavailable")]
        assert len(booting.actions("QueueStatus")) == 1 and len(booting.actions("DeviceStateList")) == 1
        assert retries(caplog) == []
        assert_one_line_each(caplog)
    finally:
        c.stop()


def test_a_resync_action_asterisk_does_not_know_yet_is_retried_with_backoff(booting, caplog):
    caplog.set_level(logging.INFO, logger=AMI_LOG)
    booting.hidden_events.add("FullyBooted")  # e.g. a proxy: the client tries anyway after boot_timeout
    c, watcher = booting_client(booting, boot_timeout=0.2, resync_backoff=(0.05, 0.2))
    c.start()
    try:
        assert wait_for(lambda: len(retries(caplog)) >= 5)
        assert c.connected.is_set()  # booted by timeout
        with pytest.raises(AmiError, match="Invalid/unknown command"):  # only the resync retries
            c.action("QueueAdd", Queue="vaxel-centre", Interface="PJSIP/4400")
        booting.finish_booting()
        assert wait_for(lambda: synchronised(watcher) and len(booting.actions("DeviceStateList")) == 1)
        delays = [d for action, d in retries(caplog)]
        assert {action for action, d in retries(caplog)} == {"QueueStatus"}
        assert delays[:4] == [0.05, 0.1, 0.2, 0.2]  # doubling, capped
        assert len(booting.actions("QueueStatus")) == len(delays) + 1
        no_boot = [r for r in caplog.records if "sent no FullyBooted within" in r.getMessage()]
        assert len(no_boot) == 1 and no_boot[0].levelno == logging.WARNING
        assert not any("resync" in r.getMessage() and "failed" in r.getMessage() for r in caplog.records)
        assert_one_line_each(caplog)
    finally:
        c.stop()


def test_a_late_fully_booted_resynchronises_again(booting, caplog):
    caplog.set_level(logging.INFO, logger=AMI_LOG)
    c, watcher = booting_client(booting, boot_timeout=0.1, resync_backoff=(0.05, 0.1))
    c.start()
    try:
        assert wait_for(lambda: len(retries(caplog)) >= 2)  # resynchronising without FullyBooted
        booting.finish_booting()
        assert wait_for(lambda: len(booting.actions("DeviceStateList")) == 2)
        assert synchronised(watcher)
        assert any("FullyBooted arrived late" in r.getMessage() for r in caplog.records)
    finally:
        c.stop()


def test_a_connection_dropped_before_and_after_fully_booted_resynchronises_again(booting, caplog):
    caplog.set_level(logging.INFO, logger=AMI_LOG)
    c, watcher = booting_client(booting)
    c.start()
    try:
        assert wait_for(lambda: booting.logins == 1)
        booting.drop()  # Asterisk restarted while starting
        assert wait_for(lambda: booting.logins == 2)
        time.sleep(0.2)
        assert booting.actions("QueueStatus") == [] and not c.connected.is_set()
        booting.finish_booting()
        assert wait_for(lambda: len(booting.actions("DeviceStateList")) == 1)
        assert synchronised(watcher) and c.connections == 2
        booting.members["PJSIP/4400"] = {"Name": "Anna", "Paused": "0"}  # changed while we were away
        booting.drop()  # and once more, now that it runs: FullyBooted comes right after the login
        assert wait_for(lambda: booting.logins == 3 and len(booting.actions("DeviceStateList")) == 2)
        assert wait_for(lambda: "PJSIP/4400" in watcher.mirror.operators("vaxel-centre"))
        assert len(booting.actions("QueueStatus")) == 2 and c.connections == 3
        assert retries(caplog) == []
        assert_one_line_each(caplog)
    finally:
        c.stop()


def test_a_reconnect_starts_the_retries_over(booting, caplog):
    caplog.set_level(logging.INFO, logger=AMI_LOG)
    booting.hidden_events.add("FullyBooted")
    c, watcher = booting_client(booting, boot_timeout=0.1, resync_backoff=(0.05, 0.4))
    c.start()
    try:
        assert wait_for(lambda: any(d == 0.4 for _, d in retries(caplog)))
        before = len(retries(caplog))
        booting.drop()
        assert wait_for(lambda: booting.logins == 2 and len(retries(caplog)) > before)
        assert retries(caplog)[before][1] == 0.05
        assert any("interrupted" in r.getMessage() for r in caplog.records)
        booting.finish_booting()
        assert wait_for(lambda: synchronised(watcher) and len(booting.actions("DeviceStateList")) == 1)
        assert_one_line_each(caplog)
    finally:
        c.stop()


# -- channels for the reconciler -----------------------------------------------------------------


def test_channels_lists_what_asterisk_has(ami, client):
    ami.channels = [
        {"Channel": "PJSIP/trunk-00000012", "ChannelState": "6", "ChannelStateDesc": "Up",
         "CallerIDNum": "+46701234567", "Context": "vaxel-incoming", "Exten": "4646355000", "Priority": "3",
         "Uniqueid": "1795469729.18", "Linkedid": "1795469729.18", "Application": "AGI",
         "ApplicationData": "agi://127.0.0.1:4573/incoming", "Duration": "00:01:07"},
        {"Channel": "PJSIP/4439-00000013", "ChannelState": "5", "ChannelStateDesc": "Ringing",
         "Context": "vaxel-transfer", "Exten": "4439", "Uniqueid": "1795469729.19", "Linkedid": "1795469729.18",
         "Application": "AppDial", "ApplicationData": "(Outgoing Line)", "BridgeId": ""},
    ]
    connect(client)
    channels = client.channels()
    assert [(ch["Uniqueid"], ch["Linkedid"], ch["Channel"], ch["ChannelStateDesc"], ch["Context"], ch["Exten"],
             ch["Application"]) for ch in channels] == [
        ("1795469729.18", "1795469729.18", "PJSIP/trunk-00000012", "Up", "vaxel-incoming", "4646355000", "AGI"),
        ("1795469729.19", "1795469729.18", "PJSIP/4439-00000013", "Ringing", "vaxel-transfer", "4439", "AppDial")]
    assert channels[0]["ApplicationData"] == "agi://127.0.0.1:4573/incoming" and channels[1]["BridgeId"] == ""
    assert ami.actions("CoreShowChannels")[0]["ActionID"]
    ami.channels = []
    assert client.channels() == []


def test_channels_without_a_booted_asterisk_raise(booting):
    c, _ = booting_client(booting)
    with pytest.raises(AmiUnavailable, match="not connected"):
        c.channels()
    c.start()
    try:
        assert wait_for(lambda: booting.logins == 1)
        with pytest.raises(AmiUnavailable, match="still starting"):
            c.channels()
        assert booting.actions("CoreShowChannels") == []
    finally:
        c.stop()


def test_the_fake_answers_core_show_channels_as_asterisk_does(ami):
    """Headers in main/manager.c's order: the channel state block (as Newchannel in the capture), then the rest."""
    ami.channels = [{"Channel": "PJSIP/4439-00000013", "Uniqueid": "1.2", "Linkedid": "1.1"}]
    messages = ami.answer({"Action": "CoreShowChannels", "ActionID": "a9"})
    assert messages[0] == {"Response": "Success", "ActionID": "a9", "EventList": "start",
                           "Message": "Channels will follow"}
    newchannel = [h for sent, h in ami_messages() if h.get("Event") == "Newchannel"][0]
    state = [k for k in newchannel if k not in ("Event", "Privilege")]
    assert list(messages[1]) == ["Event", "ActionID", *state, "Application", "ApplicationData", "Duration",
                                 "BridgeId"]
    assert messages[2] == {"Event": "CoreShowChannelsComplete", "ActionID": "a9", "EventList": "Complete",
                           "ListItems": "1"}


# -- operators ---------------------------------------------------------------------------------


def test_operators_log_in_pause_and_log_out(ami, client):
    watcher = PbxWatcher("PJSIP/{extension}", ["vaxel-centre"])
    connect(client, watcher)
    interface = operators.interface_of("4400", "PJSIP/{extension}")
    operators.log_in(client, interface, "Anna Operatör")
    add = ami.actions("QueueAdd")[0]
    assert (add["Queue"], add["Interface"], add["MemberName"], add["Paused"]) == (
        "vaxel-centre", "PJSIP/4400", "Anna Operatör", "false")
    with pytest.raises(AmiError, match="Already there"):
        operators.log_in(client, interface, "Anna Operatör")
    operators.pause(client, interface, reason="lunch")
    assert wait_for(lambda: watcher.mirror.operators("vaxel-centre").get(interface, {}).get("paused") is True)
    assert ami.actions("QueuePause")[0]["Reason"] == "lunch"
    operators.pause(client, interface, paused=False)
    operators.log_out(client, interface)
    assert wait_for(lambda: interface not in watcher.mirror.operators("vaxel-centre"))


# -- callbacks with Originate --------------------------------------------------------------------


def callback(operator=None, attempt=1) -> CallbackCall:
    return CallbackCall(request_id=7, attempt=attempt, number="+46701740620", present_as="+46406280400",
                        operator=operator, brief="Återuppringning till 070-174 06 20 om bygglov.")


def dialer_for(client) -> tuple[AmiDialer, list[tuple[int, int, str]]]:
    outcomes: list[tuple[int, int, str]] = []
    dialer = AmiDialer(client, lambda r, a, o: outcomes.append((r, a, o)), "PJSIP/{extension}",
                       "Local/{number}@vaxel-outbound")
    return dialer, outcomes


@pytest.mark.parametrize("reason, outcome", [("4", "answered"), ("5", "busy"), ("3", "no-answer"), ("8", "failed")])
def test_citizen_first_callback_shows_the_main_number(ami, client, reason, outcome):
    ami.originate_reason = reason
    dialer, outcomes = dialer_for(client)
    connect(client)
    platform_id = dialer.place(callback())
    assert wait_for(lambda: outcomes == [(7, 1, outcome)])
    originate = ami.actions("Originate")[0]
    assert originate["ActionID"] == platform_id
    assert (originate["Channel"], originate["CallerID"], originate["Context"], originate["Exten"]) == (
        "Local/+46701740620@vaxel-outbound", "<+46406280400>", "vaxel-callback", "citizen")
    assert "VAXEL_CALLBACK=7/1" in originate["_all"]["Variable"]


def test_operator_first_callback_reports_the_citizen_leg_once(ami, client):
    dialer, outcomes = dialer_for(client)
    connect(client)
    dialer.place(callback(operator="centre"))
    originate = ami.actions("Originate")[0]
    assert originate["Channel"] == "Local/vaxel-centre@vaxel-callback-queue" and originate["Exten"] == "operator"
    assert wait_for(lambda: dialer._by_channel)  # the operator answered: now the citizen is rung
    uniqueid = next(iter(dialer._by_channel))
    assert outcomes == []
    end = {"Event": "DialEnd", "Uniqueid": uniqueid, "DialStatus": "NOANSWER", "Channel": "x"}
    ami.push(end, end, {"Event": "Hangup", "Uniqueid": uniqueid})
    assert wait_for(lambda: outcomes == [(7, 1, "no-answer")])
    time.sleep(0.1)
    assert outcomes == [(7, 1, "no-answer")]  # exactly once


def test_operator_by_extension_rings_that_phone(ami, client):
    dialer, outcomes = dialer_for(client)
    connect(client)
    dialer.place(callback(operator="4400"))
    assert ami.actions("Originate")[0]["Channel"] == "PJSIP/4400"


def test_a_refused_originate_is_a_dial_error(ami, client):
    dialer = AmiDialer(client, lambda *a: None, "PJSIP/{extension}", "Local/{number}@fail")
    connect(client)
    with pytest.raises(DialError, match="Originate failed"):
        dialer.place(callback())


def test_no_ami_connection_is_a_dial_error(ami):
    ami.close()
    c = AmiClient("127.0.0.1", ami.port, "vaxel", "test", timeout=1, backoff=(0.05, 0.1))
    dialer, _ = dialer_for(c)
    with pytest.raises(DialError):
        dialer.place(callback())


def test_an_attempt_lost_with_the_connection_is_reported_failed(ami, client):
    ami.originate_reason = "4"
    dialer, outcomes = dialer_for(client)
    connect(client)
    dialer.place(callback(operator="centre"))
    assert wait_for(lambda: dialer._by_channel)
    ami.drop()
    assert wait_for(lambda: outcomes == [(7, 1, "failed")])


# -- `vaxel serve`'s wiring ----------------------------------------------------------------------


def test_without_an_ami_host_the_service_runs_without_ami_and_says_so(app):
    from switchboard.asterisk import service as telephony

    lines: list[str] = []
    phones = telephony.start(app.extensions["vaxel"], agi_port=0, say=lines.append)
    assert phones.ami is None and phones.agi is None
    assert any("running without AMI" in line for line in lines)


def test_with_an_ami_host_the_service_connects_and_reports_presence(app, ami):
    from switchboard.asterisk import service as telephony

    services = app.extensions["vaxel"]
    services.settings["ami"].update(host="127.0.0.1", port=ami.port, secret="test")
    seen: list[tuple[str, str]] = []
    lines: list[str] = []
    phones = telephony.start(services, agi_port=0, on_presence=lambda e, s: seen.append((e, s)), say=lines.append)
    try:
        assert wait_for(lambda: seen == [("4439", "available"), ("4417", "unavailable")])
        assert any(line.startswith("AMI: connecting to 127.0.0.1") for line in lines)
    finally:
        phones.stop()
