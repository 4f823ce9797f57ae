"""The operator console: the page, its live stream, and the actions on calls.

    GET  /console                            the console (operator)
    GET  /console/stream                     server-sent events: a snapshot on every change
    GET  /api/console/snapshot               the same snapshot once, as JSON
    POST /api/console/state                  {"state": ready|paused|offline, "reason", "endpoint"}
    POST /api/console/calls/ID/answer        take a queued call from a queue I serve (simulated and demo calls;
                                             phones answer real ones)
    POST /api/console/calls/ID/transfer      {"target_id", "attended", "break_through"} — followed
    POST /api/console/calls/ID/complete      an attended transfer: connect the caller to the consulted person
    POST /api/console/calls/ID/cancel        end the consultation: the caller comes back to the operator
    POST /api/console/calls/ID/hold          {"on": true|false}
    POST /api/console/calls/ID/queue         back to the queue the call came from
    POST /api/console/calls/ID/wrapup        {"outcome": answered_by_centre|transferred|referred_to_phone_hours|message_taken}
                                             by the operator who held the call, once (409 after that);
                                             {"outcome", "supersedes": id, "note"} corrects it (audited)
    POST /api/console/calls/ID/simulate      {"status": answered|no-answer|busy|failed} (simulated calls only)
    POST /api/console/calls/ID/end           the conversation is over (simulated calls only)
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import update

from directory import numbers
from directory.promises import confirms_answer_for
from directory.search import entry
from ivr import queues as flow_queues
from ivr.engine import CallState
from ivr.models import CallSession
from ivr.protocol import Hangup, Match, OperatorAnswered, OperatorToQueue, OperatorTransfer, TransferEnded
from core import audit
from core.services import services
from core.text import translated
from switchboard.calls import CallRunner
from switchboard.console import control, live, operators, wrapups
from switchboard.console.stream import Away, Broadcaster
from switchboard.console.texts import CONSOLE_TEXTS, N_

bp = Blueprint("console", __name__, template_folder="templates", static_folder="static",
               static_url_path="/console/static")

SIMULATED_CHANNELS = ("simulator", "demo", "benchmark")
WRAPUPS = wrapups.LABELS
RING_TIMEOUT = 25


def broadcaster() -> Broadcaster:
    app = current_app._get_current_object()
    if "vaxel.console" not in app.extensions:
        svc = services()

        def compute() -> dict:
            with svc.sessions() as session:
                return live.snapshot(session, svc.clock.now(), svc.settings)

        app.extensions["vaxel.console"] = Broadcaster(compute)
    return app.extensions["vaxel.console"]


@bp.get("/console")
def page():
    return render_template("console.html", wrapups=WRAPUPS, states=operators.LABELS,
                           pause_reasons=operators.PAUSE_REASONS, texts=texts(),
                           municipality=services().settings["service"]["municipality"])


RESERVED_THREADS = 8  # never let console streams take the threads that serve citizens' calls


@bp.get("/console/stream")
def stream():
    hub = broadcaster()
    if hub.listeners >= max(1, services().settings["service"]["threads"] - RESERVED_THREADS):
        return jsonify(error=_("För många öppna konsoler för den här servern; höj service.threads.")), 503
    user = current_user.username
    return Response(away().watch(user, hub.listen()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@bp.get("/api/console/snapshot")
def snapshot():
    svc = services()
    with svc.sessions() as session:
        return jsonify(live.snapshot(session, svc.clock.now(), svc.settings))


WHERE = {"queue": N_("i kön"), "queue_offer": N_("erbjudet en operatör"), "bridged": N_("i samtal"),
         "transfer": N_("under koppling"), "operator_check": N_("på väg tillbaka"), None: N_("avslutat")}


def _where(awaiting: str | None) -> str:
    return _(WHERE.get(awaiting, N_("i röstmenyn")))


def texts() -> dict[str, str]:
    """Every text the console's script shows, in the user's language (the page hands them to console.js)."""
    return {key: _(text) for key, text in CONSOLE_TEXTS.items()}


def away() -> Away:
    """Who has a console open: an operator whose last console closed is taken out of the queue after a grace."""
    app = current_app._get_current_object()
    if "vaxel.console.away" not in app.extensions:
        svc = services()

        def gone(username: str) -> None:
            with svc.sessions() as session:
                row = session.get(operators.ConsoleOperator, username)
                if row is None or row.state == "offline":
                    return
                operators.set_state(session, username, "offline", svc.clock.now(), "")
                session.commit()
                endpoint = row.endpoint
            for channel in ("twilio", "asterisk"):
                try:
                    control.control_for(channel, svc).set_operator(username, endpoint, "offline", "")
                except Exception as exc:  # noqa: BLE001 - a platform not in use must not stop this
                    app.logger.warning("could not set %s membership for %s: %s", channel, username, exc)
            app.logger.info("%s closed every console: taken out of the queue", username)
            if "vaxel.console" in app.extensions:
                app.extensions["vaxel.console"].poke()

        def seen(usernames: list[str]) -> None:
            with svc.sessions() as session:
                session.execute(update(operators.ConsoleOperator)
                                .where(operators.ConsoleOperator.username.in_(usernames))
                                .values(console_seen_at=svc.clock.now()))
                session.commit()

        def open_elsewhere(username: str, grace: float) -> bool:
            with svc.sessions() as session:
                row = session.get(operators.ConsoleOperator, username)
                last = row.console_seen_at if row is not None else None
            return last is not None and (svc.clock.now() - last).total_seconds() < grace

        app.extensions["vaxel.console.away"] = Away(gone, seen=seen, open_elsewhere=open_elsewhere)
    return app.extensions["vaxel.console.away"]


def _error(message: str, status: int = 400):
    return jsonify(error=message), status


def _body() -> dict:
    """The request's JSON object ({} when none was sent); any other JSON value is refused with a 400."""
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        refusal = jsonify(error=_("Skicka ett JSON-objekt."))
        refusal.status_code = 400
        abort(refusal)
    return body


