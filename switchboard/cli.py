"""The ``vaxel`` command line: database, demo data, the service, the call simulator, call history."""

from __future__ import annotations

import json
import os
import sys
import threading
import uuid
from datetime import datetime, timedelta

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import func, select

from ivr.engine import CallState
from ivr.models import CallSession
from ivr.protocol import Hangup
from ivr.simulator import ScriptError, Simulation, parse_script
from stats.events import events_of
from stats.models import CallEvent
from core import audit, logs
from switchboard import db
from core.services import services
from switchboard import traffic
from switchboard.calls import CallRunner
from switchboard.reconcile import Reconciler
from callback.cli import at_clock
from core.clock import parse_instant

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")
demo_cli = AppGroup("demo", help="The fictional demo municipality.")
calls_cli = AppGroup("calls", help="What happened to calls: the call event log.")
user_cli = AppGroup("user", help="Staff accounts: administrators, operators, statistics readers.")
directory_cli = AppGroup("directory", help="The staff directory: import, export, search.")


@db_cli.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema and seed the default flow and hours if missing."""
    svc = services()
    db.upgrade(svc.settings["database"]["url"])
    from switchboard.seed import ensure_defaults

    with svc.sessions() as session:
        for line in ensure_defaults(session, svc.settings):
            click.echo(f"seeded {line}")
    click.echo(f"database at {svc.engine.url.render_as_string(hide_password=True)} is up to date")


@demo_cli.command("load")
@click.option("--if-empty", is_flag=True, help="Only load when the directory has no staff yet.")
def demo_load(if_empty: bool) -> None:
    """Load (or refresh) the demo municipality; safe to run again."""
    from directory.models import Staff
    from switchboard import demo

    svc = services()
    with svc.sessions() as session:
        if if_empty and session.scalar(select(func.count()).select_from(Staff)):
            click.echo("directory already has staff; demo data not loaded")
            return
        counts = demo.load(session, svc.settings["demo"]["file"])
    click.echo(f"demo municipality loaded: {counts['units']} units, {counts['staff']} staff, "
               f"{counts['functions']} functions")


@click.command("serve")
@with_appcontext
@click.option("--host", default=None, help="Interface to listen on (default from settings: 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (default from settings: 5000).")
@click.option("--agi-host", default=None, help="FastAGI interface for Asterisk (default from settings: 127.0.0.1).")
@click.option("--agi-port", default=None, type=int, help="FastAGI port (default from settings: 4573; 0 = off).")
@click.option("--workers", default=None, type=int,
              help="Serving processes on the same ports (default from settings: service.workers, 1).")
@click.option("--worker-index", default=None, type=int, hidden=True)  # set by --workers for each worker it starts
def serve(host: str | None, port: int | None, agi_host: str | None, agi_port: int | None, workers: int | None,
          worker_index: int | None) -> None:
    """Run the service (web views, webhooks) with waitress, and the Asterisk FastAGI server beside it."""
    import waitress
    from flask import current_app

    from switchboard import workers as several
    from switchboard.asterisk import service as telephony

    svc = services()
    settings = svc.settings["service"]
    host, port = host or settings["host"], settings["port"] if port is None else port
    workers = settings["workers"] if workers is None else workers
    try:
        logs.configure(svc.settings)
    except ValueError as exc:  # a log.format or log.level that does not exist
        raise click.UsageError(str(exc)) from None
    if workers < 1:
        raise click.UsageError("--workers must be at least 1")
    if workers > 1 and worker_index is None:
        try:
            raise SystemExit(several.supervise(workers, host, port, agi_host, agi_port, say=click.echo))
        except ValueError as exc:
            raise click.UsageError(str(exc)) from None
    shared = worker_index is not None  # one of several workers: the ports are shared (SO_REUSEPORT)
    if shared:
        svc.health["worker"] = lambda: {"index": worker_index, "pid": os.getpid()}
    primary = worker_index in (None, 0)  # the once-only work: the reconciler and the PBX event watcher
    phones = telephony.start(svc, agi_host, agi_port, say=click.echo, shared_port=shared, watch_pbx=primary)
    if primary:
        reconciler = Reconciler(svc.sessions, svc.settings, platforms(phones), svc.clock.now)

        def reconcile() -> None:
            if phones.ami is not None:  # the first pass asks Asterisk too, when it answers within a few seconds
                phones.ami.connected.wait(10)
            reconciler.run_forever(phones.stopping)

        threading.Thread(target=reconcile, name="vaxel-reconcile", daemon=True).start()
        click.echo(f"reconciling calls the platforms no longer have: now and every "
                   f"{svc.settings['reconcile']['interval_seconds']} s")
    click.echo(f"vaxel serving on http://{host}:{port}/" + (f" (worker {worker_index})" if shared else ""))
    sizes = {"threads": settings["threads"], "connection_limit": settings["connections"]}
    try:
        if shared:
            waitress.serve(current_app._get_current_object(), sockets=[several.listen(host, port)], **sizes)
        else:
            waitress.serve(current_app._get_current_object(), host=host, port=port, **sizes)
    finally:
        phones.stop()


def platforms(phones) -> dict:
    """Whom the reconciler asks about each channel's calls; simulated and demo calls have no platform."""
    from switchboard.twilio.liveness import TwilioCalls

    return {"twilio": TwilioCalls.from_settings(services().settings), "asterisk": phones.platform()}


