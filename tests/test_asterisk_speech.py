"""Option 1 on Asterisk: speech only where a speech engine is configured, keys-only prompts everywhere else.

The fake Asterisk answers the AGI SPEECH commands as res_agi.c's handle_speech* do (result=1/0, the
``(speech) ... results=N scoreN=.. textN=".." grammarN=..`` line, ``(digit) digit=4``, ``(timeout)``,
``(hangup)``, 511 on a dead channel, the usage block for a wrong argument count) over real TCP.
"""

from __future__ import annotations

import pytest

from ivr.flow import load_file
from switchboard.asterisk.agi import Heard, parse_heard, parse_reply
from switchboard.asterisk.prompts import texts_of_flow
from switchboard.asterisk.speech import GRAMMAR, grammar_xml
from core.settings import CONFIG_DIR
from tests.conftest import TZ, at
from tests.fakes.clock import SteppingClock
from tests.fakes.fake_asterisk import FakeAsterisk
from tests.test_asterisk_calls import OPEN, assert_clean, last, start_phone

KEYS_PROMPT = "Slå anknytningen, eller stava personens efternamn på knappsatsen, och avsluta med fyrkant."
SPEECH_PROMPT = ("Säg namnet på personen eller vad ditt ärende gäller. Du kan också slå anknytningen och avsluta "
                 "med fyrkant.")


@pytest.fixture
def asterisk(app, tmp_path):
    """A FastAGI server on the demo municipality; ``place(script, engines=(), configured="")`` makes one call."""
    servers = []

    def place(*script: str, engines: tuple[str, ...] = (), configured: str = "") -> FakeAsterisk:
        settings = app.extensions["vaxel"].settings
        settings["asterisk"]["speech_engine"] = configured
        settings["asterisk"]["sounds_dir"] = str(tmp_path / "sounds")
        phone, server = start_phone(app, tmp_path, SteppingClock(TZ, at(OPEN)))
        servers.append(server)
        fake = FakeAsterisk(phone.port, list(script), clock=phone.clock, speech_engines=engines,
                            env={"agi_uniqueid": f"1795469729.{len(servers)}", "agi_callerid": "+46701234567"})
        fake.run()
        fake.call_id = f"ast-1795469729.{len(servers)}"
        fake.phone = phone
        return fake

    yield place
    for server in servers:
        server.stop()


def speech_commands(fake: FakeAsterisk) -> list[str]:
    return [c for c in fake.commands if c.startswith("SPEECH")]


def test_found_without_a_speech_engine_the_prompt_never_invites_speech(asterisk):
    fake = asterisk("1", "4439#", "ring:answered:10")
    assert_clean(fake)
    assert KEYS_PROMPT in fake.played and SPEECH_PROMPT not in fake.played
    assert not any(text.startswith("Säg") for text in fake.played)
    assert speech_commands(fake) == [] and fake.dialled[0].target == "PJSIP/4439"


def test_a_configured_engine_asterisk_lacks_means_keys_only(asterisk, caplog):
    fake = asterisk("1", "4439#", "ring:answered:10", configured="unimrcp")
    assert_clean(fake)
    assert speech_commands(fake) == ["SPEECH CREATE unimrcp"]
    assert KEYS_PROMPT in fake.played and "SPEECH CREATE refused" in caplog.text
    assert fake.dialled[0].target == "PJSIP/4439"


def test_with_a_speech_engine_the_caller_says_a_name(asterisk, tmp_path):
    fake = asterisk("1", "say:jag vill prata med Sven Olofsson tack", "ring:answered:10", engines=("unimrcp",),
                    configured="unimrcp")
    assert_clean(fake)
    grammar = tmp_path / "sounds" / "grammars" / f"{GRAMMAR}.grxml"
    assert speech_commands(fake) == [
        "SPEECH CREATE unimrcp", f'SPEECH LOAD GRAMMAR {GRAMMAR} "{grammar.resolve()}"',
        f"SPEECH ACTIVATE GRAMMAR {GRAMMAR}", 'SPEECH RECOGNIZE "" 6', "SPEECH DESTROY"]
    assert SPEECH_PROMPT in fake.played and KEYS_PROMPT not in fake.played
    assert fake.heard == ["jag vill prata med Sven Olofsson tack"]
    assert fake.dialled[0].target == "PJSIP/4439"
    text = grammar.read_text(encoding="utf-8")
    assert "<item>Sven Olofsson</item>" in text and "<item>bygglov</item>" in text
    assert "<item>building permit</item>" in text and 'special="GARBAGE"' in text
    events = fake.phone.services
    with events.sessions() as session:
        from stats.events import events_of
        lookup = [e.data for e in events_of(session, fake.call_id) if e.type == "directory_lookup"]
    assert lookup[0]["query"] == "jag vill prata med Sven Olofsson tack"


