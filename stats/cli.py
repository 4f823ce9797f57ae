"""``vaxel stats``: reports, the raw data file, rebuilding facts, retention."""

from __future__ import annotations

import sys
from typing import Callable

import click
from flask.cli import AppGroup

from stats import export, facts, report, retention
from stats.definitions import Definitions
from core import logs
from core.services import services

stats_cli = AppGroup("stats", help="Statistics: service targets, reports, the raw data file, retention.")


def _filter_options(command: Callable) -> Callable:
    for option in reversed([
        click.option("--from", "from_", help="First local date, YYYY-MM-DD (default: 30 days before --to)."),
        click.option("--to", help="Last local date, inclusive (default: today)."),
        click.option("--weekday", help="Only these weekdays: 1-7 or mon..sun, comma separated."),
        click.option("--hours", help="Only calls starting in these hours, FROM-TO, e.g. 8-12 (08:00-11:59)."),
        click.option("--called", help="Only calls to these entry numbers (E.164, comma separated)."),
        click.option("--queue", help="Only calls queued in this queue, by its name (\"English\") or id."),
        click.option("--department", help="Only calls transferred to this unit (slug of a förvaltning, "
                                           "avdelning or enhet)."),
    ]):
        command = option(command)
    return command


def _filters(from_, to, weekday, hours, called, queue, department) -> report.Filters:
    try:
        if queue:
            with services().sessions() as session:
                queue = report.queue_named(session, queue)
        return report.Filters.parse(dict(**{"from": from_}, to=to, weekday=weekday, hours=hours, called=called,
                                         queue=queue, department=department), services().clock.now().date())
    except report.FilterError as exc:
        raise click.UsageError(str(exc)) from None


def _write(chunks, output: str | None) -> None:
    if output:
        with open(output, "w", encoding="utf-8", newline="") as fh:
            for chunk in chunks:
                fh.write(chunk)
    else:
        for chunk in chunks:
            click.echo(chunk, nl=False)


@stats_cli.command("report")
@_filter_options
@click.option("--format", "fmt", type=click.Choice(export.FORMATS), default="table", show_default=True)
@click.option("--output", "-o", help="Write to this file instead of standard output.")
def stats_report(from_, to, weekday, hours, called, queue, department, fmt: str, output: str | None) -> None:
    """Every figure for a date range: service targets, calls, waits, transfers, callbacks, menu, directory."""
    svc = services()
    f = _filters(from_, to, weekday, hours, called, queue, department)
    with svc.sessions() as session:
        data = report.build(session, f, Definitions.from_settings(svc.settings))
    text = {"table": export.to_table, "csv": export.to_csv, "json": lambda r: export.to_json(r) + "\n"}[fmt](data)
    _write([text], output)


@stats_cli.command("calls")
@_filter_options
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--personal", is_flag=True, help="Include caller numbers, operators and directory queries "
                                               "(personal data: only when an administrator needs them).")
@click.option("--output", "-o", help="Write to this file instead of standard output.")
def stats_calls(from_, to, weekday, hours, called, queue, department, fmt: str, personal: bool,
                output: str | None) -> None:
    """The raw data file (rådatafil): one row per call with its timeline and outcome."""
    svc = services()
    f = _filters(from_, to, weekday, hours, called, queue, department)
    d = Definitions.from_settings(svc.settings)
    with svc.sessions() as session:
        rows = export.raw_rows(session, f, d, personal)
        _write(export.raw_csv(rows, personal) if fmt == "csv" else export.raw_json(rows), output)


@stats_cli.command("rebuild")
def stats_rebuild() -> None:
    """Recompute every call's facts from the event log (after an upgrade, or to repair)."""
    svc = services()
    done = facts.rebuild(svc.sessions, progress=lambda n: click.echo(f"  {n} calls", err=True) if n % 50000 == 0
                         else None, definitions=Definitions.from_settings(svc.settings))
    click.echo(f"rebuilt the facts of {done} calls from the event log, and the daily rollups")


@stats_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Only count what would be pseudonymised.")
def stats_purge(dry_run: bool) -> None:
    """Pseudonymise caller numbers of calls older than stats.retention_days (counts stay correct)."""
    svc = services()
    days = svc.settings["stats"]["retention_days"]
    try:
        key = None if dry_run else retention.key_from()
        with svc.sessions() as session:
            done = retention.purge(session, svc.clock.now(), days, key, dry_run=dry_run)
    except retention.RetentionError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    verb = "would pseudonymise" if dry_run else "pseudonymised"
    click.echo(f"{verb} the caller numbers of {done.events} call event(s) and {done.sessions} call(s) "
               f"started before {done.cutoff.astimezone(svc.clock.tz):%Y-%m-%d %H:%M} ({days} days)")


@stats_cli.command("run")
def stats_run() -> None:
    """Run the retention job every hour in this one process (or call `vaxel stats purge` from cron)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    svc = services()
    try:
        logs.configure(svc.settings)
    except ValueError as exc:  # a log.format or log.level that does not exist
        raise click.UsageError(str(exc)) from None
    try:
        retention.key_from()
    except retention.RetentionError as exc:
        raise click.UsageError(str(exc)) from None
    scheduler = BlockingScheduler(timezone=svc.clock.tz)
    retention.schedule(scheduler, svc.sessions, svc.settings, svc.clock.now)
    click.echo("stats retention job: every hour; Ctrl-C stops it")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