@click.command("reconcile")
@with_appcontext
@click.option("--at", "at_text", help="Pretend it is this ISO-8601 time (not in production mode).")
@click.option("--json", "as_json", is_flag=True, help="The pass's figures as JSON.")
def reconcile_command(at_text: str | None, as_json: bool) -> None:
    """One reconciliation pass: close calls that Twilio or Asterisk no longer has (`vaxel serve` runs it itself)."""
    from switchboard.asterisk.service import Telephony, ami_client

    svc = services()
    now = at_clock(at_text).now
    phones = Telephony(ami=ami_client(svc.settings))  # holds no FastAGI connection: every stale beat is stale
    if phones.ami is not None:
        phones.ami.start()
        phones.ami.connected.wait(10)  # so Asterisk is asked whether the caller is still there
    try:
        report = Reconciler(svc.sessions, svc.settings, platforms(phones), now).run_once()
    finally:
        phones.stop()
    if as_json:
        click.echo(json.dumps({**report.to_dict(), "closed_calls": report.closed, "unknown_calls": report.unknown}))
        return
    click.echo(f"checked {report.checked} stale calls: {len(report.closed)} closed, {report.alive} alive, "
               f"{len(report.unknown)} unknown; {report.orphan_entries} orphan queue entries closed")


def _describe(at: datetime, action) -> str:
    kind = action.kind
    clock = at.strftime("%H:%M:%S")
    if kind == "say":
        return f"[{clock}] SAY      ({action.prompt}) {action.text}"
    if kind == "gather":
        what = "a key" if action.max_digits == 1 else ("speech or keys" if "speech" in action.input else "keys")
        return f"[{clock}] LISTEN   for {what}, {action.timeout} s"
    if kind == "transfer":
        return f"[{clock}] TRANSFER to {action.name} ({action.number or action.extension}), rings {action.ring_timeout} s"
    if kind == "enqueue":
        returned = ", ahead of new callers" if action.returned else ""
        return (f"[{clock}] QUEUE    {action.queue}: position {action.position}, "
                f"about {round(action.estimated_wait / 60)} min{returned}")
    if kind == "bridged":
        return f"[{clock}] BRIDGED  the caller now talks to {action.party}"
    if kind == "callback":
        return f"[{clock}] CALLBACK request {action.request_id} for {action.number} ({action.when})"
    if kind == "hangup":
        return f"[{clock}] HANGUP   ({action.reason})"
    return f"[{clock}] {kind.upper():8} {getattr(action, 'text', '')}"


