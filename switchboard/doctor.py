"""``vaxel doctor``: checks a site's set-up and says in plain words what is wrong, before a citizen finds out.

Every check gives one :class:`Finding`: ``ok``, ``off`` (not used at this site, said so), ``warning`` (works,
but not as a production site should) or ``error`` (a caller or an operator would notice). The command prints
every finding and exits 1 when any is an error, so it can gate a deployment or run from monitoring.

Checks talk to the real things — the database, Asterisk's AMI, Twilio's REST API, the mail server — with
short timeouts, and never change anything.
"""

from __future__ import annotations

import os
import smtplib
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable, Iterator

from sqlalchemy import text

from core.services import Services

OK, OFF, WARNING, ERROR = "ok", "off", "warning", "error"


@dataclass(frozen=True)
class Finding:
    level: str
    check: str
    text: str

    def line(self) -> str:
        return f"{self.level.upper() if self.level == ERROR else self.level:<8} {self.check:<13} {self.text}"


@dataclass
class Site:
    services: Services
    timeout: float
    database_ok: bool = False

    @property
    def settings(self) -> dict:
        return self.services.settings


def _why(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


# -- the database and what it must hold --------------------------------------------------------------------------


def database(site: Site) -> Iterator[Finding]:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from switchboard.db import alembic_config

    engine = site.services.engine
    where = engine.url.render_as_string(hide_password=True)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(conn).get_current_heads())
    except Exception as exc:
        yield Finding(ERROR, "database", f"cannot reach the database at {where} ({_why(exc)}): no call can be "
                      "handled; is the server running, and are VAXEL_DATABASE_URL and its password right?")
        return
    script = ScriptDirectory.from_config(alembic_config(engine.url.render_as_string(hide_password=False)))
    heads = set(script.get_heads())
    applied = {r.revision for r in script.iterate_revisions(tuple(current), "base")} if current else set()
    if not current:
        yield Finding(ERROR, "database", f"reachable at {where} but empty (no schema): run `vaxel db upgrade`")
    elif not heads <= applied:
        yield Finding(ERROR, "database", f"reachable at {where}, but migration(s) {', '.join(sorted(heads - applied))}"
                      " of this release are not applied: run `vaxel db upgrade`")
    else:
        site.database_ok = True
        yield Finding(OK, "database", f"reachable at {where}, schema up to date ({', '.join(sorted(heads))})")


def flow(site: Site) -> Iterator[Finding]:
    from switchboard.seed import published_flow

    if not site.database_ok:
        yield Finding(ERROR, "call flow", "not checked: the database is not ready (above)")
        return
    with site.services.sessions() as session:
        version = published_flow(session)
    if version is None:
        yield Finding(ERROR, "call flow", "no published call flow: callers would go straight to the operators; "
                      "run `vaxel db upgrade` or publish one at /admin/flow")
    else:
        yield Finding(OK, "call flow", f"version {version.version} is published")


def phone_hours(site: Site) -> Iterator[Finding]:
    from ivr import schedules
    from ivr.hours import day_hours

    if not site.database_ok:
        yield Finding(ERROR, "phone hours", "not checked: the database is not ready (above)")
        return
    svc = site.services
    now = svc.clock.now()
    monday = now.astimezone(svc.clock.tz).date() - timedelta(days=now.astimezone(svc.clock.tz).weekday())
    with svc.sessions() as session:
        schedule = schedules.load(session, "switchboard", svc.clock.tz, svc.settings["hours"]["eve_close"], now)
    days = []
    for offset in range(7):
        day = monday + timedelta(days=offset)
        spans = day_hours(schedule, day).spans
        if spans:
            days.append(f"{day:%a} {spans[0][0]:%H:%M}-{spans[-1][1]:%H:%M}")
    week = f"week of {monday:%Y-%m-%d}"
    if not days:
        yield Finding(ERROR, "phone hours", f"the switchboard has no phone hours in the {week}: every caller hears "
                      "that it is closed; set them at /admin/hours")
    else:
        yield Finding(OK, "phone hours", f"{week}: {', '.join(days)}")


# -- Asterisk -----------------------------------------------------------------------------------------------------


def prompts(site: Site) -> Iterator[Finding]:
    from switchboard.asterisk.prompts import library_from_settings, texts_of_flow
    from switchboard.seed import published_flow

    ast, uses_asterisk = site.settings["asterisk"], bool(site.settings["ami"]["host"])
    if not uses_asterisk and site.settings["twilio"]["enabled"]:
        yield Finding(OFF, "prompts", "Twilio speaks the prompts itself (no AMI host: Asterisk not used)")
        return
    if not site.database_ok:
        yield Finding(ERROR if uses_asterisk else WARNING, "prompts", "not checked: the database is not ready")
        return
    library = library_from_settings(site.settings)
    with site.services.sessions() as session:
        version = published_flow(session)
    wanted = texts_of_flow(version.document) if version else []
    missing = [t for t in wanted if not library.wav(*t).is_file()]
    tools = library.synthesizer.missing()
    level = ERROR if uses_asterisk else WARNING
    if missing:
        yield Finding(level, "prompts", f"{len(missing)} of {len(wanted)} prompt files for the published flow are "
                      f"missing in {ast['sounds_dir']}: run `vaxel prompts build` (Asterisk plays files, not text)")
    else:
        yield Finding(OK, "prompts", f"all {len(wanted)} prompt files built in {ast['sounds_dir']}")
    if tools:
        yield Finding(level, "prompts", f"{', '.join(tools)} not found: texts with names and hours cannot be "
                      "spoken; install espeak-ng and sox")


