"""Issue 14: prompt texts are data, never format strings; every publish validates; a malformed flow never 500s.

A broken placeholder is refused at publishing (and at rolling back, and at seeding); a text stored anyway
(inserted directly, or from before these rules) is rendered safely: no format specification, conversion,
attribute or index is ever interpreted, so it can neither raise nor allocate, and the call still reaches a
person. Flow JSON that is not a flow document is refused with a 400, and the editor shows whatever is stored.
"""

from __future__ import annotations

import ast
import copy
import html
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr import engine, flow as flows
from ivr.flow import PROMPT_PLACEHOLDERS, Flow, FlowError, load_file, render, validate
from ivr.models import FlowVersion
from core.settings import CONFIG_DIR
from tests.conftest import csrf_token
from tests.test_admin import form_of

DEFAULT = load_file(CONFIG_DIR / "flows" / "default.toml")
HUGE = "{next_open:>999999999}"


def text(reply) -> str:
    return html.unescape(reply.get_data(as_text=True))


def with_prompt(prompt: str, lang: str, value: str, doc: dict | None = None) -> dict:
    doc = copy.deepcopy(doc or DEFAULT)
    doc["prompts"][prompt][lang] = value
    return doc


def store(sessions, document, status: str) -> int:
    """Insert a version directly, as an old release or a hand-edited database might have left it."""
    with sessions() as session:
        latest = session.scalar(select(FlowVersion.version).order_by(FlowVersion.version.desc()).limit(1)) or 0
        if status == "published":
            for old in session.scalars(select(FlowVersion).where(FlowVersion.status == "published")):
                old.status = "archived"
        now = datetime.now(timezone.utc)
        version = FlowVersion(flow_key="main", version=latest + 1, status=status, document=document, note="direct",
                              created_at=now, published_at=now if status != "draft" else None)
        session.add(version)
        session.commit()
        return version.id


def published_version(sessions) -> int:
    with sessions() as session:
        return session.scalar(select(FlowVersion).where(FlowVersion.status == "published")).version


def call(runner, *tokens, at="2026-11-24T10:00:00+01:00"):
    result = runner.invoke(args=["call", "--at", at, "--json", *tokens])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


# -- validation ------------------------------------------------------------------------------------------------


def test_the_shipped_flow_uses_only_the_placeholders_it_is_given():
    assert validate(DEFAULT) == []


@pytest.mark.parametrize("bad, words", [
    ("Vi öppnar {nex_open}.", "okänd platshållare {nex_open}; den får använda {hours}, {next_open}"),
    (f"Vi öppnar {HUGE}.", "{next_open:>999999999} är inte tillåtet"),
    ("Vi öppnar {next_open!r}.", "{next_open!r} är inte tillåtet"),
    ("Vi öppnar {next_open.__class__}.", "{next_open.__class__} är inte tillåtet"),
    ("Vi öppnar {hours[0]}.", "{hours[0]} är inte tillåtet"),
    ("Vi öppnar {0} {}.", "{0} har inget namn"),
    ("Vi öppnar {next_open.", "ett ensamt {"),
    ("Vi öppnar next_open}.", "ett ensamt }"),
])
def test_placeholders_are_checked_per_prompt_and_language(bad, words):
    problems = validate(with_prompt("closed", "en", bad))
    assert problems and all(p.startswith("Texten ”closed” (en): ") for p in problems), problems
    assert any(words in p for p in problems), problems


def test_a_prompt_said_without_values_takes_no_placeholders_but_escaped_braces_are_text():
    assert "Texten ”greeting” (sv): okänd platshållare {name}; den tar inga platshållare" in validate(
        with_prompt("greeting", "sv", "Hej {name}!"))
    assert validate(with_prompt("greeting", "sv", "Tryck {{1}}.")) == []
    assert Flow(with_prompt("greeting", "sv", "Tryck {{1}}.")).text("greeting", "sv") == "Tryck {1}."


def test_the_placeholders_allowed_are_exactly_those_the_engine_passes():
    """Read ivr/engine.py: every say(...)/text(...) of a named prompt, and the keyword values it passes."""
    tree = ast.parse(Path(engine.__file__).read_text(encoding="utf-8"))
    passed: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("say", "text") and node.args):
            continue
        if any(k.arg is None for k in node.keywords):  # the say() helper passing **values on
            continue
        names = {k.arg for k in node.keywords}
        first = node.args[0]
        if isinstance(first, ast.Constant):
            ids = [first.value]
        elif "FAILED_TRANSFER_PROMPTS" in ast.unparse(first):
            ids = [*engine.FAILED_TRANSFER_PROMPTS.values(), "transfer_failed"]
        else:  # a node's own prompt, "no_input"/"invalid", refusal_* — said without values
            assert not names, ast.unparse(node)
            continue
        for prompt in ids:
            passed.setdefault(prompt, set()).update(names)
    assert {p: n for p, n in passed.items() if n} == {p: set(n) for p, n in PROMPT_PLACEHOLDERS.items()}


# -- rendering ---------------------------------------------------------------------------------------------------