HINTS = {
    "menu": "a key (1, 2, 9), silence or hangup",
    "directory": "say:NAME-OR-SUBJECT, an extension like 4417#, silence or hangup",
    "directory_choice": "the key of a choice (1-3), 0 for the centre, silence or hangup",
    "target_offer": "1 for a callback (or the colleague offered, then 2 for a callback), silence (the centre) or hangup",
    "transfer": "ring:answered, ring:no-answer, ring:machine, ring:busy, ring:failed or hangup",
    "queue": "wait:SECONDS, operator or hangup",
    "queue_offer": "1 for a callback, silence, wait:SECONDS, operator or hangup",
    "closed_offer": "1 for a callback, silence or hangup",
    "callback_confirm": "1 (yes), 2 (another number), silence or hangup",
    "callback_enter": "a number ending in # (e.g. 0701740620#), silence or hangup",
    "bridged": "hangup or wait:SECONDS",
}


HIDDEN_CALLER = {"anonymous", "unknown", "restricted", "private", "unavailable"}


def _is_phone_number(text: str) -> bool:
    """A number someone can dial: '+46406280400' or '046-628 04 00' (read as Swedish)."""
    import phonenumbers

    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(text, "SE"))
    except phonenumbers.NumberParseException:
        return False


@click.command("call")
@with_appcontext
@click.argument("tokens", nargs=-1)
@click.option("--at", "at_text", help="The moment of the call, ISO-8601 (default: now).")
@click.option("--from", "caller", default="+46701740699", show_default=True, help="Caller id ('anonymous' = hidden).")
@click.option("--to", "called", default="+46406280400", show_default=True, help="The number the caller dialled.")
@click.option("--lang", type=click.Choice(["sv", "en"]), default=None, help="Language (default: the flow's first).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per action on stdout.")
def call(tokens: tuple[str, ...], at_text: str | None, caller: str, called: str, lang: str | None,
         as_json: bool) -> None:
    """Simulate one call through the published flow, without telephony.

    TOKENS, in order: digits (2, 123#), silence, say:TEXT, ring:answered|no-answer|busy|failed|machine,
    wait:SECONDS, operator, hangup. Without tokens the call is interactive.
    """
    svc = services()
    if not _is_phone_number(called):
        raise click.BadParameter(f"{called!r} is not a phone number, e.g. +46406280400", param_hint="'--to'")
    if caller.strip().lower() not in HIDDEN_CALLER and not _is_phone_number(caller):
        raise click.BadParameter(f"{caller!r} is not a phone number (or 'anonymous'), e.g. +46701740699",
                                 param_hint="'--from'")
    try:
        at = parse_instant(at_text, svc.clock.tz) if at_text else svc.clock.now()
        parse_script(tokens)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    runner = CallRunner(svc.sessions, svc.settings, channel="simulator")
    call_id = f"sim-{uuid.uuid4().hex[:12]}"
    sim = Simulation(runner, call_id, at, caller, called, lang)

    ask = None
    if not tokens:
        def ask(awaiting: str) -> str | None:
            try:
                return input(f"  you ({HINTS.get(awaiting, 'a token')}) > ")
            except EOFError:
                return None
    try:
        for emitted in sim.run(list(tokens), ask):
            if as_json:
                click.echo(json.dumps({**emitted.action.to_dict(), "at": emitted.at.isoformat()}, ensure_ascii=False))
            else:
                click.echo(_describe(emitted.at, emitted.action))
    except ScriptError as exc:
        runner.handle(call_id, Hangup(), sim.now)  # end the half-run call cleanly
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    if not as_json:
        click.echo(f"call id {call_id}; see `vaxel calls show {call_id}`")


def _call_summary(call: CallSession, events: int) -> dict:
    state = CallState.from_dict(call.state) if call.state else CallState()
    return {
        "call_id": call.call_id,
        "channel": call.channel,
        "started_at": call.started_at.isoformat(),
        "ended_at": call.ended_at.isoformat() if call.ended_at else None,
        "caller": call.caller,
        "called": call.called,
        "menu_choice": state.menu_choice,
        "status": "ended" if state.ended else state.awaiting,
        "events": events,
    }


