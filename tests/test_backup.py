"""Backups and restores as README "Production" tells a site to make them: the backup unit's own ``pg_dump`` line
and ``pg_restore`` on PostgreSQL, ``sqlite3 .backup`` on SQLite; the restored database answers as the original."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text

from switchboard import db
from tests.test_upgrade import app_on, fill_with_demo_traffic

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("VAXEL_TEST_DATABASE_URL")
LISTING = ["calls", "list", "--since", "2026-11-01T00:00", "--limit", "100000", "--json"]

pytestmark = pytest.mark.db


def calls_listed(url: str) -> str:
    app = app_on(url)
    try:
        return app.test_cli_runner().invoke(args=LISTING).output
    finally:
        app.extensions["vaxel"].engine.dispose()


def backup_command(directory: Path) -> str:
    """The ExecStart of deploy/systemd/vaxel-backup.service, as systemd runs it (``%%`` is a ``%``)."""
    unit = (ROOT / "deploy" / "systemd" / "vaxel-backup.service").read_text()
    line = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    command = line.removeprefix("ExecStart=/bin/sh -c ").strip("'").replace("%%", "%")
    return command.replace("/var/backups/vaxel", str(directory))


@pytest.mark.skipif(not PG_URL or not shutil.which("pg_dump"), reason="PostgreSQL (make test-postgres) and pg_dump")
def test_the_nightly_pg_dump_restores_to_the_same_calls(tmp_path):
    server = urlsplit(PG_URL.split("?")[0])
    names = [f"vaxel_backup_{uuid.uuid4().hex[:8]}", f"vaxel_restore_{uuid.uuid4().hex[:8]}"]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in names:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    live, restored = (PG_URL.split("?")[0].rsplit("/", 1)[0] + f"/{name}" for name in names)
    env = {**os.environ, "PGHOST": server.hostname, "PGPORT": str(server.port or 5432),
           "PGUSER": server.username or "postgres", "PGDATABASE": names[0]}
    try:
        db.upgrade(live)
        fill_with_demo_traffic(live)
        subprocess.run(["/bin/sh", "-c", backup_command(tmp_path)], env=env, check=True, timeout=120)
        (dump,) = tmp_path.glob("vaxel-*.dump")
        subprocess.run(["pg_restore", "--no-owner", f"--dbname={names[1]}", str(dump)], env=env, check=True,
                       timeout=120)
        listed = calls_listed(live)
        assert listed.count("\n") > 30 and calls_listed(restored) == listed
        doctor = app_on(restored).test_cli_runner().invoke(args=["doctor", "--timeout", "2"])
        assert doctor.output.startswith("ok       database")  # migrated as the original
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.mark.skipif(PG_URL is not None or not shutil.which("sqlite3"), reason="SQLite runs and the sqlite3 tool")
def test_an_sqlite_backup_taken_while_serving_restores_to_the_same_calls(tmp_path):
    live = tmp_path / "vaxel.db"
    db.upgrade(f"sqlite:///{live}")
    fill_with_demo_traffic(f"sqlite:///{live}")
    serving = app_on(f"sqlite:///{live}")  # a connection open, as under `vaxel serve`
    with serving.extensions["vaxel"].engine.connect() as conn:
        conn.execute(text("SELECT count(*) FROM call_events"))
        subprocess.run(["sqlite3", str(live), f".backup '{tmp_path / 'copy.db'}'"], check=True, timeout=60)
    serving.extensions["vaxel"].engine.dispose()
    restored = tmp_path / "restored" / "vaxel.db"
    restored.parent.mkdir()
    shutil.copy(tmp_path / "copy.db", restored)
    listed = calls_listed(f"sqlite:///{live}")
    assert listed.count("\n") > 30 and calls_listed(f"sqlite:///{restored}") == listed