def _done():
    broadcaster().poke()
    return snapshot()


@bp.post("/api/console/state")
def set_state():
    svc = services()
    body = _body()
    with svc.sessions() as session:
        try:
            row = operators.set_state(session, current_user.username, str(body.get("state", "")), svc.clock.now(),
                                      str(body.get("reason") or ""))
        except operators.OperatorError as exc:
            return _error(translated(exc))
        if body.get("endpoint") is not None:
            try:
                operators.set_endpoint(row, str(body["endpoint"]), numbers.Policy.from_settings(svc.settings))
            except operators.OperatorError as exc:
                session.rollback()
                return _error(translated(exc))
        session.commit()
        state, endpoint, reason = row.state, row.endpoint, row.reason
    for channel in ("twilio", "asterisk"):
        try:
            control.control_for(channel, svc).set_operator(current_user.username, endpoint, state, reason)
        except Exception as exc:  # membership on a platform that is not in use must not stop the console
            current_app.logger.warning("could not set %s membership for %s: %s", channel, current_user.username, exc)
    return _done()


def _call(session, call_id: str) -> tuple[CallSession, CallState] | None:
    call = session.get(CallSession, call_id)
    if call is None or not call.state:
        return None
    return call, CallState.from_dict(call.state)


def _act(call_id: str, make_input, allowed: tuple[str, ...]):
    """Feed one operator input to the engine and hand what it decides to the call's adapter."""
    svc = services()
    with svc.sessions() as session:
        found = _call(session, call_id)
        if found is None:
            return _error(_("Samtalet %(call)s pågår inte längre.", call=call_id), 404)
        call, state = found
        if state.awaiting not in allowed:
            return _error(_("Det går inte nu: samtalet är %(where)s.", where=_where(state.awaiting)), 409)
        channel = call.channel
        inp = make_input(session, call, state)
        if isinstance(inp, tuple):  # an error
            return inp
    actions = CallRunner(svc.sessions, svc.settings, channel).handle(call_id, inp, svc.clock.now())
    return _on_platform(channel, lambda platform: platform.perform(call_id, actions))


def _mine(state: CallState) -> bool:
    return state.party == current_user.username or state.transfer_by == current_user.username


