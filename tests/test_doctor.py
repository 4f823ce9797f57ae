"""``vaxel doctor``: every check printed, exit 0 on the demo set-up; each broken part named, exit 1.

The parts are real: the database (an address nothing listens on), the fake AMI over TCP with the wrong
secret, a local HTTP server answering as Twilio's REST API does, a local SMTP server.
"""

from __future__ import annotations

import base64
import json
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from switchboard.app import create_app
from tests.fakes.fake_ami import FakeAmi

ACCOUNT, TOKEN = "AC" + "d" * 32, "doctor-twilio-token"
PUBLIC = "https://vaxel.sjobacka.se"
CHECKS = ("database", "call flow", "phone hours", "prompts", "ami", "twilio", "smtp", "secret key", "mode")


def doctor(app, *args: str):
    return app.test_cli_runner().invoke(args=["doctor", "--timeout", "3", *args])


def lines_of(result, check: str) -> list[str]:
    return [line for line in result.output.splitlines() if line[9:].startswith(check)]


def test_the_demo_set_up_passes_and_every_check_is_printed(app, tmp_path):
    app.extensions["vaxel"].settings["asterisk"]["sounds_dir"] = str(tmp_path / "sounds")
    result = doctor(app)
    assert result.exit_code == 0, result.output
    for check in CHECKS:
        assert lines_of(result, check), check
    assert lines_of(result, "database")[0].startswith("ok ") and "schema up to date" in result.output
    assert lines_of(result, "call flow")[0] == "ok       call flow     version 1 is published"
    assert "Mon 08:00-17:00" in lines_of(result, "phone hours")[0]
    assert lines_of(result, "ami")[0].startswith("off ") and lines_of(result, "smtp")[0].startswith("off ")
    assert "error" not in result.output.lower().split("warning(s), ")[0]
    assert result.output.splitlines()[-1].endswith(", 0 error(s)")


def test_a_database_that_cannot_be_reached_is_named_and_fails():
    app = create_app({"database": {"url": "postgresql+psycopg://vaxel@127.0.0.1:1/vaxel"}})
    result = doctor(app)
    assert result.exit_code == 1
    (line,) = lines_of(result, "database")
    assert line.startswith("ERROR    database      cannot reach the database at postgresql+psycopg://vaxel@127.0.0.1:1")
    assert "not checked" in lines_of(result, "call flow")[0]


def test_a_database_not_migrated_is_named(tmp_path):
    app = create_app({"database": {"url": f"sqlite:///{tmp_path / 'empty.db'}"}})
    result = doctor(app)
    assert result.exit_code == 1 and "empty (no schema): run `vaxel db upgrade`" in result.output


def test_a_published_flow_missing_and_no_phone_hours_are_errors(app):
    from sqlalchemy import update

    from ivr.models import FlowVersion, PhoneHours

    svc = app.extensions["vaxel"]
    with svc.sessions() as session:
        session.execute(update(PhoneHours).where(PhoneHours.key == "switchboard").values(weekly={}))
        session.execute(update(FlowVersion).values(status="archived"))
        session.commit()
    result = doctor(app)
    assert result.exit_code == 1
    assert lines_of(result, "call flow")[0].startswith("ERROR    call flow     no published call flow")
    assert lines_of(result, "phone hours")[0].startswith("ERROR    phone hours   the switchboard has no phone hours")


def test_ami_logged_in_booted_and_the_queue_found(app, tmp_path):
    ami = FakeAmi(queues={"vaxel-centre"})
    app.extensions["vaxel"].settings["ami"].update(host="127.0.0.1", port=ami.port, secret=ami.secret)
    app.extensions["vaxel"].settings["asterisk"]["sounds_dir"] = str(tmp_path / "sounds")
    result = doctor(app)
    assert lines_of(result, "ami")[0] == (f"ok       ami           logged in to 127.0.0.1:{ami.port} as 'vaxel'; "
                                          "Asterisk is fully booted")
    queues = lines_of(result, "queue")
    assert any(line.startswith("ok       queue         vaxel-centre exists in Asterisk") for line in queues)
    # every queue of the flow must be an app_queue: the ones Asterisk lacks are named
    assert {line.split("no queue ")[1].split(":")[0] for line in queues if "has no queue" in line} == {
        "vaxel-english", "vaxel-bygg"}
    # with AMI configured this is an Asterisk site: prompts not built is an error, not a warning
    assert lines_of(result, "prompts")[0].startswith("ERROR    prompts       ")
    assert "prompt files for the published flow are missing" in lines_of(result, "prompts")[0]
    assert result.exit_code == 1


