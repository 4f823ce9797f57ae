"""Option 1 as people actually ask (issue 17): the Swedish normaliser, role-aware ranking, confirm when unsure.

The found cases of the issue, each tried as a caller would: through the directory search the IVR and the
operators share, through `vaxel call` (the simulator on the published flow and the demo municipality), and
on Asterisk through the fake FastAGI peer (tests/test_asterisk_speech.py).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import replace
from datetime import datetime

import pytest

from directory.query import Synonyms, sound_key, strip_fillers, synonyms_from, understand, word_forms
from directory.search import search
from ivr.engine import CallState, choose, step
from ivr.flow import Flow, load_file, validate
from ivr.protocol import Digits, Gather, LookupResult, Match, Say, Speech, Start
from core.settings import CONFIG_DIR
from tests.conftest import TZ, at

SYNONYMS = synonyms_from(str(CONFIG_DIR / "synonyms.toml"))


# -- the normaliser, table-tested ----------------------------------------------------------------------------------

@pytest.mark.parametrize("said, words", [
    ("Sven Olofsson tack", ["sven", "olofsson"]),
    ("jag vill prata med någon om bygglov", ["bygglov"]),
    ("kan jag få prata med Sara Lundqvist", ["sara", "lundqvist"]),
    ("det gäller ett bygglov", ["bygglov"]),
    ("angående sophämtningen", ["sophämtningen"]),
    ("hej jag skulle vilja tala med Goran Petrović", ["goran", "petrovic"]),
    ("Anna Blom är det", ["anna", "blom"]),
    ("vem har hand om snöröjningen", ["snöröjningen"]),
    ("tack", ["tack"]),  # nothing but a filler: kept, so the search still has something to say "no" to
])
def test_fillers_and_politeness_are_dropped(said, words):
    assert strip_fillers(said) == words


@pytest.mark.parametrize("word, stem", [
    ("bygglovet", "bygglov"), ("hemtjänsten", "hemtjänst"), ("olofssons", "olofsson"), ("soporna", "sopor"),
    ("sophämtningen", "sophämtning"), ("kommunens", "kommun"), ("barnen", "barn"), ("skolan", "skola"),
    ("ek", "ek"),  # too short to lose anything
])
def test_definite_and_genitive_forms(word, stem):
    """The word itself first, then every form without an ending (the index keeps those it knows)."""
    forms = word_forms(word)
    assert forms[0] == word and stem in forms and all(len(f) >= 2 for f in forms)


def test_short_words_keep_three_letters():
    assert word_forms("ens") == ["ens"] and word_forms("bert") == ["bert", "ber"]


@pytest.mark.parametrize("a, b", [
    ("lundkvist", "lundqvist"), ("pehrsson", "persson"), ("mohammed", "mohamed"), ("olofson", "olofsson"),
    ("wallin", "vallin"), ("philip", "filip"), ("zeynep", "seynep"), ("nillson", "nilsson"),
])
def test_sound_alikes_share_a_key(a, b):
    assert sound_key(a) == sound_key(b)


@pytest.mark.parametrize("a, b", [("lund", "lundqvist"), ("berg", "borg"), ("holm", "holmberg")])
def test_different_names_keep_different_keys(a, b):
    assert sound_key(a) != sound_key(b)


@pytest.mark.parametrize("said, lang, words", [
    ("building permit", "en", ["bygglov"]),
    ("I need a building permit please", "en", ["bygglov"]),
    ("waste", "en", ["avfall"]),
    ("my bin was not emptied", "en", ["sopkärl", "sophämtning"]),
    ("soporna har inte hämtats", "sv", ["sophämtning", "hämtats"]),  # a definite form of the phrase counts
    ("dagis", "sv", ["förskola"]),
    ("bygglov", "en", ["bygglov"]),  # a Swedish word on the English line
])
def test_site_synonyms_per_language(said, lang, words):
    assert understand(said, lang, SYNONYMS) == words


def test_a_synonym_file_is_read_again_when_changed_and_a_broken_one_keeps_the_last(tmp_path, caplog):
    path = tmp_path / "synonyms.toml"
    path.write_text('[en]\n"town hall" = "kommunkontoret"\n', encoding="utf-8")
    assert understand("town hall", "en", synonyms_from(str(path))) == ["kommunkontoret"]
    path.write_text('[en]\n"city hall" = "kommunkontoret"\n', encoding="utf-8")
    os.utime(path, (time.time() + 5, time.time() + 5))
    assert understand("city hall", "en", synonyms_from(str(path))) == ["kommunkontoret"]
    path.write_text('[en]\n"city hall" = 7\n', encoding="utf-8")
    os.utime(path, (time.time() + 10, time.time() + 10))
    assert understand("city hall", "en", synonyms_from(str(path))) == ["kommunkontoret"]
    assert "synonym file" in caplog.text and "not used" in caplog.text
    assert synonyms_from(str(tmp_path / "missing.toml")).terms == {}


@pytest.mark.parametrize("doc, problem", [
    ({"sv": "bygglov"}, "must be a table"),
    ({"en": {"permit": 3}}, "give the directory's word"),
    ({"en": {"ignore": "um"}}, "ignore must be a list"),
])
def test_a_bad_synonym_document_says_what_is_wrong(doc, problem):
    with pytest.raises(ValueError, match=problem):
        Synonyms.from_document(doc)


def test_the_shipped_synonyms_name_directory_words(app):
    """Every word the site's file leads to exists in the demo directory: a synonym to nowhere helps nobody."""
    from directory.index import index_for

    with app.extensions["vaxel"].sessions() as session:
        tokens = index_for(session).tokens
    for lang, table in SYNONYMS.terms.items():
        for said, meant in table.items():
            assert all(w in tokens for w in meant), (lang, said, meant)