@calls_cli.command("list")
@click.option("--since", help="Only calls started at or after this ISO-8601 time (default: the last 24 hours).")
@click.option("--limit", type=click.IntRange(0, 100_000), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def calls_list(since: str | None, limit: int, as_json: bool) -> None:
    """Calls, newest first."""
    svc = services()
    try:
        start = parse_instant(since, svc.clock.tz) if since else svc.clock.now() - timedelta(days=1)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    with svc.sessions() as session:
        counts = (select(CallEvent.call_id, func.count().label("n")).group_by(CallEvent.call_id).subquery())
        rows = session.execute(
            select(CallSession, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.call_id == CallSession.call_id)
            .where(CallSession.started_at >= start)
            .order_by(CallSession.started_at.desc()).limit(limit)
        ).all()
        summaries = [_call_summary(c, n) for c, n in rows]
    if as_json:
        for s in summaries:
            click.echo(json.dumps(s, ensure_ascii=False))
        return
    if not summaries:
        click.echo(f"no calls since {start.isoformat()}")
    for s in summaries:
        started = datetime.fromisoformat(s["started_at"]).astimezone(svc.clock.tz).strftime("%Y-%m-%d %H:%M:%S")
        click.echo(f"{started}  {s['call_id']:<20} {s['channel']:<9} {s['caller'] or 'dold':<14} "
                   f"{s['menu_choice'] or '-':<9} {s['status']:<8} {s['events']} events")


@calls_cli.command("show")
@click.argument("call_id", required=False)
@click.option("--last", is_flag=True, help="The most recent call.")
@click.option("--json", "as_json", is_flag=True)
def calls_show(call_id: str | None, last: bool, as_json: bool) -> None:
    """Every event of one call, in order."""
    if bool(call_id) == last:
        raise click.UsageError("give a CALL_ID or --last")
    svc = services()
    with svc.sessions() as session:
        if last:
            call = session.scalar(select(CallSession).order_by(CallSession.recorded_at.desc()).limit(1))
        else:
            call = session.get(CallSession, call_id)
        if call is None:
            click.echo(f"Error: no call {call_id!r}" if call_id else "Error: no calls yet", err=True)
            sys.exit(1)
        events = events_of(session, call.call_id)
        summary = _call_summary(call, len(events))
    if as_json:
        click.echo(json.dumps({**summary, "events": [
            {"at": e.at.isoformat(), "step": e.step, "type": e.type, "data": e.data} for e in events
        ]}, ensure_ascii=False))
        return
    click.echo(f"call {summary['call_id']} ({summary['channel']}) from {summary['caller'] or 'hidden number'} "
               f"to {summary['called']}: {summary['status']}")
    for e in events:
        at = e.at.astimezone(svc.clock.tz).strftime("%Y-%m-%d %H:%M:%S")
        details = ", ".join(f"{k}={v}" for k, v in e.data.items() if v not in (None, [], ""))
        click.echo(f"  {at}  {e.type:<18} {details}")


@user_cli.command("add")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "operator", "stats", "staff"]), required=True)
@click.option("--name", default="", help="Full name shown in the views.")
@click.option("--unit", default=None, help="Role staff: the id of the unit whose messages and callbacks they see.")
@click.option("--password", default=None, help="Omit to get a one-time password that must be changed at login.")
def user_add(username: str, role: str, name: str, unit: str | None, password: str | None) -> None:
    """Create an account."""
    from switchboard.auth import AuthError, add_user, one_time_password

    once = password is None
    password = password or one_time_password()
    with services().sessions() as session:
        try:
            add_user(session, username, role, password, name, must_change=once, unit=unit)
        except AuthError as exc:
            raise click.UsageError(str(exc)) from None
        audit.record(session, "cli", "user.add", "user", username, after={"role": role, "name": name,
                                                                           **({"unit": unit} if unit else {})})
        session.commit()
    click.echo(f"user {username} ({role}) created" + (f"; one-time password: {password}" if once else ""))


@user_cli.command("passwd")
@click.argument("username")
def user_passwd(username: str) -> None:
    """Give an account a new one-time password (and unlock it)."""
    from switchboard.auth import User, one_time_password, set_password

    with services().sessions() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.UsageError(f"no user {username!r}")
        password = one_time_password()
        set_password(user, password, must_change=True)
        audit.record(session, "cli", "user.passwd", "user", username)
        session.commit()
    click.echo(f"one-time password for {username}: {password}")


