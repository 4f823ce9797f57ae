"""Prompts as audio: which texts are built ahead, real espeak-ng + sox output, the runtime cache, the CLI."""

from __future__ import annotations

import logging
import shutil
import threading
import time
import wave

import pytest

from ivr.flow import load_file
from switchboard.asterisk.audio import AudioLibrary, EspeakSox, SilenceSynthesizer, SynthesisError
from switchboard.asterisk.prompts import build, on_flow_published, texts_of_flow
from core.settings import CONFIG_DIR

DEFAULT_FLOW = load_file(CONFIG_DIR / "flows" / "default.toml")
speech = pytest.mark.skipif(shutil.which("espeak-ng") is None or shutil.which("sox") is None,
                            reason="espeak-ng and sox are not installed (apt-get install -y espeak-ng sox; .ci/run does)")


class Counting:
    def __init__(self, delay: float = 0.0):
        self.calls: list[tuple[str, str]] = []
        self.delay = delay

    def synthesize(self, text, lang, dest):
        self.calls.append((text, lang))
        time.sleep(self.delay)
        SilenceSynthesizer().synthesize(text, lang, dest)


def test_fixed_prompts_queue_words_and_numbers_are_built_ahead():
    texts = texts_of_flow(DEFAULT_FLOW)
    assert len(texts) == len(set(texts))
    for item in [("Välkommen till Sjöbacka kommun.", "sv"), ("Welcome to Sjöbacka municipality.", "en"),
                 ("Vi kopplar dig till kundcenter.", "sv"), ("Du är nummer", "sv"), ("minuter.", "sv"),
                 ("minut.", "sv"), ("i kön. Beräknad väntetid är ungefär", "sv"),
                 ("i kön. Beräknad väntetid är mindre än en minut.", "sv"), ("You are number", "en"),
                 ("0", "sv"), ("17", "sv"), ("100", "en")]:
        assert item in texts, item
    assert not any("{" in text for text, _ in texts)  # names and hours are synthesised on first use
    assert not any(text.startswith("Du kopplas nu till") for text, _ in texts)


@speech
def test_espeak_and_sox_make_8khz_mono_wav(tmp_path):
    library = AudioLibrary(tmp_path, EspeakSox())
    report = build(library, [("Välkommen till Sjöbacka kommun.", "sv"), ("5", "sv"), ("Welcome.", "en")])
    assert (report.built, report.existing, report.failed) == (3, 0, [])
    wav = library.wav("Välkommen till Sjöbacka kommun.", "sv")
    with wave.open(str(wav)) as audio:
        assert (audio.getframerate(), audio.getnchannels(), audio.getsampwidth()) == (8000, 1, 2)
        assert audio.getnframes() > 8000  # more than a second of speech
    assert wav.with_suffix(".txt").read_text(encoding="utf-8") == "Välkommen till Sjöbacka kommun.\n"
    assert library.file_for("5", "sv") == str(library.wav("5", "sv").with_suffix(""))  # STREAM FILE wants no suffix
    again = build(library, [("5", "sv"), ("Welcome.", "en")])
    assert (again.built, again.existing) == (0, 2)


def test_dynamic_texts_are_synthesised_once_then_cached(tmp_path):
    synth = Counting(delay=0.05)
    library = AudioLibrary(tmp_path, synth)
    text = "Du kopplas nu till Sven Olofsson, Torghandel."
    names = []
    threads = [threading.Thread(target=lambda: names.append(library.file_for(text, "sv"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert synth.calls == [(text, "sv")] and len(set(names)) == 1 and names[0]
    assert library.file_for(text, "en") != names[0]  # the key is (text, language)
    assert not list(tmp_path.rglob(".tmp-*"))  # files appear atomically


def test_a_failing_synthesiser_never_breaks_a_call(tmp_path, caplog):
    class Broken:
        def synthesize(self, text, lang, dest):
            raise SynthesisError("espeak-ng not installed (apt-get install espeak-ng sox)")

    library = AudioLibrary(tmp_path, Broken())
    with caplog.at_level(logging.ERROR):
        assert library.file_for("Hej", "sv") is None
        assert library.file_for("Hej då", "sv") is None
    assert caplog.text.count("not installed") == 1  # one line per cause, not one per call


def test_missing_binaries_are_named(tmp_path):
    synth = EspeakSox("no-such-espeak", "no-such-sox")
    assert synth.missing() == ["no-such-espeak", "no-such-sox"]
    with pytest.raises(SynthesisError, match="apt-get install espeak-ng sox"):
        synth.synthesize("Hej", "sv", tmp_path / "x.wav")


def test_publish_hook_never_raises(tmp_path, caplog):
    settings = {"asterisk": {"sounds_dir": str(tmp_path), "espeak": "no-such-espeak", "sox": "sox"}}
    with caplog.at_level(logging.ERROR):
        on_flow_published(settings, DEFAULT_FLOW).join(30)
    assert "prompt audio failed" in caplog.text and not list(tmp_path.rglob("*.wav"))


@speech
def test_cli_prompts_build_from_the_published_flow(app, runner, tmp_path):
    app.extensions["vaxel"].settings["asterisk"]["sounds_dir"] = str(tmp_path)
    result = runner.invoke(args=["prompts", "build"])
    assert result.exit_code == 0, result.output
    total = len(texts_of_flow(DEFAULT_FLOW))
    assert f"{total} audio files built, 0 already there" in result.output
    assert len(list(tmp_path.glob("sv/*.wav"))) + len(list(tmp_path.glob("en/*.wav"))) == total
    again = runner.invoke(args=["prompts", "build"])
    assert f"0 audio files built, {total} already there" in again.output


def test_cli_says_how_to_install_the_speech_tools(app, runner, tmp_path):
    settings = app.extensions["vaxel"].settings["asterisk"]
    settings.update(sounds_dir=str(tmp_path), espeak="no-such-espeak")
    result = runner.invoke(args=["prompts", "build"])
    assert result.exit_code == 1
    assert "apt-get install -y espeak-ng sox" in result.output


def test_publish_rebuilds_only_where_asterisk_prompts_are_in_use(app, tmp_path, monkeypatch):
    from switchboard.asterisk import prompts

    settings = app.extensions["vaxel"].settings
    settings["asterisk"]["sounds_dir"] = str(tmp_path / "not-built-yet")
    assert prompts.rebuild_after_publish(settings) is None  # Twilio-only sites and tests: nothing happens
    built: list[int] = []
    monkeypatch.setattr(prompts, "build", lambda library, texts, workers=4: built.append(len(list(texts))) or
                        prompts.BuildReport())
    settings["asterisk"]["sounds_dir"] = str(tmp_path)
    prompts.rebuild_after_publish(settings).join(30)
    assert built == [len(texts_of_flow(DEFAULT_FLOW))]  # the published flow, read from the database