# -- the directory search (IVR and operators alike) ----------------------------------------------------------------

def find(app, query: str, lang: str = "sv"):
    services = app.extensions["vaxel"]
    with services.sessions() as session:
        return search(session, query, at("2026-11-24T10:30"), TZ, limit=10, lang=lang, synonyms=SYNONYMS)


def test_found_a_name_with_politeness(app):
    hits = find(app, "Sven Olofsson tack")
    assert hits[0].id == "p039" and hits[0].matched_by == "name" and hits[0].sure


def test_found_a_subject_in_a_sentence(app):
    hits = find(app, "jag vill prata med någon om bygglov")
    assert hits[0].id == "f001" and hits[0].matched_by == "keyword" and hits[0].sure  # the unit's function first
    assert {h.id for h in hits[:5]} == {"f001", "p017", "p018", "p019", "p020"}


@pytest.mark.parametrize("said, first", [("bygglovet", "f001"), ("hemtjänsten", "p033"), ("sophämtningen", "f003"),
                                          ("bygglovsansökan", "f001"), ("torghandeln", "p039")])
def test_found_definite_forms_and_compounds_as_the_subject(app, said, first):
    hits = find(app, said)
    assert hits[0].id == first and hits[0].matched_by in ("keyword", "unit", "title") and hits[0].sure


def test_found_socialtjansten_does_not_lead_to_the_head_of_department(app):
    hits = find(app, "socialtjänsten")
    assert hits and hits[0].id != "p009"  # Eva Holm, förvaltningschef
    assert hits[-1].id == "p009"


def test_heads_of_department_come_last_for_a_subject_but_first_by_name(app):
    assert [h.id for h in find(app, "förvaltningschef")][:1] != []
    assert find(app, "Eva Holm")[0].id == "p009"
    assert find(app, "miljönämnden")[0].id != "p043" or len(find(app, "miljönämnden")) == 1


def test_a_keyword_phrase_with_a_filler_word_in_it_still_counts_whole(app):
    hits = find(app, "barn och unga")  # "och" is a filler, yet the phrase is Mohamed Abdi's keyword
    assert hits[0].id == "p010" and hits[0].score > hits[1].score + 10


def test_found_lindqvist_is_sara_lundqvist_but_unsure(app):
    hits = find(app, "Lindqvist")
    assert hits[0].id == "p011" and not hits[0].sure


