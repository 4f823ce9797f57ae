"""CSV cell safety: no cell we write can start a formula when the file is opened in a spreadsheet.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is written with a single quote in front (OWASP's advice against CSV
injection); a spreadsheet then shows it as text. One deliberate exception: a
whole cell that is a phone number in E.164 (``+`` and 6–15 digits) is written
as it is — it is a known digits-only value, and the directory is full of them.

The quote is reversible, so export → import gives back exactly what was
exported: :func:`restore` strips exactly the quote :func:`neutralise` added.
A cell is quoted when it is any number of ``'`` followed by a dangerous
character (so a value that really starts with ``'=`` survives the round trip
as ``''=``); a cell that starts with ``'`` followed by anything else (``'Kalle``)
is left alone both ways.

Standard library only: core, directory, stats and switchboard all use it.
"""

from __future__ import annotations

import csv
import io
import re
from typing import IO, Any, Iterable

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"
E164 = re.compile(r"\+\d{6,15}")


def _dangerous(text: str) -> bool:
    """Any number of leading quotes, then a character a spreadsheet reads as the start of a formula."""
    return text.lstrip(QUOTE)[:1] in DANGEROUS


def neutralise(value: Any) -> Any:
    """A cell as it is safe to write; anything but text (numbers, None) is returned unchanged."""
    if not isinstance(value, str) or not value or E164.fullmatch(value):
        return value
    return QUOTE + value if _dangerous(value) else value


def restore(text: str) -> str:
    """A cell read back from a file we wrote: without the quote :func:`neutralise` put in front."""
    if text.startswith(QUOTE) and _dangerous(text[1:]):
        return text[1:]
    return text


def row(values: Iterable[Any]) -> list[Any]:
    """Every cell of a row neutralised, for ``csv.writer.writerow``."""
    return [neutralise(v) for v in values]


def record(values: dict[str, Any]) -> dict[str, Any]:
    """Every value of a record neutralised, for ``csv.DictWriter.writerow``."""
    return {k: neutralise(v) for k, v in values.items()}


class Writer:
    """``csv.writer`` that neutralises every cell and quotes a cell holding a carriage return.

    Lines end in ``\\n`` as before; the standard writer with that line ending would
    leave a lone ``\\r`` inside a cell unquoted, and a reader would split the line there.
    """

    def __init__(self, out: IO[str], **fmtparams: Any):
        self._out = out
        self._buf = io.StringIO()
        self._csv = csv.writer(self._buf, **(fmtparams | {"lineterminator": "\r\n"}))

    def writerow(self, values: Iterable[Any]) -> None:
        self._buf.seek(0)
        self._buf.truncate()
        self._csv.writerow(row(values))
        self._out.write(self._buf.getvalue()[:-2] + "\n")

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for values in rows:
            self.writerow(values)


def writer(out: IO[str], **fmtparams: Any) -> Writer:
    """A safe CSV writer on ``out`` (RFC 4180 quoting, ``\\n`` line ends, formulas neutralised)."""
    return Writer(out, **fmtparams)
