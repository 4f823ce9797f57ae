"""``vaxel callbacks``: the operators' list, the dispatcher process, and retention by hand."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import click
from flask.cli import AppGroup

from callback import operators, outcomes, retention
from callback.dialer import OUTCOMES
from callback.dispatcher import Dispatcher, load_counter, load_dialer
from callback.dryrun import DryRunDialer
from core import logs
from core.services import services
from core.clock import Clock, parse_instant

callbacks_cli = AppGroup("callbacks", help="Callback requests: list them, run the dispatcher, purge old numbers.")

PURGE_AHEAD = timedelta(days=1)  # how far --at may run ahead of the real clock for a command that purges numbers
AT_HELP = "Pretend it is this ISO-8601 time (and let the clock run on from it); not in production mode."


def at_clock(at_text: str | None, purges: bool = False) -> Clock:
    """The clock ``--at`` asks for. A command that ``purges`` refuses a time more than a day after the real clock:
    pretending it is later would delete citizens' numbers before their retention has passed."""
    svc = services()
    if not at_text:
        return svc.clock
    if svc.settings["service"]["mode"] == "production":
        raise click.UsageError("--at is not allowed in production mode")
    try:
        moment = parse_instant(at_text, svc.clock.tz)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    if purges and moment > datetime.now(timezone.utc) + PURGE_AHEAD:
        raise click.UsageError(f"--at {at_text} is more than a day after the real clock: purging then would delete "
                               f"numbers before their retention has passed")
    return Clock(svc.clock.tz, moment)


def _dispatcher(dialer, clock: Clock, paced: bool = True) -> Dispatcher:
    """A dispatcher; ``paced`` counts free operators (a dry run and a simulation have none to count)."""
    svc = services()
    try:
        counter = load_counter(svc.settings) if paced else None
        return Dispatcher(svc.sessions, svc.settings, dialer, clock.now, free_operators=counter)
    except (ValueError, ImportError, AttributeError) as exc:  # a setting that cannot work, e.g. callback.order
        raise click.UsageError(str(exc)) from None


def _local(moment: datetime | None, tz) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else "-"


@callbacks_cli.command("list")
@click.option("--closed-hours", type=click.IntRange(0, 24 * 3660), default=24, show_default=True,
              help="Also show requests closed this recently.")
@click.option("--at", "at_text", help=AT_HELP)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per request.")
def callbacks_list(closed_hours: int, at_text: str | None, as_json: bool) -> None:
    """Requests to call back: failed first, then in the order they will be dialled."""
    svc = services()
    now = at_clock(at_text).now()
    with svc.sessions() as session:
        rows = operators.rows(session, now, svc.settings, closed_hours=closed_hours)
    if as_json:
        for row in rows:
            click.echo(json.dumps(row.to_dict(), ensure_ascii=False))
        return
    if not rows:
        click.echo("no callback requests")
        return
    tz = svc.clock.tz
    click.echo(f"{'id':>5}  {'number':<15} {'since':<16}  {'kind':<9} {'tries':<5} {'place':<5} {'for':<20} "
               f"{'reason':<15} {'status':<10} due")
    for row in rows:
        due = _local(row.due, tz) if row.due else ("at its turn" if row.status == "pending" else "-")
        note = f"  ({row.note})" if row.note else ""
        whom = (row.unit or row.target or "centre") + (" (unit answers)" if row.answered_by == "unit" else "")
        promise = f", promised by {_local(row.due_by, tz)}" if row.due_by else ""
        click.echo(f"{row.id:>5}  {row.number or '(purged)':<15} {_local(row.requested_at, tz):<16}  {row.kind:<9} "
                   f"{row.attempts}/{row.max_attempts:<3} {row.position or '-'!s:<5} {whom[:20]:<20} "
                   f"{(row.subject or row.reason_text)[:15]:<15} {row.status:<10} {due}{promise}{note}")


@callbacks_cli.command("run")
@click.option("--once", is_flag=True, help="One wake-up (dial what is due, purge), then exit.")
@click.option("--dry-run", is_flag=True, help="Only print what would be dialled now; nothing is claimed or written.")
@click.option("--simulate", type=click.Choice(OUTCOMES), default=None,
              help="Dial without telephony and report this outcome for every attempt (demos; not in production).")
@click.option("--at", "at_text", help=AT_HELP)
def callbacks_run(once: bool, dry_run: bool, simulate: str | None, at_text: str | None) -> None:
    """Run the dispatcher: ONE process next to `vaxel serve` (a second one is harmless but pointless)."""
    svc = services()
    clock = at_clock(at_text, purges=not dry_run)  # a run purges numbers (--once too); a dry run changes nothing
    try:
        logs.configure(svc.settings)
    except ValueError as exc:  # a log.format or log.level that does not exist
        raise click.UsageError(str(exc)) from None
    if dry_run:
        calls = _dispatcher(DryRunDialer(click.echo), clock, paced=False).preview()
        click.echo(f"dry run at {clock.now().isoformat(timespec='seconds')}: {len(calls)} callback(s) due; "
                   f"nothing was dialled or changed")
        return
    on_outcome = outcomes.handler(svc.sessions, svc.settings, clock.now)
    if simulate:
        if svc.settings["service"]["mode"] == "production":
            raise click.UsageError("--simulate is not allowed in production mode")
        dialer = DryRunDialer(click.echo, on_outcome, simulate)
    else:
        try:
            dialer = load_dialer(svc.settings, on_outcome)
        except (ValueError, ImportError, AttributeError) as exc:
            raise click.UsageError(str(exc)) from None
    dispatcher = _dispatcher(dialer, clock, paced=not simulate)
    if once:
        report = dispatcher.tick()
        purged = dispatcher.purge()
        click.echo(f"dialled {len(report.dialled)}, released {len(report.released)} expired claim(s), "
                   f"{len(report.expired)} call(s) without outcome, purged {purged} number(s)")
        return
    click.echo(f"callback dispatcher {dispatcher.worker} with dialer {getattr(dialer, 'name', type(dialer).__name__)}"
               f", waking every {svc.settings['callback']['poll_seconds']} s; Ctrl-C or SIGTERM stops it")
    try:
        dispatcher.run()
    except (KeyboardInterrupt, SystemExit):
        pass


@callbacks_cli.command("purge")
@click.option("--at", "at_text", help=AT_HELP)
def callbacks_purge(at_text: str | None) -> None:
    """Delete the numbers of requests closed longer ago than callback.retention_days (counts are kept)."""
    svc = services()
    days = svc.settings["callback"]["retention_days"]
    with svc.sessions() as session:
        purged = retention.purge(session, at_clock(at_text, purges=True).now(), days)
    click.echo(f"purged the numbers of {purged} request(s) closed more than {days} days ago")
