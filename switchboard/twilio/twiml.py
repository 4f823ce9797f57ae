"""Engine actions to TwiML: pure functions of (actions, where the call stands, links, audio settings).

No request, no database, no clock — so every rule below is table-tested
(``tests/test_twilio_twiml.py``). The rules Twilio imposes:

* a ``<Gather>`` is always followed by a ``<Redirect>`` to the same step URL,
  because Twilio does not call the Gather action on silence — the step view
  feeds the engine ``NoInput`` instead;
* prompts just before a ``<Gather>`` are nested in it, so a caller who knows
  the menu can press at once;
* TwiML returned to a queue's ``waitUrl`` may only play, say, pause, gather,
  leave, hang up or redirect — :func:`wait_twiml` never emits ``<Enqueue>``
  or ``<Dial>``, and always ends in a loop back to the wait URL.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from twilio.twiml.voice_response import Gather as GatherVerb
from twilio.twiml.voice_response import VoiceResponse

from directory import numbers
from ivr.protocol import Action, Enqueue, Gather, HangUp, Say, Transfer

CENTRE = "centre"
RETURNED_SUFFIX = "-returned"
MAX_HINTS, MAX_HINT_CHARS = 500, 100  # Twilio's limits for <Gather hints>
WHISPER_TIMEOUT = 6
CALLBACK_RING_SECONDS = 30
RETRY_PAUSE = 2

APOLOGY = "Vi ber om ursäkt, något gick fel hos oss. Vi kopplar dig till kundcenter."
WHISPER_PROMPT = "Samtal från kommunens växel. Tryck 1 för att ta emot samtalet."
NOT_AN_OPERATOR = "Det här numret är inte registrerat för att ta samtal från kön."
CALLBACK_GREETING = ("Hej, det här är {municipality}. Du bad oss ringa upp dig. "
                     "Du kopplas nu till kundcenter och står först i kön.")
CALLBACK_NOT_REACHED = "Medborgaren svarade inte."


@dataclass(frozen=True)
class Audio:
    """How vaxel sounds on Twilio: a voice and a language tag per flow language, and hold audio."""

    languages: dict[str, str] = field(default_factory=lambda: {"sv": "sv-SE", "en": "en-GB"})
    voices: dict[str, str] = field(default_factory=dict)
    hold_music_url: str = ""
    hold_seconds: int = 20

    @classmethod
    def from_settings(cls, twilio: dict) -> "Audio":
        return cls(languages={"sv": "sv-SE", "en": twilio["language_en"]},
                   voices={"sv": twilio["voice_sv"], "en": twilio["voice_en"]},
                   hold_music_url=twilio["hold_music_url"], hold_seconds=int(twilio["hold_seconds"]))

    def language(self, lang: str) -> str:
        return self.languages.get(lang, self.languages["sv"])

    def say(self, verb: VoiceResponse | GatherVerb, text: str, lang: str = "sv") -> None:
        verb.say(text, language=self.language(lang), voice=self.voices.get(lang) or None)


@dataclass(frozen=True)
class Links:
    """The URLs one answer hands to Twilio; each carries the engine step it answers."""

    step: str = ""  # Gather action, and the Redirect after it
    dial: str = ""  # Dial action
    whisper: str = ""  # Number url on the staff leg; "" = no whisper
    wait: str = ""  # Enqueue waitUrl, and the wait loop's Redirect
    offer: str = ""  # Gather action of the callback offer inside the wait loop
    queue_result: str = ""  # Enqueue action


@dataclass(frozen=True)
class Where:
    """Where the call stands once the engine has stepped: what it waits for, and in which queue."""

    awaiting: str
    queue: str = CENTRE
    returned: bool = False


def twilio_queue(queue: str, returned: bool) -> str:
    """Twilio queues are first-in first-out, so returned callers wait in a queue of their own."""
    return f"{queue}{RETURNED_SUFFIX}" if returned else queue


def hint_list(*sources: Iterable[str]) -> list[str]:
    """Speech hints within Twilio's limits: at most 500 phrases of at most 100 characters, no commas, no repeats."""
    hints: list[str] = []
    seen: set[str] = set()
    for source in sources:
        for phrase in source:
            phrase = " ".join(str(phrase).replace(",", " ").split())
            if not phrase or len(phrase) > MAX_HINT_CHARS or phrase.casefold() in seen:
                continue
            seen.add(phrase.casefold())
            hints.append(phrase)
            if len(hints) == MAX_HINTS:
                return hints
    return hints


