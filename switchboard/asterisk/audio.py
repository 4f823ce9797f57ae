"""Text to 8 kHz audio files Asterisk can play, cached by hash(text, language).

Asterisk plays files, not text. Every text a caller hears maps to one file,
``<sounds_dir>/<lang>/vaxel-<hash>.wav`` (8 kHz, 16-bit, mono), with the text
beside it in ``.txt`` so an administrator can tell the files apart. Fixed
prompts are built ahead (``vaxel prompts build``); texts with names, numbers or
hours in them are synthesised the first time they are needed and then reused.

Speech comes from espeak-ng, resampling from sox (Debian packages). A missing
binary or a failed synthesis is logged and the text is skipped: a caller never
waits on a broken synthesiser, the call goes on with the next action.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import tempfile
import threading
import wave
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

VOICES = {"sv": "sv", "en": "en"}
RATE = 8000


class SynthesisError(RuntimeError):
    """The text could not be turned into audio; the message says why."""


class Synthesizer(Protocol):
    def synthesize(self, text: str, lang: str, dest: Path) -> None:
        """Write an 8 kHz mono 16-bit WAV of ``text`` to ``dest``; raise :class:`SynthesisError` if impossible."""


class EspeakSox:
    """espeak-ng speaks, sox resamples to what Asterisk plays natively (8 kHz signed 16-bit mono)."""

    def __init__(self, espeak: str = "espeak-ng", sox: str = "sox", timeout: float = 20.0):
        self.espeak, self.sox, self.timeout = espeak, sox, timeout

    def missing(self) -> list[str]:
        return [name for name in (self.espeak, self.sox) if shutil.which(name) is None]

    def synthesize(self, text: str, lang: str, dest: Path) -> None:
        missing = self.missing()
        if missing:
            raise SynthesisError(f"{' and '.join(missing)} not installed (apt-get install espeak-ng sox)")
        with tempfile.TemporaryDirectory(prefix="vaxel-tts-") as tmp:
            raw = Path(tmp) / "raw.wav"
            self._run([self.espeak, "-v", VOICES.get(lang, lang), "-s", "150", "--stdin", "-w", str(raw)], text)
            self._run([self.sox, str(raw), "-r", str(RATE), "-c", "1", "-b", "16", "-e", "signed-integer",
                       str(dest)], None)

    def _run(self, argv: list[str], stdin: str | None) -> None:
        try:
            done = subprocess.run(argv, input=stdin.encode("utf-8") if stdin is not None else None,
                                  capture_output=True, timeout=self.timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SynthesisError(f"{argv[0]}: {exc}") from None
        if done.returncode != 0:
            raise SynthesisError(f"{argv[0]} exited {done.returncode}: {done.stderr.decode(errors='replace')[:200]}")


class SilenceSynthesizer:
    """Writes a short silent WAV: for tests and dry runs where no speech engine is wanted."""

    def synthesize(self, text: str, lang: str, dest: Path) -> None:
        with wave.open(str(dest), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(b"\0\0" * (RATE // 10))


def key(text: str, lang: str) -> str:
    return hashlib.sha256(f"{lang}\n{text}".encode("utf-8")).hexdigest()[:20]


class AudioLibrary:
    """Finds or makes the file for a text; thread-safe, files appear atomically (Asterisk never reads half)."""

    def __init__(self, sounds_dir: str | os.PathLike[str], synthesizer: Synthesizer | None = None):
        self.root = Path(sounds_dir)
        self.synthesizer = synthesizer if synthesizer is not None else EspeakSox()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._warned: set[str] = set()

    def wav(self, text: str, lang: str) -> Path:
        return self.root / lang / f"vaxel-{key(text, lang)}.wav"

    @staticmethod
    def playable_name(wav: Path) -> str:
        """What ``STREAM FILE`` wants: the absolute path without the extension."""
        return str(wav.resolve().with_suffix(""))

    def file_for(self, text: str, lang: str) -> str | None:
        """The file to play for ``text`` (synthesised now if needed), or None when there is no audio for it."""
        text = text.strip()
        if not text:
            return None
        wav = self.wav(text, lang)
        if wav.exists():
            return self.playable_name(wav)
        try:
            self.make(text, lang)
        except SynthesisError as exc:
            reason = str(exc)
            if reason not in self._warned:  # one line per cause, not one per call
                self._warned.add(reason)
                log.error("no audio for %s text %r: %s; the call goes on without it", lang, text[:60], reason)
            return None
        return self.playable_name(wav)

    def make(self, text: str, lang: str) -> bool:
        """Synthesise ``text`` unless its file exists; True if a new file was written."""
        wav = self.wav(text, lang)
        with self._guard:
            lock = self._locks.setdefault(wav.name, threading.Lock())
        with lock:
            if wav.exists():
                return False
            wav.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=".wav", dir=wav.parent)
            os.close(fd)
            tmp = Path(tmp_name)
            try:
                self.synthesizer.synthesize(text, lang, tmp)
                if tmp.stat().st_size == 0:
                    raise SynthesisError("the synthesiser wrote nothing")
                wav.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")
                tmp.chmod(0o644)
                os.replace(tmp, wav)
            finally:
                tmp.unlink(missing_ok=True)
            return True
