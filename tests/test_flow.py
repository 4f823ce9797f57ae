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
     "knapp 3 går till ”nowhere”, som inte finns"),
    (lambda d: d["prompts"]["menu"].pop("en"), "Texten ”menu” saknas på en."),
    (lambda d: d["nodes"]["greeting"].pop("next"), "Steget ”greeting” (say) behöver next."),
    (lambda d: d["nodes"].update({"loop": {"type": "say", "prompt": "greeting", "next": "loop"}}),
     "Steget ”loop” kan inget samtal nå"),
    (lambda d: d.update(start="missing"), "Flödet börjar i ”missing”, som inte finns."),
    (lambda d: d["nodes"]["english"].update(language="fi"), "språket fi är inte ett av flödets språk"),
    (lambda d: d["nodes"]["menu"]["options"].update({"12": {"label": "x", "next": "centre"}}),
     "valet 12 är inte en enda knapp"),
    (lambda d: d["nodes"]["menu"].update(type="carousel"), "okänd typ carousel"),
])
def test_broken_flows_are_refused(change, problem):
    assert any(problem in p for p in broken(change)), broken(change)


def test_a_cycle_that_never_reaches_a_person_is_a_dead_end():
    def cycle(d):
        d["nodes"]["a"] = {"type": "say", "prompt": "greeting", "next": "b"}
        d["nodes"]["b"] = {"type": "say", "prompt": "greeting", "next": "a"}
        d["nodes"]["menu"]["options"]["3"] = {"label": "x", "next": "a"}
    problems = broken(cycle)
    assert any("”a” kan leda till en återvändsgränd" in p for p in problems), problems


def test_from_document_raises_with_all_problems():
    doc = copy.deepcopy(DEFAULT)
    doc["prompts"]["goodbye"] = {"sv": ""}
    with pytest.raises(flows.FlowError) as err:
        flows.Flow.from_document(doc)
    assert "Texten ”goodbye” saknas på sv." in err.value.problems
    assert "Texten ”goodbye” saknas på en." in err.value.problems


def test_incoming_numbers_must_be_e164_with_a_known_language():
    problems = broken(lambda d: d["numbers"].update({"046-35 50 00": {}, "+46406280497": {"lang": "fi"}}))
    assert any("046-35 50 00 står inte som +46406280400 (E.164)" in p for p in problems)
    assert any("+46406280497: språket fi" in p for p in problems)