@user_cli.command("disable")
@click.argument("username")
def user_disable(username: str) -> None:
    """Disable an account; its sessions stop working at once."""
    from switchboard.auth import User

    with services().sessions() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise click.UsageError(f"no user {username!r}")
        user.active = False
        audit.record(session, "cli", "user.disable", "user", username, before={"active": True},
                     after={"active": False})
        session.commit()
    click.echo(f"user {username} disabled")


@user_cli.command("queues")
@click.argument("username")
@click.argument("queue", nargs=-1)
@click.option("--default", "to_default", is_flag=True, help="Serve the flow's default queue only (the centre).")
def user_queues(username: str, queue: tuple[str, ...], to_default: bool) -> None:
    """Show or set the queues an operator takes callers from, by name ("English") or id.

    Without QUEUE the current choice is shown; the default is the flow's default queue (the centre)."""
    from ivr import queues as flow_queues
    from switchboard.console import operators

    with services().sessions() as session:
        names = flow_queues.names(session)
        if queue or to_default:
            before = operators.queues_of(session, username)
            try:
                served = operators.set_queues(session, username, [] if to_default else list(queue))
            except operators.OperatorError as exc:
                raise click.UsageError(str(exc)) from exc
            audit.record(session, "cli", "user.queues", "user", username, before={"queues": before},
                         after={"queues": served})
            session.commit()
        elif username not in operators.served(session):
            raise click.UsageError(f"no operator or admin {username!r}")
        else:
            served = operators.queues_of(session, username)
    click.echo(f"{username} serves: " + ", ".join(names.get(q, q) for q in served))


@user_cli.command("list")
def user_list() -> None:
    """Accounts, their roles and state."""
    from switchboard.auth import User

    with services().sessions() as session:
        for user in session.scalars(select(User).order_by(User.username)):
            state = "active" if user.active else "disabled"
            click.echo(f"{user.username:<20} {user.role:<9} {state:<9} {user.name}")


@user_cli.command("ensure-admin")
def user_ensure_admin() -> None:
    """On a database without administrators, create `admin` with a one-time password (printed once)."""
    from switchboard.auth import User, add_user, one_time_password

    with services().sessions() as session:
        if session.scalar(select(User).where(User.role == "admin", User.active.is_(True))):
            return
        password = one_time_password()
        add_user(session, "admin", "admin", password, "Administratör", must_change=True)
        audit.record(session, "cli", "user.add", "user", "admin", after={"role": "admin", "first": True})
        session.commit()
    click.echo("=" * 72)
    click.echo(f"First administrator created: user 'admin', one-time password: {password}")
    click.echo("Log in at /login and choose your own password. This is shown only once.")
    click.echo("=" * 72)


@directory_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--prune", is_flag=True, help="Remove entries that are not in the file.")
@click.option("--dry-run", is_flag=True, help="Check the file and report, but write nothing.")
@click.option("--confirm-empty", is_flag=True,
              help="With --prune and a file without rows: really remove every entry.")
def directory_import(path: str, prune: bool, dry_run: bool, confirm_empty: bool) -> None:
    """Import staff and functions from CSV (columns in README); all or nothing. Audited like the web upload."""
    from pathlib import Path

    from directory import csv_io

    try:
        with open(path, encoding="utf-8-sig") as fh:
            text = fh.read()
    except UnicodeDecodeError:
        click.echo("Error: the file is not UTF-8 text; nothing was imported", err=True)
        sys.exit(1)
    with services().sessions() as session:
        try:
            result = csv_io.import_csv(session, text, prune=prune, dry_run=dry_run, confirm_empty=confirm_empty,
                                       audit_user="cli", audit_source=Path(path).name)
        except csv_io.EmptyPruneRefused as exc:
            for line in exc.errors:
                click.echo(line, err=True)
            click.echo("Error: nothing was imported; add --confirm-empty to empty the directory", err=True)
            sys.exit(1)
        except csv_io.ImportRejected as exc:
            for line in exc.errors:
                click.echo(line, err=True)
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
    prefix = "would import" if dry_run else "imported"
    click.echo(f"{prefix} {result.rows} rows: {result.created} new, {result.updated} changed, "
               f"{result.unchanged} unchanged, {result.removed} removed")