@functools.lru_cache(maxsize=16)
def _hints_attribute(node_hints: tuple[str, ...], directory_hints: tuple[str, ...]) -> str:
    """The ``hints`` attribute of a speech ``<Gather>``: the same few lists on every call, merged once."""
    return ",".join(hint_list(node_hints, directory_hints))


def _gather(response: VoiceResponse, action: Gather, url: str, silence_url: str, says: Sequence[Say], audio: Audio,
            hints: Sequence[str]) -> None:
    options: dict[str, object] = dict(input=action.input, action=url, method="POST", timeout=action.timeout,
                                      finish_on_key=action.finish_on_key, language=audio.language(action.lang))
    if action.max_digits:
        options["num_digits"] = action.max_digits
    if "speech" in action.input:
        phrases = _hints_attribute(tuple(action.hints), tuple(hints))
        if phrases:
            options["hints"] = phrases
    verb = response.gather(**options)
    for say in says:
        audio.say(verb, say.text, say.lang)
    response.redirect(silence_url, method="POST")


def _dial(response: VoiceResponse, action: Transfer, links: Links, caller_id: str,
          policy: numbers.Policy | None = None) -> None:
    if not numbers.dialable(action.number, policy or numbers.current(), f"transfer to {action.name}"):
        # the number policy refuses it: never dialled; the Dial action hears no DialCallStatus -> a failed transfer
        response.redirect(links.dial, method="POST")
        return
    dial = response.dial(action=links.dial, method="POST", timeout=action.ring_timeout, answer_on_bridge=True,
                         caller_id=caller_id or None)
    for number in (action.number, *action.also):  # several <Number>: rung together, the first to answer wins
        if number == action.number or numbers.dialable(number, policy or numbers.current(), f"{action.name}, also"):
            dial.number(number, url=links.whisper or None, method="POST" if links.whisper else None)


def _enqueue(response: VoiceResponse, queue: str, returned: bool, links: Links) -> None:
    response.enqueue(twilio_queue(queue, returned), wait_url=links.wait, wait_url_method="POST",
                     action=links.queue_result, method="POST")


def call_twiml(actions: Sequence[Action], where: Where, links: Links, audio: Audio, caller_id: str = "",
               hints: Sequence[str] = (), policy: numbers.Policy | None = None) -> VoiceResponse:
    """The TwiML for one step of a call in its normal flow (not inside a queue).

    If the actions end without handing the call on (a Gather, Dial, Enqueue or
    Hangup), ``where`` decides: back into the queue, hang up when the engine is
    done, or let the engine time out through the step URL. A transfer to a number
    the number policy refuses (``policy``, else the running service's) is not
    dialled: a ``<Redirect>`` to the Dial action reports it as a failed transfer.
    """
    response = VoiceResponse()
    says: list[Say] = []
    handed_on = False
    for action in actions:
        if isinstance(action, Say):
            says.append(action)
            continue
        if isinstance(action, Gather):
            _gather(response, action, links.step, links.step, says, audio, hints)
            return response
        for say in says:
            audio.say(response, say.text, say.lang)
        says = []
        if isinstance(action, Transfer):
            _dial(response, action, links, caller_id, policy)
            handed_on = True
        elif isinstance(action, Enqueue):
            _enqueue(response, action.queue, action.returned, links)
            handed_on = True
        elif isinstance(action, HangUp):
            response.hangup()
            handed_on = True
        if handed_on:
            return response
    for say in says:
        audio.say(response, say.text, say.lang)
    if where.awaiting in ("queue", "queue_offer"):
        _enqueue(response, where.queue, where.returned, links)
    elif where.awaiting in ("", "bridged"):
        response.hangup()
    else:
        response.redirect(links.step, method="POST")
    return response


def _hold_audio(response: VoiceResponse, audio: Audio) -> None:
    if audio.hold_music_url:
        response.play(audio.hold_music_url)
    else:
        response.pause(length=audio.hold_seconds)


