"""``vaxel prompts build``: the published flow's prompts as audio files for Asterisk."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from ivr import flow as flows
from core.services import services
from switchboard.asterisk.prompts import build_flow, library_from_settings
from switchboard.seed import published_flow

prompts_cli = AppGroup("prompts", help="Prompt audio for Asterisk (espeak-ng and sox).")


@prompts_cli.command("build")
@click.option("--flow-file", type=click.Path(exists=True, dir_okay=False),
              help="Build from this flow file instead of the published flow in the database.")
def prompts_build(flow_file: str | None) -> None:
    """Turn every fixed prompt (Swedish and English), the queue words and numbers into 8 kHz WAV files."""
    svc = services()
    if flow_file:
        doc = flows.load_file(flow_file)
    else:
        with svc.sessions() as session:
            version = published_flow(session)
            if version is None:
                click.echo("Error: no published call flow; run `vaxel db upgrade` first", err=True)
                sys.exit(1)
            doc = version.document
    library = library_from_settings(svc.settings)
    missing = library.synthesizer.missing()
    if missing:
        click.echo(f"Error: {' and '.join(missing)} not found; install once with: apt-get install -y espeak-ng sox",
                   err=True)
        sys.exit(1)
    report = build_flow(svc.settings, doc, library)
    click.echo(report.line(str(library.root)))
    for problem in report.failed:
        click.echo(f"  failed: {problem}", err=True)
    if report.failed:
        sys.exit(1)
