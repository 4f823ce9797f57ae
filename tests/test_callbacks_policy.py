"""The issue's number policy, number by number, and the per-number daily limit on a real database.

Allowed: valid Swedish fixed-line and mobile numbers (an allow-list). Refused with a spoken reason: premium
rate (0900/0939/0944), shared cost (0771), personal numbers (075x), mass-call (099x), international and
hidden numbers.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from callback import requests
from callback.models import CANCELLED, DONE, CallbackRequest
from callback.policy import check
from core.settings import DEFAULTS
from tests.conftest import at

ALLOWED = DEFAULTS["callback"]["allowed_types"]

POLICY = [
    # number, ok, reason(s) — the reason picks the prompt the caller hears (refusal_<reason>)
    ("070-174 06 99", True, None),              # mobile
    ("+46 73 123 45 67", True, None),           # mobile, international form of a Swedish number
    ("046-35 50 00", True, None),               # fixed line, Lund
    ("08-465 004 00", True, None),              # fixed line, Stockholm
    ("0900-123 456", False, {"not_allowed"}),   # premium rate
    ("0939-123 456", False, {"not_allowed"}),   # premium rate
    ("0944-123 456", False, {"not_allowed"}),   # premium rate
    ("0771-123 456", False, {"not_allowed"}),   # shared cost
    ("075-123 45 67", False, {"not_allowed"}),  # personal number (phonenumbers: PERSONAL_NUMBER)
    ("0752-34 56 78", False, {"not_allowed"}),  # personal number
    ("+46 75 123 45 67", False, {"not_allowed"}),  # personal number, international form
    ("0991-234 567", False, {"invalid", "not_allowed"}),  # mass-call: unknown to phonenumbers today
    ("+44 20 7946 0000", False, {"international"}),
    ("+47 22 12 34 56", False, {"international"}),
    ("anonymous", False, {"hidden"}),
    ("", False, {"hidden"}),
    (None, False, {"hidden"}),
]


@pytest.mark.parametrize("number, ok, reasons", POLICY, ids=[str(p[0]) for p in POLICY])
def test_the_policy_number_by_number(number, ok, reasons):
    decision = check(number, ALLOWED, "SE")
    assert decision.ok is ok
    if ok:
        assert decision.number.startswith("+46") and decision.reason is None
    else:
        assert decision.reason in reasons and decision.number is None


def test_every_refusal_has_a_spoken_reason_in_the_default_flow():
    import tomllib

    from core.settings import CONFIG_DIR

    with open(CONFIG_DIR / "flows" / "default.toml", "rb") as fh:
        prompts = tomllib.load(fh)["prompts"]
    for _, ok, reasons in POLICY:
        for reason in reasons or ():
            assert prompts[f"refusal_{reason}"]["sv"] and prompts[f"refusal_{reason}"]["en"]
    assert prompts["refusal_limit"]["sv"]  # the daily limit is told too


T0 = at("2026-11-24T10:00")


def _store(session, call_id, number, when, limit=3):
    return requests.store(session, call_id=call_id, number=number, kind="queue", due_at=None, queue="centre",
                          queue_position=1, menu_choice="case", now=when, daily_limit=limit)


def test_daily_limit_counts_every_request_of_the_last_24_hours(sessions):
    number = "+46701740650"
    with sessions() as session:
        first = _store(session, "d1", number, T0)
        second = _store(session, "d2", number, T0 + timedelta(hours=1))
        first.status, second.status = DONE, CANCELLED  # closed requests still rang (or could ring) the number
        assert _store(session, "d3", number, T0 + timedelta(hours=2)) is not None
        assert _store(session, "d4", number, T0 + timedelta(hours=3)) is None  # a fourth the same day: refused
        assert _store(session, "d5", "+46701740651", T0 + timedelta(hours=3)) is not None  # another number: fine
        # a day after the first request, one slot is free again
        assert _store(session, "d6", number, T0 + timedelta(hours=24, seconds=1)) is not None
        assert _store(session, "d7", number, T0 + timedelta(hours=24, seconds=2)) is None
        session.commit()
        assert session.scalar(select(func.count()).select_from(CallbackRequest)
                              .where(CallbackRequest.number == number)) == 4


def test_the_same_call_stores_one_request_only(sessions):
    with sessions() as session:
        a = _store(session, "same", "+46701740652", T0)
        b = _store(session, "same", "+46701740652", T0 + timedelta(seconds=5))
        assert a.id == b.id
