"""The call-flow editor: edit a draft, validate, test-call it, publish, see history, diff and roll back.

Citizens only ever hear a published version; a draft can be saved with problems
but not published until :func:`ivr.flow.validate` finds none. Calls in progress
keep the version they started on. Every save, publish and rollback is audited.
"""

from __future__ import annotations

import copy
import difflib
import json
from datetime import datetime, timezone

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr import flow as flows
from ivr.models import FlowVersion
from core import audit
from core.text import Text
from switchboard import testcall
from switchboard.i18n import translated
from core.services import services
from core.clock import parse_instant
from switchboard.seed import published_flow

bp = Blueprint("flowadmin", __name__, template_folder="templates", static_folder="static",
               static_url_path="/admin/flow/static")

NUMBER_FIELDS = {"menu": ("timeout", "retries"), "directory": ("timeout", "retries"), "transfer": ("ring_timeout",)}
QUEUE_FIELDS = ("announce_every", "callback_after", "offer_timeout")
# what the editor calls the flow's parts: an administrator reads words, not the document's keys
NODE_LABELS = {"hours": _l("Öppettider"), "greeting": _l("Hälsning"), "menu": _l("Huvudmenyn"),
               "english": _l("Engelska"), "person": _l("Söka en person (val 1)"), "transfer": _l("Koppling"),
               "centre": _l("Kundcenters kö"), "closed": _l("Stängt"), "goodbye": _l("Avsked"),
               "bygg_hours": _l("Bygg och miljös linje: öppettider"),
               "bygg_greeting": _l("Bygg och miljös linje: hälsning"), "bygg": _l("Bygg och miljös kö")}
FIELD_LABELS = {"timeout": _l("väntar på svar (s)"), "retries": _l("försök"),
                "ring_timeout": _l("ringer innan det går tillbaka (s)"), "announce_every": _l("köplatsen sägs var (s)"),
                "callback_after": _l("uppringning erbjuds efter (s)"),
                "offer_timeout": _l("operatören har på sig att svara (s)")}


def node_label(name: str) -> str:
    return str(NODE_LABELS.get(name, name.replace("_", " ").capitalize()))


def in_words(problem) -> str:
    """A problem in the administrator's language, naming the flow's steps as the editor does (not by id)."""
    if isinstance(problem, Text):
        problem = Text(problem.msgid, **{k: node_label(v) if k in ("node", "target") and v else v
                                         for k, v in problem.values.items()})
    return translated(problem)


def prompts_in_call_order(doc: dict) -> list[str]:
    """The texts in the order a caller hears them: each node's texts in the flow's order, then the rest."""
    order: list[str] = []
    nodes = doc.get("nodes")
    for node in nodes.values() if isinstance(nodes, dict) else ():
        for key, value in node.items() if isinstance(node, dict) else ():
            if (key == "prompt" or key.endswith("_prompt")) and isinstance(value, str) and value not in order:
                order.append(value)
    prompts = doc.get("prompts") if isinstance(doc.get("prompts"), dict) else {}
    return [p for p in order if p in prompts] + [p for p in prompts if p not in order]


def who_published(session: Session) -> dict[str, tuple[str, datetime]]:
    """"main v3" -> (who, when) from the audit log: the history says who published each version."""
    from core.audit import AuditEntry

    return {e.object_id: (e.user, e.at) for e in session.scalars(
        select(AuditEntry).where(AuditEntry.action.in_(("flow.publish", "flow.rollback"))).order_by(AuditEntry.at))}


def draft_of(session: Session, key: str = "main") -> FlowVersion | None:
    return session.scalar(select(FlowVersion).where(FlowVersion.flow_key == key, FlowVersion.status == "draft"))


def editing(session: Session) -> tuple[FlowVersion, FlowVersion | None, dict]:
    """The published version, the draft if any, and the document the editor shows (the draft's, else the published)."""
    published, draft = published_flow(session), draft_of(session)
    return published, draft, (draft or published).document


def _new_draft(session: Session, key: str, document: dict, note: str = "") -> FlowVersion:
    """A new version numbered after the latest one, as a draft."""
    latest = session.scalar(select(FlowVersion.version).where(FlowVersion.flow_key == key)
                            .order_by(FlowVersion.version.desc()).limit(1)) or 0
    draft = FlowVersion(flow_key=key, version=latest + 1, status="draft", document=document, note=note,
                        created_at=datetime.now(timezone.utc))
    session.add(draft)
    return draft


