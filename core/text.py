"""Messages the domain writes for staff, in Swedish, that the staff pages translate (flask-babel).

A domain module cannot ask for the user's language, so it returns :class:`Text`: the Swedish message
(``str(text)``, what logs, the CLI and tests read) that also keeps its catalogue id and values, so
:func:`translated` can show it in English on a staff page. ``N_`` marks the message for ``pybabel extract``.
"""

from __future__ import annotations

from typing import Any


class Text(str):
    """A Swedish message with its msgid (``%(name)s`` placeholders) and the values put into it."""

    msgid: str
    values: dict[str, Any]

    def __new__(cls, msgid: str, **values: Any) -> "Text":
        shown = {k: "; ".join(map(str, v)) if isinstance(v, (list, tuple)) else v for k, v in values.items()}
        text = super().__new__(cls, msgid % shown if values else msgid)
        text.msgid, text.values = msgid, values
        return text

    def __reduce__(self):  # pickled (e.g. across processes) as itself, values included
        return (_rebuild, (self.msgid, self.values))


def _rebuild(msgid: str, values: dict[str, Any]) -> Text:
    return Text(msgid, **values)


def N_(msgid: str, **values: Any) -> Text:
    """A catalogue message; a value that is a list is shown as its items joined by "; " (each translated)."""
    return Text(msgid, **values)


def translated(message: object) -> str:
    """A message in the user's language (flask-babel, within a request): a :class:`Text` with its values (each
    translated too), a list of them joined by "; ", an exception's message, or a plain Swedish msgid; text not in the catalogue is
    shown as it is."""
    from flask_babel import gettext

    if isinstance(message, BaseException):  # an error raised with a message: that message
        message = message.args[0] if len(message.args) == 1 else str(message)
    if isinstance(message, (list, tuple)):
        return "; ".join(translated(m) for m in message)
    if isinstance(message, Text):
        values = {k: translated(v) if isinstance(v, (Text, list, tuple)) else v for k, v in message.values.items()}
        return gettext(message.msgid, **values) if values else gettext(message.msgid)
    return gettext(str(message)) if message else ""