@bp.post("/api/console/calls/<call_id>/answer")
def answer(call_id: str):
    def make(session, call, state):
        if call.channel not in SIMULATED_CHANNELS:
            return _error(_("Svara i telefonen; konsolen följer samtalet."), 409)
        if operators.holding(operators.live_calls(session), current_user.username):
            return _error(_("Du har redan ett samtal. Avsluta eller koppla det först."), 409)
        queue = (state.queue or {}).get("name")
        if queue not in operators.queues_of(session, current_user.username):
            return _error(_("Du tar inte samtal från kön %(queue)s.",
                            queue=flow_queues.names(session).get(queue, queue)), 403)
        return OperatorAnswered(current_user.username)

    return _act(call_id, make, ("queue", "queue_offer"))


@bp.post("/api/console/calls/<call_id>/transfer")
def transfer(call_id: str):
    body = _body()
    svc = services()

    def make(session, call, state):
        if not _mine(state):
            return _error(_("Det är inte ditt samtal."), 403)
        found = entry(session, str(body.get("target_id", "")), svc.clock.now(), svc.clock.tz,
                      svc.settings["hours"]["eve_close"], colleagues=0)
        if found is None:
            return _error(_("Personen eller funktionen finns inte i katalogen."))
        if not (found.dial or found.dial_extension or found.forward_to):
            return _error(_("%(name)s har inget nummer att ringa.", name=found.name))
        break_through = bool(body.get("break_through"))
        if found.status in ("closed", "absent") and not break_through:
            return _error(_("%(name)s är %(status)s (%(reason)s); bryt igenom (break through) bara i en nödsituation.",
                            name=found.name, status=found.status_label.lower(),
                            reason=found.status_reason or _("ingen orsak angiven")), 409)
        if break_through:
            audit.record(session, current_user.username, "console.break_through", "staff", found.id,
                         after={"call_id": call_id, "status": found.status, "reason": found.status_reason})
            session.commit()
        target = Match(id=found.id, name=found.name, unit=found.unit, title=found.title, number=found.dial,
                       extension=found.dial_extension, status=found.status, forward_to=found.forward_to,
                       open_now=found.open_now, weekly=found.weekly, next_open=found.opens,
                       departments=found.departments, confirm_answer=confirms_answer_for(
                           session, found.staff_id, bool(svc.settings["transfers"]["confirm_answer"])),
                       ring=found.ring if found.ring_mobile else "desk", mobile=found.ring_mobile)
        return OperatorTransfer(target, current_user.username, RING_TIMEOUT, bool(body.get("attended")),
                                break_through)

    return _act(call_id, make, ("bridged",))


@bp.post("/api/console/calls/<call_id>/queue")
def to_queue(call_id: str):
    def make(session, call, state):
        return OperatorToQueue(current_user.username) if _mine(state) else _error(_("Det är inte ditt samtal."), 403)

    return _act(call_id, make, ("bridged",))


@bp.post("/api/console/calls/<call_id>/simulate")
def simulate(call_id: str):
    """How a simulated transfer ends — what a phone would have reported."""
    status = _body().get("status", "")
    if status not in ("answered", "no-answer", "busy", "failed"):
        return _error(_("status ska vara answered, no-answer, busy eller failed."))

    def make(session, call, state):
        if call.channel not in SIMULATED_CHANNELS:
            return _error(_("Bara simulerade samtal kan få veta hur en koppling slutar."), 409)
        return TransferEnded(status)

    return _act(call_id, make, ("transfer",))


@bp.post("/api/console/calls/<call_id>/end")
def end(call_id: str):
    """Simulated calls: the conversation is over (a phone call ends when someone hangs up)."""
    def make(session, call, state):
        if call.channel not in SIMULATED_CHANNELS:
            return _error(_("Ett telefonsamtal slutar när någon lägger på."), 409)
        return Hangup()

    return _act(call_id, make, ("bridged",))


def _on_platform(channel: str, act) -> Response:
    """Ask the call's telephony to do something; a refusal is shown to the operator, not raised."""
    try:
        act(control.control_for(channel, services()))
    except control.ControlError as exc:
        return _error(_("Telefonin vägrade: %(why)s", why=str(exc)), 502)
    return _done()