def _whole(value: str, what: str, problems: list[str]) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        problems.append(_("%(what)s: ”%(value)s” är inte ett heltal.", what=what, value=value))
        return None
    if number < 0 or number > 3600:
        problems.append(_("%(what)s: %(value)s ligger utanför 0–3600.", what=what, value=number))
        return None
    return number


def document_from_form(base: dict, form) -> tuple[dict, list[str]]:
    """Apply the editor's fields to a copy of ``base``; problems are input errors (not flow validation).

    A document that is not a flow document at all (:func:`ivr.flow.malformed`: wrong JSON types) is an
    input error too: it is never saved, since neither the editor nor the engine could read it.
    """
    if form.get("json", "").strip():
        try:
            doc = json.loads(form["json"])
        except (json.JSONDecodeError, RecursionError) as exc:
            return base, [_("JSON-texten går inte att läsa (rad %(line)s, tecken %(column)s).",
                            line=getattr(exc, "lineno", "?"), column=getattr(exc, "colno", "?"))]
        if not isinstance(doc, dict):
            return base, [_("JSON-texten ska vara ett objekt.")]
        shape = flows.malformed(doc)
        return (base, [_("JSON-texten är inte ett flöde: %(problem)s", problem=translated(p)) for p in shape]) \
            if shape else (doc, [])
    if flows.malformed(base):
        return base, [_("Utkastet är inte ett läsbart flöde, så fälten kan inte ändras: rätta det som JSON nedan "
                        "eller kasta det.")]
    doc, problems = copy.deepcopy(base), []
    for field, value in form.items():
        parts = field.split("__")
        if parts[0] == "prompt" and len(parts) == 3:
            doc.setdefault("prompts", {}).setdefault(parts[1], {})[parts[2]] = value.strip()
        elif parts[0] == "node" and len(parts) == 3 and parts[1] in doc.get("nodes", {}):
            number = _whole(value, f"{node_label(parts[1])}: {FIELD_LABELS.get(parts[2], parts[2])}", problems)
            if number is not None:
                doc["nodes"][parts[1]][parts[2]] = number
        elif parts[0] == "queue" and len(parts) == 2 and parts[1] in QUEUE_FIELDS:
            number = _whole(value, _("Kö: %(field)s", field=FIELD_LABELS[parts[1]]), problems)
            if number is not None:
                doc.setdefault("queue", {})[parts[1]] = number
    doc.setdefault("queue", {})["callback"] = bool(form.get("queue__callback"))
    for name, node in doc.get("nodes", {}).items():
        if node.get("type") != "menu":
            continue
        options = {}
        for key in sorted(node.get("options", {})):
            if form.get(f"option__{name}__{key}__remove"):
                continue
            options[key] = {"label": form.get(f"option__{name}__{key}__label", node["options"][key]["label"]).strip(),
                            "next": form.get(f"option__{name}__{key}__next", node["options"][key]["next"])}
        new_key = form.get(f"newoption__{name}__key", "").strip()
        if new_key:
            options[new_key] = {"label": form.get(f"newoption__{name}__label", "").strip(),
                                "next": form.get(f"newoption__{name}__next", "")}
        node["options"] = options
    problems.extend(translated(p) for p in flows.malformed(doc))
    return doc, problems


def _fields_of(doc) -> dict | None:
    """What the editor's fields show: the document with every part present, or None if it is malformed."""
    if flows.malformed(doc):
        return None
    return {**doc, "nodes": {name: {**node, "options": node.get("options") or {}}
                             for name, node in (doc.get("nodes") or {}).items()},
            "prompts": doc.get("prompts") or {}, "languages": doc.get("languages") or [],
            "queue": doc.get("queue") or {}}


def _editor_page(session: Session, input_problems: list[str] | None = None, json_text: str | None = None,
                 status: int = 200):
    """The editor, whatever is stored: a malformed draft is shown as JSON with its problems, never a 500."""
    svc = services()
    published, draft, doc = editing(session)
    try:
        problems = flows.validate(doc)
    except Exception:  # validate is written never to raise; the page must not fail on a case it missed
        problems = [_("Flödet går inte att läsa: rätta det som JSON nedan eller kasta utkastet.")]
    fields = _fields_of(doc) if isinstance(doc, dict) else None
    if json_text is None:
        json_text = json.dumps(doc, ensure_ascii=False, indent=2)
    pending = changes(published.document, draft.document) if draft is not None and isinstance(doc, dict) else []
    return render_template(
        "flow_editor.html", doc=fields, draft=draft, published=published, problems=[in_words(p) for p in problems],
        pending=pending,
        input_problems=input_problems or [], node_fields=NUMBER_FIELDS, queue_fields=QUEUE_FIELDS,
        node_label=node_label, field_labels=FIELD_LABELS, prompt_order=prompts_in_call_order(doc) if isinstance(doc, dict) else [],
        json_text=json_text, now=svc.clock.now().strftime("%Y-%m-%dT%H:%M")), status


