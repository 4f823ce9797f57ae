"""Messages an operator takes ("Meddelande taget"): stored as a request the person or unit answers, and e-mailed.

A message is the same :class:`~callback.models.CallbackRequest` as a callback
(kind ``message``, answered by the unit): it names the person or unit it is
for, the subject and what the citizen said, who took it, the number to call
back (checked by the callback number policy) and a due time from the unit's
promise. It is stored first and e-mailed after, so a mail server that is down
loses nothing: the message stays on the unit's list with the reason it was not
mailed, and the dispatcher tries again (5, 10, 20, 40, 80 minutes, then every
two hours: :data:`MAIL_ATTEMPTS` attempts over about six and a half hours).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from callback import mail, policy
from callback.models import PENDING, CallbackRequest
from directory import promises
from directory.models import Staff, Unit
from ivr import schedules
from core.text import N_

MAX_MESSAGE = 2000
MAIL_ATTEMPTS = 8  # then the reason stays on the unit's list and nobody retries

log = logging.getLogger(__name__)


def retry_delay(attempts: int) -> timedelta:
    """Wait after the ``attempts``-th failed mail: 5, 10, 20, 40, 80 minutes, then two hours."""
    return timedelta(minutes=min(5 * 2 ** (attempts - 1), 120))


class MessageError(ValueError):
    """The message cannot be taken as written; the text says what to fix (Swedish, for the console)."""


def take(session: Session, *, target: str, number: str, subject: str, message: str, operator: str,
         now: datetime, settings: dict, tz: ZoneInfo) -> CallbackRequest:
    """Store a message for ``target`` (a staff external id, or ``unit:<slug>``) and try to e-mail it; commits."""
    subject, message = subject.strip(), message.strip()
    if not subject:
        raise MessageError(N_("skriv vad det gäller"))
    if len(subject) > 200 or len(message) > MAX_MESSAGE:
        raise MessageError(N_("ämnet får vara högst 200 tecken och meddelandet %(most)s", most=MAX_MESSAGE))
    decision = policy.check(number, settings["callback"]["allowed_types"], settings["callback"]["region"])
    if not decision.ok:
        raise MessageError(N_("numret kan inte ringas upp: %(problem)s", problem=decision.message))
    staff = unit = None
    if target.startswith("unit:"):
        unit = session.scalar(select(Unit).where(Unit.slug == target[5:]))
    else:
        staff = session.scalar(select(Staff).where(Staff.external_id == target))
        unit = staff.unit if staff is not None else None
    if unit is None:
        raise MessageError(N_("”%(target)s” finns inte i katalogen", target=target))
    choice = promises.policy_for(unit)
    key = promises.hours_key(session, staff=staff, unit=unit)
    promise = promises.promise(schedules.load(session, key, tz, settings["hours"]["eve_close"], now), now,
                               choice.promise_days)
    request = CallbackRequest(
        call_id=f"msg-{uuid.uuid4().hex[:16]}", number=decision.number, requested_at=now, kind="message",
        due_at=promise.first, queue="centre", status=PENDING, target_kind=staff.kind if staff else "unit",
        target_id=staff.external_id if staff else unit.slug, target_name=staff.name if staff else unit.name,
        unit_id=unit.id, unit_name=unit.name, answered_by="unit", situation="message", subject=subject,
        message=message or None, taken_by=operator, hours_key=key, due_by=promise.due_by,
        email_to=(staff.email if staff is not None and staff.email else choice.email) or None,
    )
    session.add(request)
    session.commit()
    deliver(session, request, settings, tz, now)
    return request


def text_of(request: CallbackRequest, tz: ZoneInfo) -> tuple[str, str]:
    """(subject, body) of the mail: whom it is for, the number, what was said, the promise."""
    local = request.requested_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    due = request.due_by.astimezone(tz).strftime("%Y-%m-%d %H:%M") if request.due_by else "-"
    number = policy.national(request.number) if request.number else "(raderat)"
    what = "Meddelande" if request.kind == "message" else "Återuppringning"
    body = (f"{what} till {request.target_name} ({request.unit_name})\n\n"
            f"Ring upp: {number}\n"
            f"Gäller: {request.subject or 'samtal via växelns röstmeny'}\n"
            f"{request.message or ''}\n\n"
            f"Taget av {'röstmenyn' if request.taken_by == 'ivr' else request.taken_by} {local}. Utlovat svar senast {due}.\n"
            f"Markera det som klart i vaxel under Enhetens lista (/requests), nr {request.id}.\n")
    return f"{what}: {request.subject or request.target_name} – ring {number}", body


def deliver(session: Session, request: CallbackRequest, settings: dict, tz: ZoneInfo, now: datetime) -> bool:
    """E-mail the message if there is an address and e-mail is on; the outcome is kept on the request. Commits.

    A failure schedules the next attempt (:func:`retry_delay`); e-mail that is off is not an attempt, so the
    message goes once it is turned on.
    """
    if not request.email_to or not mail.enabled(settings):
        request.email_error = "ingen e-postadress" if not request.email_to else "e-post är avstängd"
        session.commit()
        return False
    subject, body = text_of(request, tz)
    request.email_attempts += 1
    try:
        mail.send(settings, request.email_to, subject, body)
    except mail.MailError as exc:
        request.email_error = str(exc)[:300]
        last = request.email_attempts >= MAIL_ATTEMPTS
        request.email_retry_at = None if last else now + retry_delay(request.email_attempts)
        log.warning("message %s not e-mailed (attempt %d of %d): %s", request.id, request.email_attempts,
                    MAIL_ATTEMPTS, request.email_error)
        session.commit()
        return False
    request.emailed_at, request.email_error, request.email_retry_at = now, None, None
    session.commit()
    return True


def deliver_pending(session: Session, settings: dict, tz: ZoneInfo, now: datetime, limit: int = 50) -> int:
    """E-mail what the unit answers and has not got yet: IVR bookings (once each) and failed mails whose retry
    time has come; returns how many went.

    The call itself never waits for a mail server: the dispatcher sends these at its next wake-up.
    """
    if not mail.enabled(settings):
        return 0
    pending = session.scalars(select(CallbackRequest).where(
        CallbackRequest.answered_by == "unit", CallbackRequest.status == PENDING,
        CallbackRequest.email_to.is_not(None), CallbackRequest.emailed_at.is_(None),
        CallbackRequest.number.is_not(None), CallbackRequest.email_attempts < MAIL_ATTEMPTS,
        or_(CallbackRequest.email_attempts == 0, CallbackRequest.email_retry_at <= now),
    ).order_by(CallbackRequest.id).limit(limit)).all()
    return sum(deliver(session, request, settings, tz, now) for request in pending)