def test_sound_alike_lundkvist_is_unsure_and_never_patrik_lund(app):
    hits = find(app, "Lundkvist")
    assert hits[0].id == "p011" and not hits[0].sure
    assert "p027" not in [h.id for h in hits[:1]]


def test_a_name_exact_ranks_before_a_fuzzy_one(app):
    hits = find(app, "Lund")
    assert hits[0].id == "p027" and hits[0].sure  # Patrik Lund, before Lundqvist and Lundin by prefix


def test_found_torghandl_ranks_the_torghandel_lead_first(app):
    hits = find(app, "torghandl")
    assert [h.id for h in hits[:2]] == ["p039", "p040"]  # Sven Olofsson, Torghandelsansvarig, then Nadia Karimi
    assert hits[0].score > hits[1].score and not hits[0].sure


@pytest.mark.parametrize("said, right", [("building permit", {"f001", "p017", "p018", "p019", "p020"}),
                                          ("waste", {"f003"}), ("home care", {"p031", "p033"})])
def test_found_english_requests_on_the_english_line(app, said, right):
    hits = find(app, said, "en")
    assert hits and hits[0].id in right


def test_a_surname_with_an_unknown_first_name_is_unsure(app):
    hits = find(app, "Linda Strömberg")
    assert hits[0].id == "p013" and not hits[0].sure


def test_operators_search_understands_the_same(operator_client):
    reply = operator_client.get("/api/directory/search", query_string={"q": "jag söker Sven Olofsson tack"})
    assert reply.status_code == 200
    assert reply.get_json()["results"][0]["id"] == "p039"
    assert reply.get_json()["results"][0]["sure"] is True


# -- choosing in the flow: connect, confirm, choose ---------------------------------------------------------------

def m(id_: str, score: float, how: str = "name", sure: bool = True, unit: str = "U", **kw) -> Match:
    return Match(id=id_, name=id_, unit=unit, extension="4400", score=score, matched_by=how, sure=sure, **kw)


@pytest.mark.parametrize("name, matches, clearly, what, ids", [
    ("nobody", (), True, "none", []),
    ("one sure hit", (m("a", 100),), True, "connect", ["a"]),
    ("a clearly best hit", (m("a", 150), m("b", 100)), True, "connect", ["a"]),
    ("a fuzzy hit is confirmed", (m("a", 45, sure=False),), True, "confirm", ["a"]),
    ("two fuzzy hits: confirmed in turn", (m("a", 45, sure=False), m("b", 44, sure=False)), True, "confirm",
     ["a", "b"]),
    ("a sure hit heard unclearly", (m("a", 100),), False, "confirm", ["a"]),
    ("equal names are read out", (m("a", 100), m("b", 100)), True, "choose", ["a", "b"]),
    ("a subject in one unit: the first ready", (m("a", 100, "keyword", status="absent"), m("b", 100, "keyword")),
     True, "connect", ["b"]),
    ("a subject in two units: one per unit", (m("a", 100, "keyword", unit="X"), m("b", 100, "keyword", unit="X"),
                                              m("c", 99, "unit", unit="Y")), True, "choose", ["a", "c"]),
    ("no way to ring them", (replace(m("a", 100), extension=None),), True, "none", []),
])
def test_choose(name, matches, clearly, what, ids):
    got, picked = choose(matches, clearly)
    assert (got, [p.id for p in picked]) == (what, ids), name


def published() -> Flow:
    return Flow(load_file(CONFIG_DIR / "flows" / "default.toml"))


def to_directory(flow: Flow, speech: bool = True) -> CallState:
    now = at("2026-11-24T10:00")
    state = step(flow, None, Start("+46701740601", "+46406280400", speech=speech), now).state
    from ivr.protocol import HoursChecked
    state = step(flow, state, HoursChecked(open=True, reason="open", weekly={}), now).state
    return state