def ami(site: Site) -> Iterator[Finding]:
    from switchboard.asterisk.ami import AmiClient, AmiError
    from switchboard.asterisk.mapping import app_queue_name

    cfg = site.settings["ami"]
    if not cfg["host"]:
        yield Finding(OFF, "ami", "not configured (ami.host empty): no PBX presence, no Asterisk callbacks, no "
                      "operator log-in from vaxel")
        return
    client = AmiClient(cfg["host"], cfg["port"], cfg["user"], cfg.get("secret"), timeout=site.timeout)
    where = f"{cfg['host']}:{cfg['port']}"
    try:
        try:
            booted = client.probe(site.timeout)
        except Exception as exc:
            refused = isinstance(exc, AmiError)  # Asterisk answered, and said no
            hint = ("check VAXEL_AMI_SECRET against the secret in manager_vaxel.conf, and its permit line"
                    if refused else "is Asterisk running, and may this host reach its AMI port?")
            yield Finding(ERROR, "ami", f"cannot log in to AMI at {where} as {cfg['user']!r} ({_why(exc)}): {hint}")
            return
        if booted:
            yield Finding(OK, "ami", f"logged in to {where} as {cfg['user']!r}; Asterisk is fully booted")
        else:
            yield Finding(ERROR, "ami", f"logged in to {where}, but Asterisk sent no FullyBooted within "
                          f"{site.timeout:g} s: still starting, or the AMI user lacks `read = system`")
        queues = ["centre"]
        if site.database_ok:  # every queue of the flow must be an app_queue (queues_vaxel.conf)
            from ivr import queues as flow_queues

            with site.services.sessions() as session:
                queues = list(flow_queues.names(session))
        for queue in map(app_queue_name, queues):
            try:
                listed = client.listing("QueueStatus", Queue=queue)
            except Exception as exc:
                yield Finding(ERROR, "queue", f"could not ask Asterisk about queue {queue} ({_why(exc)})")
                return
            params = [e for e in listed if e.get("Event") == "QueueParams" and e.get("Queue") == queue]
            members = [e for e in listed if e.get("Event") == "QueueMember" and e.get("Queue") == queue]
            if not params:
                yield Finding(ERROR, "queue", f"Asterisk has no queue {queue}: callers who wait there would fail; "
                              "add it to queues_vaxel.conf and run `module reload app_queue.so`")
            else:
                yield Finding(OK, "queue", f"{queue} exists in Asterisk with {len(members)} member(s)")
    finally:
        client.stop()


# -- Twilio -------------------------------------------------------------------------------------------------------


def twilio(site: Site) -> Iterator[Finding]:
    from twilio.base.exceptions import TwilioException, TwilioRestException
    from twilio.http.http_client import TwilioHttpClient

    from switchboard.twilio import rest

    cfg = site.settings["twilio"]
    if not cfg["enabled"]:
        yield Finding(OFF, "twilio", "not enabled (twilio.enabled = false)")
        return
    client = rest.client(site.settings, TwilioHttpClient(timeout=site.timeout))
    if client is None:
        yield Finding(ERROR, "twilio", f"{rest.MISSING}: webhook signatures cannot be checked, callbacks not placed")
        return
    account = os.environ["TWILIO_ACCOUNT_SID"]
    try:
        client.api.v2010.accounts(account).fetch()
        numbers = client.incoming_phone_numbers.list(limit=1000)
    except TwilioRestException as exc:
        why = ("Twilio refused the credentials: check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
               if exc.status in (401, 403) else f"Twilio answered {exc.status}: {exc.msg}")
        yield Finding(ERROR, "twilio", why)
        return
    except (TwilioException, OSError) as exc:
        yield Finding(ERROR, "twilio", f"cannot reach Twilio's API at {cfg['api_url']} ({_why(exc)})")
        return
    yield Finding(OK, "twilio", f"credentials accepted for account {account[:6]}...; {len(numbers)} number(s)")
    yield from _public_url(site, [(n.phone_number, n.voice_url or "") for n in numbers])
    if not cfg["validate_signatures"]:
        yield Finding(WARNING, "twilio", "twilio.validate_signatures = false: anyone who reaches /twilio can drive "
                      "calls (development only; production refuses to start)")