def test_rendering_a_stored_width_specifier_neither_allocates_nor_raises():
    doc = with_prompt("closed", "sv", f"Stängt. Vi öppnar {HUGE} {{hours!r}} {{hours.__class__}} {{hours[0]}} {{")
    started = time.perf_counter()
    said = Flow(doc).text("closed", "sv", hours="måndag till fredag", next_open="i morgon")
    assert time.perf_counter() - started < 0.5
    assert said == "Stängt. Vi öppnar {next_open:>999999999} {hours!r} {hours.__class__} {hours[0]} {"
    assert render("{a}{b}{{c}}", {"a": 1}) == "1{c}"  # a name without a value says nothing


def test_values_are_not_formatted_again():
    assert render("{name}", {"name": "{x.__class__} {y:>99999999}"}) == "{x.__class__} {y:>99999999}"


# -- every publish validates -------------------------------------------------------------------------------------


def test_a_broken_placeholder_is_refused_at_publish(admin_client, sessions):
    for bad in ("Vi öppnar {nex_open}.", f"Vi öppnar {HUGE}.", "Vi öppnar {next_open!r}.",
                "Vi öppnar {next_open.__class__}."):
        fields = form_of(admin_client)
        fields["prompt__closed__sv"] = bad
        assert admin_client.post("/admin/flow/draft", data=fields).status_code == 302  # a draft may have problems
        refused = text(admin_client.post("/admin/flow/publish", data={"csrf_token": fields["csrf_token"]},
                                         follow_redirects=True))
        assert "Utkastet publicerades inte" in refused and "Texten ”closed” (sv)" in refused
        assert published_version(sessions) == 1
    fields = form_of(admin_client)
    fields["prompt__closed__sv"] = "Stängt. Vi öppnar {next_open}."
    admin_client.post("/admin/flow/draft", data=fields)
    admin_client.post("/admin/flow/publish", data={"csrf_token": fields["csrf_token"]})
    assert published_version(sessions) == 2


def test_rolling_back_to_a_version_that_would_not_validate_today_is_refused(admin_client, sessions):
    old = store(sessions, with_prompt("connecting", "sv", "Du kopplas till {name!r}, {unit.__class__}."), "archived")
    token = csrf_token(admin_client, "/admin/flow/history")
    reply = admin_client.post(f"/admin/flow/rollback/{old}", data={"csrf_token": token}, follow_redirects=True)
    page = text(reply)
    assert "återställdes inte" in page and "Texten ”connecting” (sv): {name!r} är inte tillåtet" in page
    assert published_version(sessions) == 1
    with sessions() as session:
        assert session.scalar(select(FlowVersion).where(FlowVersion.note.like("roll back%"))) is None


def test_seeding_validates_the_shipped_flow_too(bare_app, tmp_path):
    seed = tmp_path / "flow.json.toml"
    source = (CONFIG_DIR / "flows" / "default.toml").read_text(encoding="utf-8")
    seed.write_text(source.replace("Vi öppnar igen {next_open}.", "Vi öppnar igen {next_open:>999999999}.", 1),
                    encoding="utf-8")
    from switchboard.seed import ensure_defaults

    sessions = bare_app.extensions["vaxel"].sessions
    with sessions() as session:
        for version in session.scalars(select(FlowVersion)):
            session.delete(version)
        session.commit()
        with pytest.raises(FlowError) as refused:
            ensure_defaults(session, {"flow": {"seed_file": str(seed)}})
        assert any("{next_open:>999999999} är inte tillåtet" in p for p in refused.value.problems)
        session.rollback()
        assert session.scalar(select(FlowVersion)) is None


# -- a stored bad text never harms a call -------------------------------------------------------------------------


def test_a_call_on_a_flow_with_bad_placeholders_stored_still_reaches_a_person(app, runner, sessions):
    doc = with_prompt("greeting", "sv", "Välkommen {x[0]} {name:>999999999} {")
    doc = with_prompt("connecting", "sv", "Du kopplas nu till {name!r}, {unit.__class__}.", doc)
    doc = with_prompt("queue_position", "sv", "Du är nummer {position:>999999999} i kön {wait[0]}.", doc)
    assert validate(doc)
    store(sessions, doc, "published")
    started = time.perf_counter()
    actions = call(runner, "1", "say:torghandel", "ring:no-answer")
    said = [a["prompt"] for a in actions if a["action"] == "say"]
    assert said[:2] == ["greeting", "menu"]  # the flow ran, not the fallback to the centre
    assert actions[0]["text"] == "Välkommen {x[0]} {name:>999999999} {"
    assert any(a["action"] == "transfer" for a in actions)
    enqueue = next(a for a in actions if a["action"] == "enqueue")
    assert enqueue["returned"] is True and actions[-1]["action"] in {"bridged", "hangup"}
    assert any(a["action"] == "bridged" for a in actions)  # an operator answers: a person
    # the night: closed, with a width specifier in the text that tells when we open
    store(sessions, with_prompt("closed", "sv", f"Stängt. Vi öppnar {HUGE}."), "published")
    night = call(runner, at="2026-11-24T22:00:00+01:00")
    assert night[0]["prompt"] == "closed" and len(night[0]["text"]) < 100
    assert time.perf_counter() - started < 20