def test_a_wrong_ami_secret_is_named_and_fails(app):
    ami = FakeAmi(secret="the-right-secret")
    app.extensions["vaxel"].settings["ami"].update(host="127.0.0.1", port=ami.port, secret="a-wrong-secret")
    result = doctor(app)
    assert result.exit_code == 1
    (line,) = lines_of(result, "ami")
    assert line.startswith(f"ERROR    ami           cannot log in to AMI at 127.0.0.1:{ami.port} as 'vaxel'")
    assert "Authentication failed" in line and "VAXEL_AMI_SECRET" in line
    assert "a-wrong-secret" not in result.output


def test_asterisk_without_the_vaxel_queue_is_named(app):
    ami = FakeAmi(queues={"some-other-queue"})
    app.extensions["vaxel"].settings["ami"].update(host="127.0.0.1", port=ami.port, secret=ami.secret)
    result = doctor(app)
    assert lines_of(result, "queue")[0].startswith("ERROR    queue         Asterisk has no queue vaxel-centre")
    assert result.exit_code == 1


def test_ami_unreachable_is_named(app):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app.extensions["vaxel"].settings["ami"].update(host="127.0.0.1", port=port, secret="x")
    result = doctor(app)
    assert "cannot log in to AMI" in lines_of(result, "ami")[0] and "is Asterisk running" in result.output


