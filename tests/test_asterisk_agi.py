"""The FastAGI wire: our pyst2-based channel against the real Asterisk sessions in tests/fakes/wire.

Each capture is replayed over real TCP; the script side runs the same commands through our
AgiChannel, and every line it sends must equal what the captured script sent, byte for byte
(quoting and escaping included), while the replies — keys as ASCII codes, the inline HANGUP, 511 on
the dead channel, 510, multi-line 520 — are understood.
"""

from __future__ import annotations

import socket
import threading

import pytest

from switchboard.asterisk.agi import (
    AGIAppError, AGIInvalidCommand, AGIUsageError, AgiChannel, ChannelHungUp, Reply, arg, parse_reply, quote,
)
from switchboard.asterisk.mapping import key_of, transfer_input
from ivr.protocol import Hangup, TransferEnded
from tests.fakes.captures import Exchange
from tests.fakes.fake_asterisk import parse_args
from tests.fakes.replay import Replay


@pytest.fixture
def listener():
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(10)
        yield server


def accept(listener, replay: Replay) -> AgiChannel:
    replay.start()
    conn, _ = listener.accept()
    return AgiChannel(conn)


def test_answered_caller_capture(listener):
    replay = Replay.of(listener.getsockname()[1], "agi-answered-caller.txt")
    ch = accept(listener, replay)
    assert ch.env["agi_network_script"] == "incoming" and ch.env["agi_callerid"] == "+46701234567"
    assert ch.env["agi_accountcode"] == "" and ch.env["agi_request"] == "agi://127.0.0.1:4573/incoming"
    ch.answer()
    played = ch.stream("vaxel-welcome", "12")
    assert key_of(played.number) == "2" and played.extras == {"endpos": "13600"}  # 50 = ASCII "2"
    assert ch.command("GET DATA", "vaxel-welcome", 4000, 1).result == "1"  # GET DATA gives the digit itself
    assert key_of(ch.wait_digit(1000).number) is None  # 0: no key
    ch.set_var("VAXEL_NOTE", 'say "hej" to åsa')
    assert ch.var("VAXEL_NOTE") == 'say "hej" to åsa'
    assert ch.command("GET FULL VARIABLE", arg("${CALLERID(num)}")).data == "+46701234567"
    assert ch.var("NO_SUCH_VARIABLE") is None
    outcomes = []
    for target in ("Local/200@staff-noanswer,4", "Local/200@staff-busy,4", "Local/200@staff-answer,4"):
        returned = ch.run_app("Dial", target)
        outcomes.append((returned, transfer_input(ch.var("DIALSTATUS"))))
    assert outcomes == [(0, TransferEnded("no-answer")), (0, TransferEnded("busy")), (-1, TransferEnded("answered"))]
    assert ch.command("NOOP", "hello").result == "0"
    with pytest.raises(AGIAppError):
        ch.appexec("NoSuchApplication", "x")  # pyst2's own helper, now over our plumbing: -2
    with pytest.raises(AGIInvalidCommand, match="510"):
        ch.command("THIS IS NOT A COMMAND")
    assert ch.run_app("Queue", "centre,,,,6") == 0 and ch.var("QUEUESTATUS") == "TIMEOUT"
    assert ch.command("SAY NUMBER", 3, quote("")).result == "-1"
    assert ch.wait_digit(40000).number == -1 and not ch.hung_up  # hang-up during the command: no notice yet
    assert ch.command("NOOP", "after-hangup").result == "0" and ch.hung_up  # HANGUP came before this reply
    assert ch.var("DIALSTATUS") == "ANSWER"
    ch.close()
    replay.done.wait(5)
    assert replay.received == replay.expected


def test_caller_hangs_up_capture(listener):
    replay = Replay.of(listener.getsockname()[1], "agi-caller-hangs-up.txt")
    ch = accept(listener, replay)
    assert ch.env["agi_callerid"] == "anonymous"
    ch.answer()
    assert ch.stream("vaxel-welcome", "12").number == 0  # played to the end
    assert ch.command("GET DATA", "vaxel-welcome", 4000, 1).result == "-1"
    with pytest.raises(ChannelHungUp, match="511"):
        ch.wait_digit(1000)  # the inline HANGUP, then 511
    assert ch.hung_up
    ch.set_var("VAXEL_NOTE", 'say "hej" to åsa')  # variables still work on a dead channel
    assert ch.var("VAXEL_NOTE") == 'say "hej" to åsa'
    assert ch.command("GET FULL VARIABLE", arg("${CALLERID(num)}")).data == "anonymous"
    assert ch.var("NO_SUCH_VARIABLE") is None
    for target in ("Local/200@staff-noanswer,4", "Local/200@staff-busy,4", "Local/200@staff-answer,4"):
        assert ch.run_app("Dial", target) == -1
        assert transfer_input(ch.var("DIALSTATUS")) == Hangup()  # CANCEL: the caller is gone
    assert ch.command("NOOP", "hello").result == "0"
    assert ch.run_app("NoSuchApplication", "x") == -2
    with pytest.raises(AGIInvalidCommand):
        ch.command("THIS IS NOT A COMMAND")
    assert ch.run_app("Queue", "centre,,,,6") == -1 and ch.var("QUEUESTATUS") is None
    with pytest.raises(ChannelHungUp):
        ch.command("SAY NUMBER", 3, quote(""))
    with pytest.raises(ChannelHungUp):
        ch.wait_digit(40000)
    assert ch.command("NOOP", "after-hangup").result == "0"
    assert ch.var("DIALSTATUS") == "CANCEL"
    assert not ch.alive()
    ch.close()
    replay.done.wait(5)
    assert replay.received[:len(replay.expected)] == replay.expected