def test_with_speech_keys_still_work(asterisk):
    fake = asterisk("1", "4439#", "ring:answered:10", engines=("unimrcp",), configured="unimrcp")
    assert_clean(fake)
    assert 'SPEECH RECOGNIZE "" 6' in fake.commands
    assert any(c.startswith('GET DATA "" ') for c in fake.commands)  # the first key stopped the recogniser
    assert fake.dialled[0].target == "PJSIP/4439"


def test_with_speech_an_unsure_name_is_confirmed_by_key(asterisk):
    fake = asterisk("1", "say:Lindqvist", "1", "ring:answered:10", engines=("unimrcp",), configured="unimrcp")
    assert_clean(fake)
    assert "Menar du Sara Lundqvist på Barn och familj? Tryck 1 för ja, 2 för nej." in fake.played
    assert fake.dialled[0].target == "PJSIP/4411"
    assert last(fake.phone.events(fake), "directory_confirm")["target_id"] == "p011"


def test_with_speech_silence_is_retried_then_the_centre(asterisk):
    fake = asterisk("1", "silence", "silence", "queue:operator", engines=("unimrcp",), configured="unimrcp")
    assert_clean(fake)
    assert [c for c in fake.commands if c.startswith("SPEECH RECOGNIZE")] == ['SPEECH RECOGNIZE "" 6'] * 2
    assert fake.dialled == [] and "Vi kopplar dig till kundcenter." in fake.played


def test_hanging_up_while_the_recogniser_listens(asterisk):
    fake = asterisk("1", "hangup@listen", engines=("unimrcp",), configured="unimrcp")
    assert_clean(fake)
    assert last(fake.phone.events(fake), "call_ended")["reason"] == "caller_hangup"
    assert fake.commands[-2:] == ["SPEECH DESTROY", "SET VARIABLE VAXEL_RESULT \"hangup\""]


@pytest.mark.parametrize("line, heard", [
    ('200 result=1 (speech) endpos=0 results=2 score0=87 text0="sven olofsson" grammar0=g score1=30 text1="sven" '
     'grammar1=g', Heard("speech", "sven olofsson", 87)),
    ("200 result=1 (digit) digit=4 endpos=1200", Heard("digit", digit="4")),
    ("200 result=1 (timeout) endpos=0", Heard("timeout")),
    ("200 result=1 (hangup) endpos=0", Heard("hangup")),
    ("200 result=1 (speech) endpos=0 results=0 ", Heard("timeout")),  # nothing matched the grammar
    ("200 result=0 endpos=0", Heard("failed")),
    ("200 result=0", Heard("failed")),  # no recogniser on the channel
])
def test_speech_recognize_replies(line, heard):
    assert parse_heard(parse_reply(line)) == heard


def test_the_grammar_escapes_what_it_is_given():
    text = grammar_xml(["Kultur & fritid", "<script>", "Kultur & fritid", " "], "en")
    assert text.count("<item>Kultur &amp; fritid</item>") == 1 and "<item>&lt;script&gt;</item>" in text
    assert 'xml:lang="en-GB"' in text and "<item></item>" not in text


def test_the_fake_answers_speech_commands_as_res_agi(tmp_path):
    """Wrong argument counts get the usage block, as RESULT_SHOWUSAGE does; a grammar that is no file is refused."""
    fake = FakeAsterisk(0, speech_engines=("unimrcp",))
    assert fake.replies("SPEECH RECOGNIZE \"\" 5") == ["200 result=0"]  # no recogniser yet
    assert fake.replies("SPEECH CREATE unimrcp") == ["200 result=1"]
    assert fake.replies("SPEECH CREATE unimrcp") == ["200 result=0"]  # one per channel
    assert fake.replies("SPEECH LOAD GRAMMAR g /no/such/file") == ["200 result=0"]
    assert fake.replies("SPEECH LOAD GRAMMAR g")[0].startswith("520-")
    assert fake.replies("SPEECH ACTIVATE GRAMMAR g") == ["200 result=0"]
    assert fake.replies("SPEECH DESTROY") == ["200 result=1"]
    assert fake.replies("SPEECH DESTROY") == ["200 result=0"]


def test_prompts_build_includes_the_keys_only_prompt():
    texts = texts_of_flow(load_file(CONFIG_DIR / "flows" / "default.toml"))
    assert (KEYS_PROMPT, "sv") in texts
    assert ("Key the extension, or spell the person's surname on the keypad, followed by the hash key.", "en") in texts