def test_the_directory_prompt_invites_speech_only_where_the_platform_hears_it():
    flow = published()
    state = to_directory(flow, speech=True)
    hears = step(flow, state, Digits("1"), at("2026-11-24T10:00"))
    assert [a.prompt for a in hears.actions if isinstance(a, Say)] == ["ask_person"]
    assert [a.input for a in hears.actions if isinstance(a, Gather)] == ["dtmf speech"]
    keys = step(flow, to_directory(flow, speech=False), Digits("1"), at("2026-11-24T10:00"))
    said = [a for a in keys.actions if isinstance(a, Say)]
    assert [a.prompt for a in said] == ["ask_person_keys"]
    assert "Säg" not in said[0].text and "knappsatsen" in said[0].text
    assert [a.input for a in keys.actions if isinstance(a, Gather)] == ["dtmf"]


def test_a_flow_without_the_keys_prompt_is_refused():
    doc = load_file(CONFIG_DIR / "flows" / "default.toml")
    del doc["prompts"]["ask_person_keys"]
    assert "Texten ”ask person keys” saknas på sv." in validate(doc)


def test_low_recogniser_confidence_confirms_even_a_clear_hit():
    flow = published()
    now = at("2026-11-24T10:00")
    state = step(flow, to_directory(flow), Digits("1"), now).state
    asked = step(flow, state, Speech("Sven Olofsson", 0.3), now)
    sven = m("p039", 150)
    result = step(flow, asked.state, LookupResult("Sven Olofsson", (sven,)), now)
    assert result.state.awaiting == "directory_confirm"
    assert [a.text for a in result.actions if isinstance(a, Say)] == ["Menar du p039 på U? Tryck 1 för ja, 2 för nej."]


# -- whole calls through `vaxel call` (the published flow, the demo municipality) ----------------------------------

def call(runner, *tokens: str, at_: str = "2026-11-24T10:30:00+01:00", called: str | None = None) -> list[dict]:
    """The actions of one simulated call; when the script runs out the caller stays silent and patient."""
    args = ["call", "--at", at_, "--json", *tokens]
    if called:
        args[1:1] = ["--to", called]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def said(out: list[dict]) -> list[str]:
    return [a["text"] for a in out if a["action"] == "say"]


def rung(out: list[dict]) -> list[str]:
    return [a["name"] for a in out if a["action"] == "transfer"]


def test_call_sven_olofsson_tack_is_connected(runner):
    out = call(runner, "1", "say:Sven Olofsson tack")
    assert rung(out) == ["Sven Olofsson"]


def test_call_someone_about_bygglov_is_connected_to_the_bygglov_function(runner):
    out = call(runner, "1", "say:jag vill prata med någon om bygglov")
    assert rung(out) == ["Bygglov – dagens handläggare"]


def test_call_bygglovet_is_the_subject_not_a_list_of_people(runner):
    out = call(runner, "1", "say:bygglovet")
    assert rung(out) == ["Bygglov – dagens handläggare"]
    assert not any("Vi hittade flera" in s for s in said(out))


def test_call_hemtjansten_reaches_the_hemtjanst_unit(runner):
    out = call(runner, "1", "say:hemtjänsten")
    assert rung(out) == ["Daniela Moreno"]  # the unit called Hemtjänsten, not a list of people


def test_call_socialtjansten_never_rings_the_head_of_department(runner):
    out = call(runner, "1", "say:socialtjänsten", "1")
    assert "Eva Holm" not in rung(out)
    assert any("Vi hittade flera" in s for s in said(out))  # three units: the caller chooses


def test_call_lindqvist_asks_before_ringing_sara_lundqvist(runner):
    asked = call(runner, "1", "say:Lindqvist")
    assert rung(asked) == []  # never rung without an answer; silence leads to the centre
    assert "Menar du Sara Lundqvist på Barn och familj? Tryck 1 för ja, 2 för nej." in said(asked)
    assert rung(call(runner, "1", "say:Lindqvist", "1")) == ["Sara Lundqvist"]
    declined = call(runner, "1", "say:Lindqvist", "2")
    assert rung(declined) == [] and "Vi kopplar dig till kundcenter." in said(declined)


def test_call_silence_at_the_directory_does_not_use_up_the_questions_retry(runner):
    out = call(runner, "1", "silence", "say:Lindqvist", "silence", "1")
    assert rung(out) == ["Sara Lundqvist"]