def _public_url(site: Site, numbers: list[tuple[str, str]]) -> Iterator[Finding]:
    """Twilio signs the URL it requests — the number's voice URL — so that must be ``public.url`` + /twilio/voice."""
    public = site.settings["public"]["url"].rstrip("/")
    ours = [(number, url) for number, url in numbers if url.split("?")[0].rstrip("/").endswith("/twilio/voice")]
    if not public:
        yield Finding(ERROR, "public url", "public.url (VAXEL_PUBLIC_URL) is empty: behind a proxy vaxel would "
                      "check Twilio's signatures against its internal address and refuse every call")
        return
    expected = f"{public}/twilio/voice"
    wrong = [(n, u) for n, u in ours if u.split("?")[0].rstrip("/") != expected]
    if not ours:
        seen = ", ".join(f"{n} -> {u or '(none)'}" for n, u in numbers) or "no numbers on the account"
        yield Finding(ERROR, "public url", f"no Twilio number sends its calls to {expected} ({seen})")
    for number, url in wrong:
        yield Finding(ERROR, "public url", f"{number} sends calls to {url}, but public.url is {public}: Twilio signs "
                      f"the address it calls, so every webhook would be refused (403); set one to match the other")
    if ours and not wrong:
        yield Finding(OK, "public url", f"{', '.join(n for n, _ in ours)} -> {expected}, as public.url says")


# -- e-mail, secrets and production mode ------------------------------------------------------------------------


def smtp(site: Site) -> Iterator[Finding]:
    cfg = site.settings["smtp"]
    if not cfg["host"]:
        yield Finding(OFF, "smtp", "e-mail off (smtp.host empty)")
        return
    where = f"{cfg['host']}:{cfg['port']}"
    try:
        with smtplib.SMTP(cfg["host"], int(cfg["port"]), timeout=min(site.timeout, cfg["timeout_seconds"])) as mail:
            mail.ehlo()
            if cfg["starttls"]:
                mail.starttls()
                mail.ehlo()
            if cfg["username"]:
                mail.login(cfg["username"], cfg["password"])
    except (smtplib.SMTPException, OSError) as exc:
        yield Finding(ERROR, "smtp", f"mail server {where} failed ({_why(exc)}): no e-mail will be sent")
        return
    done = " with STARTTLS" if cfg["starttls"] else ""
    done += f", logged in as {cfg['username']!r}" if cfg["username"] else ""
    yield Finding(OK, "smtp", f"mail server {where} answered{done}")


def secret_key(site: Site) -> Iterator[Finding]:
    from switchboard.app import check_secret_key

    production = site.settings["service"]["mode"] == "production"
    secret = site.settings["service"]["secret_key"]
    if not secret:
        yield Finding(ERROR if production else WARNING, "secret key", "VAXEL_SERVICE_SECRET_KEY is not set: a "
                      "random one per start logs everyone out at each restart (production refuses to start)")
        return
    try:
        check_secret_key(secret)
    except RuntimeError as exc:
        yield Finding(ERROR if production else WARNING, "secret key", str(exc))
        return
    yield Finding(OK, "secret key", "set, and strong enough for production")


def production(site: Site) -> Iterator[Finding]:
    """What production mode refuses (README "Production checklist"), said before a start fails."""
    from stats import retention

    settings = site.settings
    if settings["service"]["mode"] != "production":
        yield Finding(WARNING, "mode", f"{settings['service']['mode']} mode: set VAXEL_SERVICE_MODE=production on "
                      "a live site (real clock only, Secure cookies, the checks below enforced)")
    else:
        yield Finding(OK, "mode", "production")
    level = ERROR if settings["service"]["mode"] == "production" else WARNING
    try:
        retention.key_from()
        yield Finding(OK, "retention", "VAXEL_STATS_PSEUDONYM_KEY is set: old caller numbers can be pseudonymised")
    except retention.RetentionError as exc:
        yield Finding(level, "retention", f"{exc}; without it caller numbers are kept past stats.retention_days")
    if settings["twilio"]["enabled"] and not settings["twilio"]["operators"]:
        yield Finding(level, "operators", "twilio.operators is empty: the Twilio operator line refuses everyone")
    if os.environ.get("VAXEL_NOW") and settings["service"]["mode"] == "production":
        yield Finding(WARNING, "clock", "VAXEL_NOW is set but ignored in production mode")
    if not settings["callback"]["dialer"]:
        yield Finding(WARNING, "callbacks", "callback.dialer is empty: promised callbacks are listed but never "
                      "dialled (VAXEL_CALLBACK_DIALER)")


CHECKS: tuple[Callable[[Site], Iterator[Finding]], ...] = (
    database, flow, phone_hours, prompts, ami, twilio, smtp, secret_key, production)


def run(services: Services, timeout: float = 5.0) -> Iterator[Finding]:
    """Every check in order, each finding as soon as it is known (a slow server is seen to be slow)."""
    site = Site(services, timeout)
    for check in CHECKS:
        try:
            yield from check(site)
        except Exception as exc:  # a check that breaks is itself a finding, never a traceback
            yield Finding(ERROR, check.__name__, f"the check failed: {_why(exc)}")