@bp.get("/admin/flow")
def editor():
    with services().sessions() as session:
        return _editor_page(session)


@bp.post("/admin/flow/draft")
def save_draft():
    svc = services()
    with svc.sessions() as session:
        published, draft, base = editing(session)
        doc, problems = document_from_form(base, request.form)
        if problems:  # refused with the reasons, the administrator's JSON kept in the field to correct
            return _editor_page(session, problems, request.form.get("json") or None, status=400)
        if draft is None:
            draft = _new_draft(session, published.flow_key, doc)
        else:
            draft.document = doc
        session.flush()
        audit.record(session, audit.who(), "flow.draft_save", "flow", f"{draft.flow_key} v{draft.version}",
                     before=base, after=doc)
        session.commit()
        remaining = flows.validate(doc)
    flash(_("Utkastet är sparat. Det kan inte publiceras förrän felen är rättade.") if remaining
          else _("Utkastet är sparat."))
    return redirect(url_for("flowadmin.editor"))


@bp.post("/admin/flow/publish")
def publish():
    svc = services()
    with svc.sessions() as session:
        draft = draft_of(session)
        if draft is None:
            flash(_("Det finns inget utkast att publicera."))
            return redirect(url_for("flowadmin.editor"))
        previous = published_flow(session, draft.flow_key)
        try:
            _publish(session, draft, previous, "flow.publish")
        except flows.FlowError as exc:
            session.rollback()
            flash(_("Utkastet publicerades inte: %(problems)s", problems="; ".join(map(in_words, exc.problems))))
            return redirect(url_for("flowadmin.editor"))
        session.commit()
        version = draft.version
    _after_publish(svc)
    flash(_("Version %(version)s är publicerad. Nya samtal hör den nu.", version=version))
    return redirect(url_for("flowadmin.editor"))


def _publish(session: Session, version: FlowVersion, previous: FlowVersion | None, action: str) -> None:
    """Make ``version`` the one new calls use — only if it validates (raises FlowError), whatever the route."""
    problems = flows.validate(version.document)
    if problems:
        raise flows.FlowError(problems)
    now = datetime.now(timezone.utc)
    if previous is not None:
        previous.status = "archived"
    version.status, version.published_at = "published", now
    audit.record(session, audit.who(), action, "flow", f"{version.flow_key} v{version.version}",
                 before=previous.document if previous else None, after=version.document)


def _after_publish(svc) -> None:
    """Asterisk plays audio files: rebuild them for the new texts if the Asterisk adapter is in use."""
    try:
        from switchboard.asterisk import prompts as asterisk_prompts
    except ImportError:
        return
    rebuild = getattr(asterisk_prompts, "rebuild_after_publish", None)
    if rebuild is not None:
        try:
            rebuild(svc.settings)
        except Exception:  # audio is rebuilt by `vaxel prompts build` too; publishing must not fail on it
            import logging

            logging.getLogger(__name__).exception("rebuilding prompt audio after publish failed")


@bp.post("/admin/flow/discard")
def discard():
    with services().sessions() as session:
        draft = draft_of(session)
        if draft is not None:
            audit.record(session, audit.who(), "flow.draft_discard", "flow", f"{draft.flow_key} v{draft.version}",
                         before=draft.document)
            session.delete(draft)
            session.commit()
    flash(_("Utkastet är borttaget."))
    return redirect(url_for("flowadmin.editor"))


@bp.get("/admin/flow/history")
def history():
    with services().sessions() as session:
        versions = list(session.scalars(select(FlowVersion).order_by(FlowVersion.version.desc())))
        published_by = who_published(session)
    return render_template("flow_history.html", versions=versions, published_by=published_by)


@bp.get("/admin/flow/diff/<int:old>/<int:new>")
def diff(old: int, new: int):
    with services().sessions() as session:
        a, b = session.get(FlowVersion, old), session.get(FlowVersion, new)
        if a is None or b is None:
            abort(404)
        lines = difflib.unified_diff(
            json.dumps(a.document, ensure_ascii=False, indent=2, sort_keys=True).splitlines(),
            json.dumps(b.document, ensure_ascii=False, indent=2, sort_keys=True).splitlines(),
            f"version {a.version}", f"version {b.version}", lineterm="")
        return render_template("flow_diff.html", a=a, b=b, lines=list(lines), changes=changes(a.document, b.document))


