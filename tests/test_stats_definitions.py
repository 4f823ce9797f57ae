"""The written-down definitions (stats/definitions.py), as tables: every boundary, every empty case."""

from __future__ import annotations

import pytest

from stats import definitions as defs
from stats.definitions import Definitions
from core.settings import load_settings


@pytest.mark.parametrize("outcome, wait, threshold, short", [
    ("abandoned", 4, 5, True),
    ("abandoned", 5, 5, True),  # "within 5 s" includes 5
    ("abandoned", 6, 5, False),
    ("abandoned", 0, 5, True),
    ("abandoned", 3, 0, False),  # 0 turns the rule off: every hang-up in the queue is abandoned
    ("answered", 2, 5, False),  # a quick answer is not an abandon
    ("callback", 2, 5, False),
    (None, None, 5, False),
    ("abandoned", None, 5, True),
])
def test_short_abandon(outcome, wait, threshold, short):
    assert defs.is_short_abandon(outcome, wait, threshold) is short


def _disp(**kw):
    base = dict(ended=True, open_=True, answered_by=None, queue_outcome=None, callback_requested=False,
                transfer_hangup=False, end_reason="caller_hangup")
    return defs.disposition(**{**base, **kw})


@pytest.mark.parametrize("kw, expected", [
    (dict(answered_by="centre", queue_outcome="answered", end_reason="completed"), "answered"),
    (dict(answered_by="transfer", end_reason="completed"), "transferred"),
    # returned from a failed transfer, then answered by the centre: the centre answered it
    (dict(answered_by="centre", queue_outcome="answered"), "answered"),
    (dict(queue_outcome="callback", callback_requested=True, end_reason="callback_requested"), "callback"),
    (dict(open_=False, callback_requested=True, end_reason="callback_requested"), "callback"),
    (dict(queue_outcome="abandoned"), "abandoned"),
    (dict(queue_outcome=None, ended=False), "in_progress"),
    (dict(end_reason="handed_to_pbx"), "handed_off"),
    (dict(queue_outcome=None, end_reason="handed_to_pbx"), "handed_off"),
    (dict(queue_outcome="answered", answered_by=None, ended=False), "in_progress"),
    (dict(transfer_hangup=True), "transfer_hangup"),
    (dict(open_=False, end_reason="goodbye"), "closed"),
    (dict(open_=False, end_reason="caller_hangup"), "closed"),  # hung up while hearing the hours
    (dict(end_reason="caller_hangup"), "ivr_exit"),
    (dict(open_=None, end_reason="caller_hangup"), "ivr_exit"),
    (dict(end_reason="goodbye"), "goodbye"),
])
def test_disposition_table(kw, expected):
    assert _disp(**kw) == expected


@pytest.mark.parametrize("part, whole, expected", [(1, 2, 50.0), (0, 5, 0.0), (0, 0, None), (3, 0, None)])
def test_share_never_divides_by_zero(part, whole, expected):
    assert defs.share(part, whole) == expected


def test_mean_of_nothing_is_none():
    assert defs.mean(0, 0) is None and defs.mean(90, 3) == 30.0


@pytest.mark.parametrize("within, answered, abandoned, in_denominator, expected", [
    (9, 10, 0, True, 90.0),
    (9, 9, 1, True, 90.0),  # an abandoned call counts against the target ...
    (9, 9, 1, False, 100.0),  # ... unless the municipality counts answered calls only
    (0, 0, 0, True, None),
    (0, 0, 3, True, 0.0),  # only abandons: 0 %, not "no data"
    (0, 0, 3, False, None),
])
def test_service_level(within, answered, abandoned, in_denominator, expected):
    assert defs.service_level(within, answered, abandoned, in_denominator) == expected


@pytest.mark.parametrize("histogram, q, expected", [
    ([], 0.9, None),
    ([(30, 1)], 0.9, 30),
    ([(10, 9), (100, 1)], 0.9, 10),  # 9 of 10 at or below 10 s
    ([(10, 8), (100, 2)], 0.9, 100),
    ([(5, 1), (1, 1), (3, 1), (2, 1), (4, 1), (6, 1), (7, 1), (8, 1), (9, 1), (10, 1)], 0.9, 9),  # unsorted input
    ([(10, 0), (20, 1)], 0.5, 20),  # empty buckets are ignored
    ([(1, 1), (2, 1), (3, 1)], 0.5, 2),
    ([(1, 1), (2, 1), (3, 1)], 1.0, 3),
])
def test_nearest_rank_percentile(histogram, q, expected):
    assert defs.percentile(histogram, q) == expected


@pytest.mark.parametrize("value, target, higher, state", [
    (90.0, 90, True, "green"),
    (95.0, 90, True, "green"),
    (81.0, 90, True, "amber"),  # missed by less than 10 % of the target
    (80.9, 90, True, "red"),
    (None, 90, True, "none"),
    (10.0, 10, False, "green"),  # lost calls: at most 10 %
    (11.0, 10, False, "amber"),
    (11.5, 10, False, "red"),
    (299.0, 300, False, "green"),  # queue wait under 5 minutes
    (330.0, 300, False, "amber"),
    (331.0, 300, False, "red"),
])
def test_traffic_light_has_colour_and_words(value, target, higher, state):
    light = defs.light(value, target, higher, 10)
    assert light.state == state
    assert light.text == defs.LIGHTS[state][0] and light.text_en == defs.LIGHTS[state][1]


def test_definitions_come_from_settings_with_the_documented_defaults():
    d = Definitions.from_settings(load_settings(environ={}))
    assert d == Definitions()
    assert d.short_abandon_seconds == 5 and d.abandoned_in_denominator is True
    assert (d.switchboard_answer_seconds, d.switchboard_target_percent) == (15, 90)
    assert (d.service_answer_seconds, d.service_target_percent) == (300, 90)
    assert d.lost_target_percent == 10 and d.queue_wait_target_seconds == 300


def test_definitions_follow_the_environment():
    d = Definitions.from_settings(load_settings(environ={
        "VAXEL_STATS_SHORT_ABANDON_SECONDS": "0", "VAXEL_STATS_ABANDONED_IN_DENOMINATOR": "false",
        "VAXEL_STATS_SWITCHBOARD_CHOICES": "person"}))
    assert d.short_abandon_seconds == 0 and d.abandoned_in_denominator is False
    assert d.line("person") == "switchboard" and d.line("fallback") == "service" and d.line(None) == "service"


@pytest.mark.parametrize("choice, line", [("person", "switchboard"), ("fallback", "switchboard"),
                                          (None, "switchboard"), ("case", "service"), ("english", "service")])
def test_which_target_a_queued_call_counts_toward(choice, line):
    assert Definitions().line(choice) == line
