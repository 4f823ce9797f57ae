"""E-mail to staff and units: one function over ``smtplib``, configured by the ``[smtp]`` settings.

``smtp.host`` empty means e-mail is off; messages are then only listed for the
unit. A failure is raised as :class:`MailError` with a reason the operator can
read; the message itself is already stored, so nothing is lost.
"""

from __future__ import annotations

import smtplib
import socket
from email.message import EmailMessage


class MailError(RuntimeError):
    """The mail could not be handed to the server; the text says why."""


def enabled(settings: dict) -> bool:
    return bool(settings["smtp"]["host"])


def send(settings: dict, to: str, subject: str, body: str) -> None:
    """Hand one plain-text mail to the configured server (STARTTLS and login if configured)."""
    cfg = settings["smtp"]
    if not cfg["host"]:
        raise MailError("e-mail is off (smtp.host is empty)")
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = cfg["sender"], to, subject
    mail.set_content(body)
    try:
        with smtplib.SMTP(cfg["host"], int(cfg["port"]), timeout=float(cfg["timeout_seconds"])) as smtp:
            if cfg["starttls"]:
                smtp.starttls()
            if cfg["username"]:
                smtp.login(cfg["username"], cfg["password"])
            smtp.send_message(mail)
    except (smtplib.SMTPException, OSError, socket.timeout) as exc:
        raise MailError(f"{type(exc).__name__}: {exc}") from exc