def _leaves(doc, path: tuple = ()) -> dict[tuple, object]:
    if isinstance(doc, dict) and doc:
        return {k: v for key, value in doc.items() for k, v in _leaves(value, (*path, str(key))).items()}
    return {path: doc}


def where(path: tuple) -> str:
    """A field of the flow document in words: ("prompts", "menu", "sv") -> "Text menu (sv)"."""
    if len(path) >= 3 and path[0] == "prompts":
        return _("Text ”%(prompt)s” (%(lang)s)", prompt=path[1].replace("_", " "), lang=path[2])
    if len(path) >= 4 and path[0] == "nodes" and path[2] == "options":
        part = {"next": _("går till"), "label": _("namn")}.get(path[4], path[4]) if len(path) > 4 else ""
        return _("%(node)s: knapp %(key)s", node=node_label(path[1]), key=path[3]) + (f" – {part}" if part else "")
    if len(path) >= 3 and path[0] == "nodes":
        return f"{node_label(path[1])}: {FIELD_LABELS.get(path[2], path[2])}"
    if len(path) >= 2 and path[0] == "queue":
        return _("Kö: %(field)s", field=FIELD_LABELS.get(path[1], path[1]))
    return " › ".join(path)


def changes(old: dict, new: dict) -> list[tuple[str, object, object]]:
    """What changed between two flow documents, field by field, in words: (where, before, after)."""
    before, after = _leaves(old), _leaves(new)
    return [(where(path), before.get(path, "–"), after.get(path, "–"))
            for path in sorted(set(before) | set(after)) if before.get(path) != after.get(path)]


@bp.post("/admin/flow/rollback/<int:version_id>")
def rollback(version_id: int):
    svc = services()
    with svc.sessions() as session:
        old = session.get(FlowVersion, version_id)
        if old is None:
            abort(404)
        problems = flows.validate(old.document)
        if problems:  # a version published before today's rules may not pass them: refused, with the reasons
            flash(_("Version %(version)s återställdes inte, den klarar inte valideringen: %(problems)s",
                    version=old.version, problems="; ".join(map(in_words, problems))))
            return redirect(url_for("flowadmin.history"))
        previous = published_flow(session, old.flow_key)
        copy_ = _new_draft(session, old.flow_key, copy.deepcopy(old.document), _("återställd till version %(version)s", version=old.version))
        _publish(session, copy_, previous, "flow.rollback")
        session.commit()
        version = copy_.version
    _after_publish(svc)
    flash(_("Återställt: version %(version)s är en kopia av version %(old)s och är publicerad.", version=version,
            old=old.version))
    return redirect(url_for("flowadmin.history"))


@bp.post("/api/admin/flow/testcall")
def api_testcall():
    """Run a test call: {"at": ISO, "tokens": [...], "flow": "draft"|"published", "caller": "..."}."""
    svc = services()
    body = request.get_json(silent=True) or {}
    if not isinstance(body, dict):
        return jsonify(error=_("Skicka ett JSON-objekt: {at, tokens, flow, caller}.")), 400
    tokens = body.get("tokens") or []
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        return jsonify(error=_("tokens ska vara en lista med texter.")), 400
    wrong = [key for key in ("at", "flow", "caller") if body.get(key) is not None and not isinstance(body[key], str)]
    if wrong:
        return jsonify(error=_("%(fields)s ska vara text (en JSON-sträng).", fields=", ".join(wrong))), 400
    try:
        at = parse_instant(body["at"], svc.clock.tz) if body.get("at") else svc.clock.now()
    except ValueError as exc:
        return jsonify(error=translated(exc.args[0] if exc.args else exc)), 400
    with svc.sessions() as session:
        version = (draft_of(session) if body.get("flow", "draft") == "draft" else None) or published_flow(session)
        document = version.document
    problems = flows.validate(document)
    if problems:
        said = [in_words(p) for p in problems]
        return jsonify(error=_("Flödet har fel: %(problems)s", problems="; ".join(said)), problems=said), 400
    try:
        result = testcall.run(svc.sessions, svc.settings, document, at, tokens, caller=body.get("caller") or None)
    except ValueError as exc:  # a token that does not fit the call
        return jsonify(error=translated(exc.args[0] if exc.args else exc)), 400
    return jsonify(version=version.version, status=version.status, **result)