def _consulting(call_id: str) -> str | None:
    """The channel of the call the operator is consulting on now, else None."""
    with services().sessions() as session:
        found = _call(session, call_id)
    if found is None or found[1].transfer_by != current_user.username or found[1].awaiting != "transfer":
        return None
    return found[0].channel


@bp.post("/api/console/calls/<call_id>/complete")
def complete(call_id: str):
    channel = _consulting(call_id)
    if channel is None:
        return _error(_("Du rådfrågar inte på det här samtalet."), 409)
    return _on_platform(channel, lambda platform: platform.complete(call_id))


@bp.post("/api/console/calls/<call_id>/cancel")
def cancel(call_id: str):
    """End a consultation: the caller comes back to the operator."""
    channel = _consulting(call_id)
    if channel is None:
        return _error(_("Du rådfrågar inte på det här samtalet."), 409)
    if channel in SIMULATED_CHANNELS:  # no platform to report it: what a phone would have reported
        return _act(call_id, lambda *_: TransferEnded("canceled"), ("transfer",))
    return _on_platform(channel, lambda platform: platform.cancel(call_id))


@bp.post("/api/console/calls/<call_id>/hold")
def hold(call_id: str):
    svc = services()
    on = bool(_body().get("on", True))
    with svc.sessions() as session:
        found = _call(session, call_id)
        if found is None or not _mine(found[1]):
            return _error(_("Det är inte ditt samtal."), 403)
        channel = found[0].channel
        row = operators.get(session, current_user.username, svc.clock.now())
        row.on_hold = call_id if on else None
        session.commit()
    return _on_platform(channel, lambda platform: platform.hold(call_id, on))


@bp.post("/api/console/calls/<call_id>/wrapup")
def wrapup(call_id: str):
    """The wrap-up of a call I held, during or after the talk, once; ``supersedes`` makes it a logged correction."""
    svc = services()
    body = _body()
    outcome = body.get("outcome", "")
    if not isinstance(outcome, str) or outcome not in WRAPUPS:
        return _error(_("Utfallet ska vara ett av %(codes)s.", codes=", ".join(WRAPUPS)))
    supersedes = body.get("supersedes")
    if supersedes is not None and (isinstance(supersedes, bool) or not isinstance(supersedes, int)):
        return _error(_("supersedes ska vara id för utfallet som rättas."))
    with svc.sessions() as session:
        try:
            wrapups.record(session, call_id, current_user.username, outcome, svc.clock.now(), supersedes=supersedes,
                           note=str(body.get("note") or ""), supervisor=current_user.role == "admin")
        except wrapups.WrapupRefused as exc:
            return _error(str(exc), exc.status)
        session.commit()
    return _done()


@bp.post("/api/console/calls/<call_id>/message")
def message(call_id: str):
    """Take a message for a person (their directory id) or a unit (``unit:<slug>``) from the caller of ``call_id``:
    the caller's number unless another is given (checked by the callback number policy), the subject and the text.
    It is stored for the person's unit, due by the unit's promise, and e-mailed (``callback.messages``)."""
    from callback import messages

    svc = services()
    body = _body()
    fields = {k: body.get(k, "") for k in ("target", "number", "subject", "message")}
    if not all(isinstance(v, str) for v in fields.values()):
        return _error(_("Mottagare, nummer, ärende och meddelande ska vara text."))
    with svc.sessions() as session:
        call = session.get(CallSession, call_id)
        if call is None:
            return _error(_("Samtalet finns inte."), 404)
        number = fields["number"].strip() or call.caller or ""
        try:
            taken = messages.take(session, target=fields["target"].strip(), number=number,
                                  subject=fields["subject"], message=fields["message"],
                                  operator=current_user.username, now=svc.clock.now(), settings=svc.settings,
                                  tz=svc.clock.tz)
        except messages.MessageError as exc:
            return _error(translated(exc))
        return jsonify(id=taken.id, target=taken.target_name, unit=taken.unit_name,
                       due_by=taken.due_by.isoformat() if taken.due_by else None,
                       emailed_to=taken.email_to if taken.emailed_at else None, email_error=taken.email_error)