class FakeTwilioApi(ThreadingHTTPServer):
    """Twilio's REST API as far as the doctor reads it: the account, and the numbers with their voice URLs."""

    def __init__(self, voice_url: str):
        self.voice_url = voice_url
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), TwilioHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class TwilioHandler(BaseHTTPRequestHandler):
    server: FakeTwilioApi

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.server.requests.append(self.path)
        expected = "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            return self.reply(401, {"code": 20003, "message": "Authenticate", "more_info":
                                    "https://www.twilio.com/docs/errors/20003", "status": 401})
        path = self.path.split("?")[0]
        if path == f"/2010-04-01/Accounts/{ACCOUNT}.json":
            return self.reply(200, {"sid": ACCOUNT, "friendly_name": "Sjöbacka kommun", "status": "active"})
        if path == f"/2010-04-01/Accounts/{ACCOUNT}/IncomingPhoneNumbers.json":
            number = {"sid": "PN" + "1" * 32, "account_sid": ACCOUNT, "phone_number": "+46406280400",
                      "friendly_name": "Växeln", "voice_url": self.server.voice_url, "voice_method": "POST"}
            return self.reply(200, {"incoming_phone_numbers": [number], "page": 0, "page_size": 50,
                                    "first_page_uri": path, "next_page_uri": None, "previous_page_uri": None,
                                    "uri": path, "start": 0, "end": 0})
        self.reply(404, {"code": 20404, "message": "not found", "status": 404})

    def reply(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def twilio_site(app, monkeypatch):
    servers: list[FakeTwilioApi] = []

    def make(voice_url: str, token: str = TOKEN) -> FakeTwilioApi:
        api = FakeTwilioApi(voice_url)
        servers.append(api)
        monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
        monkeypatch.setenv("TWILIO_AUTH_TOKEN", token)
        settings = app.extensions["vaxel"].settings
        settings["twilio"].update(enabled=True, api_url=api.url, operators=["+46701740600"])
        settings["public"]["url"] = PUBLIC
        return api

    yield make
    for api in servers:
        api.shutdown()
        api.server_close()


def test_twilio_credentials_and_a_matching_public_url_pass(app, twilio_site):
    api = twilio_site(f"{PUBLIC}/twilio/voice")
    result = doctor(app)
    assert lines_of(result, "twilio")[0].startswith("ok       twilio        credentials accepted")
    assert lines_of(result, "public url")[0] == (f"ok       public url    +46406280400 -> {PUBLIC}/twilio/voice, "
                                                 "as public.url says")
    assert any("/IncomingPhoneNumbers.json" in p for p in api.requests)
    assert result.exit_code == 0, result.output


def test_a_twilio_public_url_that_does_not_match_is_named_and_fails(app, twilio_site):
    twilio_site("https://old-vaxel.sjobacka.se/twilio/voice")
    result = doctor(app)
    assert result.exit_code == 1
    (line,) = lines_of(result, "public url")
    assert line.startswith("ERROR    public url    +46406280400 sends calls to https://old-vaxel.sjobacka.se/twilio/"
                           f"voice, but public.url is {PUBLIC}: Twilio signs the address it calls")


def test_wrong_twilio_credentials_are_named(app, twilio_site):
    twilio_site(f"{PUBLIC}/twilio/voice", token="not-the-token")
    result = doctor(app)
    assert result.exit_code == 1
    assert lines_of(result, "twilio")[0] == ("ERROR    twilio        Twilio refused the credentials: check "
                                             "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")


def test_twilio_without_a_public_url_is_named(app, twilio_site):
    twilio_site(f"{PUBLIC}/twilio/voice")
    app.extensions["vaxel"].settings["public"]["url"] = ""
    result = doctor(app)
    assert "public.url (VAXEL_PUBLIC_URL) is empty" in lines_of(result, "public url")[0] and result.exit_code == 1


class SmtpHandler(socketserver.StreamRequestHandler):
    """Enough of RFC 5321 for EHLO, AUTH PLAIN and QUIT."""

    def handle(self) -> None:
        self.wfile.write(b"220 mail.sjobacka.se ESMTP\r\n")
        for raw in self.rfile:
            line = raw.decode().strip()
            verb = line.split(" ")[0].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-mail.sjobacka.se\r\n250 AUTH PLAIN\r\n")
            elif verb == "AUTH":
                ok = base64.b64decode(line.split(" ")[2]) == b"\0vaxel\0right"
                self.wfile.write(b"235 2.7.0 ok\r\n" if ok else b"535 5.7.8 authentication failed\r\n")
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"502 not implemented\r\n")


@pytest.fixture
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SmtpHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_smtp_login_checked(app, smtp_server):
    smtp = app.extensions["vaxel"].settings["smtp"]
    smtp.update(host="127.0.0.1", port=smtp_server, username="vaxel", password="right")
    assert lines_of(doctor(app), "smtp")[0] == (f"ok       smtp          mail server 127.0.0.1:{smtp_server} answered, "
                                                "logged in as 'vaxel'")
    smtp["password"] = "wrong"
    result = doctor(app)
    assert lines_of(result, "smtp")[0].startswith(f"ERROR    smtp          mail server 127.0.0.1:{smtp_server} failed "
                                                  "(SMTPAuthenticationError")
    assert result.exit_code == 1


def test_production_mode_names_what_it_would_refuse(app, monkeypatch):
    monkeypatch.delenv("VAXEL_STATS_PSEUDONYM_KEY", raising=False)
    settings = app.extensions["vaxel"].settings
    settings["service"].update(mode="production", secret_key="change-me")
    result = doctor(app)
    assert result.exit_code == 1
    assert lines_of(result, "secret key")[0].startswith("ERROR    secret key    VAXEL_SERVICE_SECRET_KEY is too weak")
    assert lines_of(result, "retention")[0].startswith("ERROR    retention     set VAXEL_STATS_PSEUDONYM_KEY")
    assert lines_of(result, "mode")[0] == "ok       mode          production"