def wait_twiml(actions: Sequence[Action], links: Links, audio: Audio) -> VoiceResponse:
    """The TwiML for a caller waiting in a Twilio queue: messages, the callback offer, hold audio, and the loop."""
    response = VoiceResponse()
    says: list[Say] = []
    for action in actions:
        if isinstance(action, Say):
            says.append(action)
        elif isinstance(action, Gather):
            _gather(response, action, links.offer, links.wait, says, audio, ())  # silence: back to waiting
            return response
        elif isinstance(action, HangUp):
            for say in says:
                audio.say(response, say.text, say.lang)
            response.hangup()
            return response
    for say in says:
        audio.say(response, say.text, say.lang)
    _hold_audio(response, audio)
    response.redirect(links.wait, method="POST")
    return response


def hold(links: Links, audio: Audio) -> VoiceResponse:
    """Hold audio, then back to the wait URL: what a waiting caller hears when nothing else is due."""
    return wait_twiml([], links, audio)


def apology(links: Links, audio: Audio, queue: str = CENTRE, returned: bool = False) -> VoiceResponse:
    """Our error must not drop the caller: say so in Swedish and put them in a queue (the centre's unless the
    caller already waits in another)."""
    response = VoiceResponse()
    audio.say(response, APOLOGY)
    _enqueue(response, queue, returned, links)
    return response


def requeue(links: Links, audio: Audio, tries: int, queue: str = CENTRE, returned: bool = False) -> VoiceResponse:
    """The Twilio queue refused the caller (full, an error): apologise once, then keep trying after a pause —
    in the caller's own queue, where its operators look for them."""
    if not tries:
        return apology(links, audio, queue, returned)
    response = VoiceResponse()
    response.pause(length=audio.hold_seconds)
    _enqueue(response, queue, returned, links)
    return response


def retry_later(url: str) -> VoiceResponse:
    """The same request is still being answered: come back to the same URL in a moment."""
    response = VoiceResponse()
    response.pause(length=RETRY_PAUSE)
    response.redirect(url, method="POST")
    return response


def whisper(answer_url: str, audio: Audio, text: str = "", timeout: int = WHISPER_TIMEOUT) -> VoiceResponse:
    """Played to the staff member who picks up: only a person pressing 1 is connected, never a voicemail.

    The ``<Hangup>`` after the ``<Gather>`` ends the staff leg when no key comes; the ``<Dial action>`` then
    reports ``completed`` (the leg was answered), which the call's own record of "1 pressed" turns into
    not accepted."""
    response = VoiceResponse()
    verb = response.gather(input="dtmf", num_digits=1, timeout=timeout, action=answer_url, method="POST")
    audio.say(verb, text or WHISPER_PROMPT)
    response.hangup()
    return response


def operator_dial(queue: str, dequeued_url: str, next_url: str, wait_seconds: int) -> VoiceResponse:
    """An operator takes the first caller of ``queue``; an empty queue is waited on for ``wait_seconds``."""
    response = VoiceResponse()
    dial = response.dial(action=next_url, method="POST", timeout=wait_seconds)
    dial.queue(queue, url=dequeued_url, method="POST")
    return response


def callback_to_queue(greeting: str, links: Links, audio: Audio) -> VoiceResponse:
    """A citizen we rang back answered: say who we are, then the front of the centre queue."""
    response = VoiceResponse()
    audio.say(response, greeting)
    _enqueue(response, CENTRE, True, links)
    return response


def callback_to_citizen(brief: str, number: str, caller_id: str, action_url: str, audio: Audio,
                        ring_seconds: int = CALLBACK_RING_SECONDS) -> VoiceResponse:
    """The operator answered a callback: tell them whom they will talk to, then ring the citizen."""
    response = VoiceResponse()
    if brief:
        audio.say(response, brief)
    dial = response.dial(action=action_url, method="POST", timeout=ring_seconds, answer_on_bridge=True,
                         caller_id=caller_id or None)
    dial.number(number)
    return response


def say_and_hang_up(text: str, audio: Audio) -> VoiceResponse:
    response = VoiceResponse()
    audio.say(response, text)
    response.hangup()
    return response


def redirect(url: str, pause: int = 0) -> VoiceResponse:
    response = VoiceResponse()
    if pause:
        response.pause(length=pause)
    response.redirect(url, method="POST")
    return response


def leave() -> VoiceResponse:
    response = VoiceResponse()
    response.leave()
    return response


def hangup() -> VoiceResponse:
    response = VoiceResponse()
    response.hangup()
    return response


def empty() -> VoiceResponse:
    return VoiceResponse()
