"""Flow documents: the default flow is sound, and broken flows are refused with every reason."""

from __future__ import annotations

import copy

import pytest

from ivr import flow as flows
from core.settings import CONFIG_DIR

DEFAULT = flows.load_file(CONFIG_DIR / "flows" / "default.toml")


def broken(change):
    doc = copy.deepcopy(DEFAULT)
    change(doc)
    return flows.validate(doc)


def test_default_flow_is_valid_and_has_two_options_plus_english():
    assert flows.validate(DEFAULT) == []
    options = DEFAULT["nodes"]["menu"]["options"]
    assert {k: v["label"] for k, v in options.items()} == {"1": "person", "2": "case", "9": "english"}


@pytest.mark.parametrize("change, problem", [
    (lambda d: d["nodes"]["menu"]["options"].update({"3": {"label": "x", "next": "nowhere"}}),
     "key 3 leads to 'nowhere'"),
    (lambda d: d["prompts"]["menu"].pop("en"), "prompt 'menu' has no en text"),
    (lambda d: d["nodes"]["greeting"].pop("next"), "node 'greeting' (say) needs 'next'"),
    (lambda d: d["nodes"].update({"loop": {"type": "say", "prompt": "greeting", "next": "loop"}}),
     "node 'loop' cannot be reached"),
    (lambda d: d.update(start="missing"), "start node 'missing' does not exist"),
    (lambda d: d["nodes"]["english"].update(language="fi"), "language 'fi' is not one of"),
    (lambda d: d["nodes"]["menu"]["options"].update({"12": {"label": "x", "next": "centre"}}),
     "option '12' is not a single key"),
    (lambda d: d["nodes"]["menu"].update(type="carousel"), "unknown type 'carousel'"),
])
def test_broken_flows_are_refused(change, problem):
    assert any(problem in p for p in broken(change)), broken(change)


def test_a_cycle_that_never_reaches_a_person_is_a_dead_end():
    def cycle(d):
        d["nodes"]["a"] = {"type": "say", "prompt": "greeting", "next": "b"}
        d["nodes"]["b"] = {"type": "say", "prompt": "greeting", "next": "a"}
        d["nodes"]["menu"]["options"]["3"] = {"label": "x", "next": "a"}
    problems = broken(cycle)
    assert any("'a' can lead to a dead end" in p for p in problems), problems


def test_from_document_raises_with_all_problems():
    doc = copy.deepcopy(DEFAULT)
    doc["prompts"]["goodbye"] = {"sv": ""}
    with pytest.raises(flows.FlowError) as err:
        flows.Flow.from_document(doc)
    assert "prompt 'goodbye' has no sv text" in err.value.problems
    assert "prompt 'goodbye' has no en text" in err.value.problems


def test_incoming_numbers_must_be_e164_with_a_known_language():
    problems = broken(lambda d: d["numbers"].update({"046-35 50 00": {}, "+46406280497": {"lang": "fi"}}))
    assert any("'046-35 50 00' is not in E.164" in p for p in problems)
    assert any("+46406280497: language 'fi'" in p for p in problems)