def test_call_the_question_can_be_answered_by_saying_ja(runner):
    assert rung(call(runner, "1", "say:Lindqvist", "say:ja")) == ["Sara Lundqvist"]
    assert rung(call(runner, "1", "say:Lindqvist", "say:nej tack")) == []


def test_call_at_most_two_questions_then_the_centre(runner):
    out = call(runner, "1", "say:Lundberg", "2", "2")  # sounds like Lindberg and Sundberg (and Sandberg)
    assert [s for s in said(out) if s.startswith("Menar du")] == [
        "Menar du Marcus Lindberg på Kundtjänst avfall? Tryck 1 för ja, 2 för nej.",
        "Menar du Peter Sundberg på Barn och skola? Tryck 1 för ja, 2 för nej."]
    assert rung(out) == [] and "Vi kopplar dig till kundcenter." in said(out)
    assert rung(call(runner, "1", "say:Lundberg", "2", "1")) == ["Peter Sundberg"]


def test_a_spoken_word_that_only_begins_a_keyword_is_unsure(app):
    services = app.extensions["vaxel"]
    with services.sessions() as session:
        heard = search(session, "Person", at("2026-11-24T10:30"), TZ, mode="speech", synonyms=SYNONYMS)
        typed = search(session, "Person", at("2026-11-24T10:30"), TZ, synonyms=SYNONYMS)
    assert heard[0].id == "p048" and not heard[0].sure  # Jörgen Persson sounds like it: asked about first
    assert typed[0].id == "p014" and typed[0].sure  # typed: the beginning of "personlig assistans"


def test_call_silence_after_the_question_asks_once_more_then_the_centre(runner):
    out = call(runner, "1", "say:Lindqvist", "silence", "silence")
    assert [s for s in said(out) if s.startswith("Menar du")] == [
        "Menar du Sara Lundqvist på Barn och familj? Tryck 1 för ja, 2 för nej."] * 2
    assert rung(out) == [] and "Vi kopplar dig till kundcenter." in said(out)


def test_call_english_line_building_permit(runner):
    out = call(runner, "1", "say:building permit", called="+46406280498")
    assert rung(out) == ["Bygglov – dagens handläggare"]
    assert any(s.startswith("Connecting you to") for s in said(out))


def test_call_english_line_waste(runner):
    out = call(runner, "1", "say:waste", called="+46406280498")
    assert rung(out) == ["Kundtjänst avfall"]


def test_confirm_events_are_logged(app):
    from switchboard.calls import CallRunner
    from stats.events import events_of

    services = app.extensions["vaxel"]
    runner = CallRunner(services.sessions, services.settings, channel="test")
    now = datetime.fromisoformat("2026-11-24T10:30:00+01:00")
    runner.start("c1", now, "+46701740601", "+46406280400")
    runner.handle("c1", Digits("1"), now)
    runner.handle("c1", Speech("Lindqvist", 0.9), now)
    runner.handle("c1", Digits("2"), now)
    with services.sessions() as session:
        kinds = [(e.type, e.data.get("target_id")) for e in events_of(session, "c1")]
    assert ("directory_confirm", "p011") in kinds and ("directory_declined", "p011") in kinds


def test_upgrading_adds_the_new_prompts_to_a_published_flow(bare_app):
    """A site that published its flow before issue 17 gets ask_person_keys and directory_confirm on upgrade."""
    from sqlalchemy import select

    from ivr.models import FlowVersion
    from switchboard.seed import ensure_defaults, published_flow

    services = bare_app.extensions["vaxel"]
    with services.sessions() as session:
        current = published_flow(session)
        old = {**current.document, "prompts": {k: v for k, v in current.document["prompts"].items()
                                               if k not in ("ask_person_keys", "directory_confirm")}}
        current.document = old
        session.commit()
        done = ensure_defaults(session, services.settings)
        assert any("ask_person_keys" in d and "directory_confirm" in d for d in done)
        newest = published_flow(session)
        assert newest.version == current.version + 1
        assert newest.document["prompts"]["ask_person_keys"]["sv"].startswith("Slå anknytningen")
        assert session.scalar(select(FlowVersion).where(FlowVersion.id == current.id)).status == "archived"