def test_multi_line_520_is_read_whole_and_the_stream_stays_in_step(listener):
    usage = ("520-Invalid command syntax.  Proper usage follows:", "Usage: GET VARIABLE <variablename>",
             " Returns 0 if <variablename> is not set.", "520 End of proper usage.")
    replay = Replay(listener.getsockname()[1], ["agi_network_script: incoming"], [
        Exchange("GET VARIABLE", usage), Exchange("GET VARIABLE X", ("200 result=1 (ok)",))])
    ch = accept(listener, replay)
    with pytest.raises(AGIUsageError) as err:
        ch.command("GET VARIABLE")
    assert str(err.value).count("\n") == 3 and "Proper usage" in str(err.value)
    assert ch.var("X") == "ok"
    ch.close()


def test_hangup_line_between_command_and_reply_is_not_taken_for_the_reply(listener):
    replay = Replay(listener.getsockname()[1], ["agi_network_script: incoming"], [
        Exchange('STREAM FILE f ""', ("HANGUP", "200 result=-1 endpos=1200")),
        Exchange("GET VARIABLE DIALSTATUS", ("200 result=1 (CANCEL)",))])
    ch = accept(listener, replay)
    reply = ch.stream("f")
    assert reply.number == -1 and reply.extras["endpos"] == "1200" and ch.hung_up
    assert ch.var("DIALSTATUS") == "CANCEL"
    ch.close()


def test_asterisk_closing_the_socket_is_a_hang_up(listener):
    replay = Replay(listener.getsockname()[1], ["agi_network_script: incoming"], [])
    ch = accept(listener, replay)
    with pytest.raises(ChannelHungUp):
        ch.answer()
    assert ch.hung_up


def test_the_channel_is_built_in_any_thread(listener):
    """pyst2's AGI() installs a SIGHUP handler: ValueError outside the main thread. Ours installs nothing."""
    replay = Replay(listener.getsockname()[1], ["agi_network_script: incoming", "agi_uniqueid: 1.2"], [])
    replay.start()
    conn, _ = listener.accept()
    made: list[object] = []
    worker = threading.Thread(target=lambda: made.append(AgiChannel(conn)))
    worker.start()
    worker.join(5)
    assert isinstance(made[0], AgiChannel) and made[0].env["agi_uniqueid"] == "1.2"
    made[0].close()


@pytest.mark.parametrize("line, expected", [
    ("200 result=0", Reply(200, "0", None, {}, "200 result=0")),
    ("200 result=50 endpos=13600", Reply(200, "50", None, {"endpos": "13600"}, "200 result=50 endpos=13600")),
    ("200 result=1 (NOANSWER)", Reply(200, "1", "NOANSWER", {}, "200 result=1 (NOANSWER)")),
    ('200 result=1 (say "hej" to åsa)', Reply(200, "1", 'say "hej" to åsa', {}, '200 result=1 (say "hej" to åsa)')),
    ("200 result=1 (a (nested) value)", Reply(200, "1", "a (nested) value", {}, "200 result=1 (a (nested) value)")),
    ("200 result= (timeout)", Reply(200, "", "timeout", {}, "200 result= (timeout)")),
    ("200 result=44 (timeout)", Reply(200, "44", "timeout", {}, "200 result=44 (timeout)")),
    ("200 result=-1 endpos=0", Reply(200, "-1", None, {"endpos": "0"}, "200 result=-1 endpos=0")),
    ("510 Invalid or unknown command", Reply(510, text="510 Invalid or unknown command")),
    ("511 Command Not Permitted on a dead channel or intercept routine",
     Reply(511, text="511 Command Not Permitted on a dead channel or intercept routine")),
])
def test_parse_reply(line, expected):
    assert parse_reply(line) == expected


@pytest.mark.parametrize("value", ['say "hej" to åsa', "two words", "", "back\\slash", "ends with \\", '"', "a,b&c"])
def test_quoting_round_trips_through_res_agi_parse_args(value):
    assert parse_args(f"SET VARIABLE {arg('X')} {quote(value)}")[3:] == [value]
    assert parse_args(arg(value)) == ([value] if value else [""])


def test_quote_keeps_one_command_on_one_line():
    assert "\n" not in quote("line one\nline two") and quote('a"b') == '"a\\"b"'


@pytest.mark.parametrize("capture, script", [
    ("agi-answered-caller.txt", ["early:2", "1", "silence", "ring:no-answer", "ring:busy", "ring:answered:3",
                                 "queue:wait", "hangup@listen"]),
    ("agi-caller-hangs-up.txt", ["hangup@listen"]),
])
def test_the_fake_asterisk_answers_as_the_real_one_did(tmp_path, capture, script):
    """The fake used by the call tests gives, command for command, the replies Asterisk gave in the capture."""
    from switchboard.asterisk.audio import SilenceSynthesizer
    from tests.fakes.captures import agi_capture, agi_env
    from tests.fakes.fake_asterisk import FakeAsterisk

    SilenceSynthesizer().synthesize("", "sv", tmp_path / "vaxel-welcome.wav")
    _, exchanges = agi_capture(capture)
    fake = FakeAsterisk(0, list(script), env=agi_env(capture), sounds_dir=tmp_path)
    assert [fake.replies(e.sent) for e in exchanges] == [list(e.replies) for e in exchanges]
    assert fake.errors == []