@directory_cli.command("export")
@click.argument("path", required=False)
def directory_export(path: str | None) -> None:
    """Export the whole directory as CSV (to PATH, or standard output)."""
    from directory import csv_io

    with services().sessions() as session:
        text = csv_io.export_csv(session)
    if path:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        click.echo(text, nl=False)


@directory_cli.command("search")
@click.argument("words", nargs=-1, required=True)
@click.option("--limit", default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def directory_search(words: tuple[str, ...], limit: int, as_json: bool) -> None:
    """Search the directory as operators do: name, keyword, unit, title or number."""
    from directory.query import synonyms_from
    from directory.search import search

    svc = services()
    with svc.sessions() as session:
        results = search(session, " ".join(words), svc.clock.now(), svc.clock.tz, svc.settings["hours"]["eve_close"],
                         limit=limit, synonyms=synonyms_from(svc.settings["directory"]["synonyms_file"]))
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in results], ensure_ascii=False, indent=1))
        return
    if not results:
        click.echo("no match")
    for r in results:
        hours = "open now" if r.open_now else f"closed, opens {r.opens[:16].replace('T', ' ')}"
        click.echo(f"{r.name:<32} {r.status_label:<12} {r.extension or '-':<6} {r.title[:28]:<28} {r.unit} ({hours})")
        if r.colleagues:
            click.echo(f"{'':<32} free colleagues: {', '.join(c.name for c in r.colleagues)}")


@demo_cli.command("traffic")
@click.option("--days", default=30, show_default=True, help="Days of traffic, ending yesterday.")
@click.option("--per-day", default=60, show_default=True, help="Calls on an ordinary weekday (fewer on Fridays).")
@click.option("--seed", default=2026, show_default=True, help="Random seed: the same seed gives the same calls.")
def demo_traffic(days: int, per_day: int, seed: int) -> None:
    """Generate realistic demo calls through the call engine (channel "demo") for the statistics."""
    svc = services()
    counts = traffic.generate(svc.sessions, svc.settings, svc.clock.now(), days=days, per_day=per_day, seed=seed,
                              progress=lambda day, n: click.echo(f"  {day}: {n} calls", err=True))
    click.echo(f"demo traffic: {counts['calls']} calls over {days} days ({counts['callbacks']} callbacks, "
               f"{counts['wrapups']} wrap-ups)")


@click.command("doctor")
@with_appcontext
@click.option("--timeout", default=5.0, show_default=True, type=click.FloatRange(0.5, 60),
              help="Seconds to wait for each server (AMI, Twilio, the mail server).")
def doctor_command(timeout: float) -> None:
    """Check this site's set-up and say what is wrong; exits 1 on any error (README "Production")."""
    from collections import Counter

    from switchboard import doctor

    levels: Counter[str] = Counter()
    for finding in doctor.run(services(), timeout):
        click.echo(finding.line())
        levels[finding.level] += 1
    click.echo(f"{sum(levels.values())} checks: {levels[doctor.OK]} ok, {levels[doctor.OFF]} off, "
               f"{levels[doctor.WARNING]} warning(s), {levels[doctor.ERROR]} error(s)")
    sys.exit(1 if levels[doctor.ERROR] else 0)


def register(app: Flask) -> None:
    from callback.cli import callbacks_cli

    for command in (db_cli, demo_cli, calls_cli, user_cli, directory_cli, serve, call, reconcile_command,
                    doctor_command):
        app.cli.add_command(command)
    app.cli.add_command(callbacks_cli)
    from switchboard.asterisk.cli import prompts_cli

    app.cli.add_command(prompts_cli)
    from stats.cli import stats_cli

    app.cli.add_command(stats_cli)