# -- malformed JSON --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("posted, words", [
    ("{not json", "JSON-texten går inte att läsa"),
    ("[1, 2]", "JSON-texten ska vara ett objekt"),
    ('{"nodes": [1, 2]}', "nodes ska vara ett objekt"),
    ('{"nodes": {"menu": "oops"}}', "Steget ”menu” ska vara ett objekt"),
    ('{"nodes": {"menu": {"type": ["menu"]}}}', "Steget ”menu”: type ska vara en text"),
    ('{"nodes": {}, "prompts": {"greeting": "Hej"}}', "Texten ”greeting” ska vara ett objekt"),
    ('{"nodes": {}, "queue": null}', "queue ska vara ett objekt"),
])
def test_malformed_json_is_refused_with_a_400_and_the_page_renders(admin_client, sessions, posted, words):
    token = csrf_token(admin_client, "/admin/flow")
    reply = admin_client.post("/admin/flow/draft", data={"csrf_token": token, "json": posted})
    assert reply.status_code == 400
    page = text(reply)
    assert "Inte sparat" in page and words in page and "Samtalsflödet" in page
    assert posted in page  # kept in the field to correct
    with sessions() as session:
        assert session.scalar(select(FlowVersion).where(FlowVersion.status == "draft")) is None
    assert admin_client.get("/admin/flow").status_code == 200


def test_bad_form_fields_are_refused_with_a_400(admin_client, sessions):
    fields = form_of(admin_client)
    fields["queue__offer_timeout"] = "snart"
    reply = admin_client.post("/admin/flow/draft", data=fields)
    assert reply.status_code == 400 and "”snart” är inte ett heltal" in text(reply)
    with sessions() as session:
        assert session.scalar(select(FlowVersion).where(FlowVersion.status == "draft")) is None


def test_a_sparse_but_well_formed_draft_is_saved_and_shown(admin_client):
    token = csrf_token(admin_client, "/admin/flow")
    sparse = {"nodes": {"bye": {"type": "hangup", "prompt": "bye"}, "m": {"type": "menu", "prompt": "bye"}},
              "start": "bye"}
    reply = admin_client.post("/admin/flow/draft", data={"csrf_token": token, "json": json.dumps(sparse)})
    assert reply.status_code == 302
    page = admin_client.get("/admin/flow")
    assert page.status_code == 200 and "Flödet anger inga språk" in text(page)


@pytest.mark.parametrize("document", [
    {"nodes": {"menu": "oops"}, "prompts": []},
    [1, 2, 3],
    {"nodes": {"menu": {"type": "menu", "prompt": "menu", "options": {"1": "x"}}}, "languages": "sv"},
    {"nodes": {"a": {"type": "say", "prompt": {"sv": "x"}, "next": ["a"]}}, "start": ["a"]},
])
def test_a_malformed_draft_already_stored_is_shown_with_its_problems_not_a_500(admin_client, sessions, document):
    store(sessions, document, "draft")
    page = admin_client.get("/admin/flow")
    assert page.status_code == 200
    body = text(page)
    assert "kan inte publiceras" in body and 'id="malformed"' in body and "Spara JSON som utkast" in body
    token = csrf_token(admin_client, "/admin/flow")
    # the fields cannot be applied to it; publishing and test calls refuse; the JSON field mends it
    fields = admin_client.post("/admin/flow/draft", data={"csrf_token": token, "prompt__greeting__sv": "Hej"})
    assert fields.status_code == 400 and "inte ett läsbart flöde" in text(fields)
    refused = admin_client.post("/admin/flow/publish", data={"csrf_token": token}, follow_redirects=True)
    assert "Utkastet publicerades inte" in text(refused) and published_version(sessions) == 1
    test = admin_client.post("/api/admin/flow/testcall", headers={"X-CSRFToken": token}, json={"tokens": ["2"]})
    assert test.status_code == 400
    mended = admin_client.post("/admin/flow/draft", data={"csrf_token": token, "json": json.dumps(DEFAULT)})
    assert mended.status_code == 302 and "Utkastet är giltigt" in text(admin_client.get("/admin/flow"))


def test_validate_never_raises_on_any_json_shape():
    shapes = [None, 1, "x", [], {}, {"nodes": None}, {"nodes": {"a": None}}, {"nodes": {"a": {"options": []}}},
              {"nodes": {"a": {"type": "menu", "options": {"1": {"next": 1}}}}}, {"numbers": {"+46": None}},
              {"nodes": {"a": {"type": "hangup", "prompt": "p"}}, "start": "a", "languages": ["sv"],
               "prompts": {"p": {"sv": 1}}}, {"hints": "x"}, {"queue": {"callback_after": "soon"}}]
    for shape in shapes:
        assert validate(shape), shape
        assert flows.malformed(shape) or shape in ({}, {"nodes": None}), shape
