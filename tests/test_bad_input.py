"""Bad input anywhere gets a 4xx with a clear message, never a 500 (issue 14).

Property-based: generated JSON bodies, form fields (the endpoints' real field names among them), query strings
and command-line option values go to every web endpoint and the CLI commands that take free text. No answer may
be a 500 or show a traceback; a command either works (exit 0) or refuses with a usage error (exit 2), and a
refused command writes nothing.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from core.db import Base
from directory.models import Staff
from tests.conftest import csrf_token

# A few examples per endpoint keep the file under a minute; VAXEL_FUZZ_EXAMPLES=200 searches harder.
FUZZ = settings(max_examples=int(os.environ.get("VAXEL_FUZZ_EXAMPLES", "10")), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
TRACEBACK = "Traceback (most recent call last)"

# Endpoints left out, with the reason.
SKIPPED = {
    "static", "console.static", "directory.static", "flowadmin.static",  # files, no input
    "console.stream",  # server-sent events: the response never ends
    "auth.logout",  # would end the session the other requests need
}

# --- generated values ------------------------------------------------------------------------------------

_text = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=10),  # control characters
    st.sampled_from(["", " ", "0", "-1", "9999", "99999999999999999999", "1e309", "nan", "null", "true",
                     "2026-11-24", "2026-11-24T10:00", "9999-12-31T23:59", "0001-01-01T00:00", "24:00",
                     "08:00-17:00", "25:61-99:99", "+46701740699", "notanumber", "åäö ÅÄÖ 💥",
                     "<script>", "'; drop table staff; --", "\x00", "../../etc/passwd", "{}", "[]"]),
    st.integers(min_value=-10**20, max_value=10**20).map(str),
    st.integers(min_value=1000, max_value=20000).map(lambda n: "x" * n),  # huge
)
_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10**30, max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False) | _text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4),
    max_leaves=10,
)


def _field_names(view) -> list[str]:
    """The form and JSON keys a view reads, from its source: request.form["x"], .get("x"), body["x"]."""
    try:
        source = inspect.getsource(inspect.unwrap(view))
    except (OSError, TypeError):
        return []
    return sorted(set(re.findall(r"""(?:\.get\(|\[)["']([A-Za-z_][\w-]*)["']""", source)))


def _post_endpoints(app) -> list:
    return sorted((r for r in app.url_map.iter_rules() if "POST" in r.methods and r.endpoint not in SKIPPED
                   and not r.endpoint.startswith("twilio.")), key=lambda r: r.rule)


def _get_endpoints(app) -> list:
    return sorted((r for r in app.url_map.iter_rules() if "GET" in r.methods and r.endpoint not in SKIPPED
                   and not r.endpoint.startswith("twilio.")), key=lambda r: r.rule)


def _url(rule, real: dict, draw_value) -> str:
    """The rule's path with each variable a real value (a staff id, ...) or a generated one."""
    values = {}
    for name in rule.arguments:
        if rule._converters[name].__class__.__name__ == "IntegerConverter":
            values[name] = draw_value(st.sampled_from([1, 2, 0, 10**9]))
        else:
            values[name] = draw_value(st.sampled_from([real.get(name, "x"), "nobody", "åäö", "%00", "x" * 300]))
    path = rule.rule
    for name, value in values.items():
        path = re.sub(rf"<(?:[^:>]+:)?{name}>", str(value), path)
    return path


def _counts(app) -> dict[str, int]:
    """Rows per table: a refused request (4xx) must leave every one as it was."""
    from sqlalchemy import func

    with app.extensions["vaxel"].engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables}


def _assert_nothing_written(app, before: dict[str, int], response, what: str) -> None:
    if 400 <= response.status_code < 500:
        after = _counts(app)
        assert after == before, f"{what}: refused with {response.status_code} but wrote " + str(
            {k: (before[k], after[k]) for k in after if after[k] != before[k]})


def _assert_handled(response, what: str) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code < 500, f"{what}: {response.status_code}\n{body[:2000]}"
    assert TRACEBACK not in body, f"{what}: traceback in the answer\n{body[:2000]}"


@pytest.fixture
def real(app):
    with app.extensions["vaxel"].sessions() as session:
        external_id = session.scalar(select(Staff.external_id).limit(1))
    return {"external_id": external_id, "call_id": "sim-nonexistent"}


@pytest.fixture
def token(admin_client):
    return csrf_token(admin_client, "/admin/hours")


def test_every_post_endpoint_is_fuzzed(app):
    assert len(_post_endpoints(app)) >= 20  # the walk finds the endpoints (and none was renamed away)


def _each(rules, check) -> None:
    """Run the property ``check(rule, data)`` for every rule: one Hypothesis search per endpoint."""
    for rule in rules:
        @FUZZ
        @given(data=st.data())
        def one(data):
            check(rule, data)

        one()


def test_json_bodies_never_500(app, admin_client, token, real):
    def check(rule, data):
        fields = _field_names(app.view_functions[rule.endpoint])
        body = data.draw(st.one_of(
            _json,
            st.fixed_dictionaries({}, optional={name: _json for name in fields}) if fields else _json,
        ), label="body")
        url = _url(rule, real, data.draw)
        before = _counts(app)
        response = admin_client.post(url, data=json.dumps(body), content_type="application/json",
                                     headers={"X-CSRFToken": token})
        _assert_handled(response, f"POST {url} {body!r}")
        _assert_nothing_written(app, before, response, f"POST {url} {body!r}")

    _each(_post_endpoints(app), check)


def test_form_bodies_never_500(app, admin_client, token, real):
    def check(rule, data):
        fields = _field_names(app.view_functions[rule.endpoint])
        names = st.sampled_from(fields) | _text if fields else _text
        form = data.draw(st.dictionaries(names, _text, max_size=8), label="form")
        form["csrf_token"] = token
        url = _url(rule, real, data.draw)
        before = _counts(app)
        response = admin_client.post(url, data=form)
        _assert_handled(response, f"POST {url} {form!r}")
        _assert_nothing_written(app, before, response, f"POST {url} {form!r}")

    _each(_post_endpoints(app), check)


def test_query_strings_never_500(app, admin_client, real):
    def check(rule, data):
        fields = _field_names(app.view_functions[rule.endpoint])
        names = st.sampled_from(fields) | _text if fields else _text
        query = data.draw(st.dictionaries(names, _text, max_size=5), label="query")
        url = _url(rule, real, data.draw)
        response = admin_client.get(url, query_string=query)
        _assert_handled(response, f"GET {url} {query!r}")

    _each(_get_endpoints(app), check)


# --- the command line ------------------------------------------------------------------------------------


def _snapshot(app) -> list:
    """Every row of every table, to show that a refused command wrote nothing."""
    with app.extensions["vaxel"].engine.connect() as conn:
        return [sorted(map(repr, conn.execute(table.select()))) for table in Base.metadata.sorted_tables]


_moment = st.one_of(
    _text,
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)).map(datetime.isoformat),
    st.datetimes(timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=14)),
                                            timezone(timedelta(hours=-12))])).map(datetime.isoformat),
    st.dates().map(str),
)
_option_text = st.one_of(_text, _moment).filter(lambda v: "\x00" not in v)  # no argv can hold a NUL
_count = st.one_of(st.integers(min_value=-10**25, max_value=10**25).map(str), _option_text)

COMMANDS = {  # command -> (fixed arguments, {option: generated values})
    "call": (["call", "--json", "hangup"], {"--at": _moment, "--to": _option_text, "--from": _option_text}),
    "calls list": (["calls", "list"], {"--since": _moment, "--limit": _count}),
    "callbacks list": (["callbacks", "list"], {"--at": _moment, "--closed-hours": _count}),
    "callbacks run": (["callbacks", "run", "--once", "--simulate", "answered"], {"--at": _moment}),
    "callbacks run --dry-run": (["callbacks", "run", "--dry-run"], {"--at": _moment}),
    "callbacks purge": (["callbacks", "purge"], {"--at": _moment}),
    "stats report": (["stats", "report"], {"--from": _moment, "--to": _moment, "--weekday": _option_text,
                                           "--hours": _option_text}),
    "directory search": (["directory", "search"], {"--limit": _count}),
}


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_cli_options_never_crash(app, name):
    runner = app.test_cli_runner()
    fixed, options = COMMANDS[name]

    @FUZZ
    @given(data=st.data())
    def check(data):
        args = list(fixed)
        for option, values in options.items():
            if data.draw(st.booleans(), label=f"give {option}"):
                args += [option, data.draw(values, label=option)]
        if name == "directory search":
            args += data.draw(st.lists(_option_text.filter(lambda v: not v.startswith("-")), min_size=1,
                                       max_size=3), label="words")
        before = _snapshot(app)
        result = runner.invoke(args=args)
        assert result.exception is None or isinstance(result.exception, SystemExit), \
            f"{args!r}: {result.exception!r}\n{result.output}"
        assert result.exit_code in (0, 2), f"{args!r}: exit {result.exit_code}\n{result.output}"
        assert TRACEBACK not in result.output
        if result.exit_code == 2:
            assert _snapshot(app) == before, f"{args!r} refused but wrote"

    check()


def test_purge_refuses_a_time_ahead_of_the_real_clock(app, runner):
    """A purge pretending it is next year would delete numbers before their retention has passed."""
    before = _snapshot(app)
    for moment in ("9000-01-01T00:00", (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()):
        for args in (["callbacks", "purge", "--at", moment], ["callbacks", "run", "--once", "--at", moment]):
            result = runner.invoke(args=args)
            assert result.exit_code == 2 and "real clock" in result.output, result.output
    assert _snapshot(app) == before
    result = runner.invoke(args=["callbacks", "purge", "--at", datetime.now(timezone.utc).isoformat()])
    assert result.exit_code == 0, result.output


def test_the_named_cases(admin_client, runner, real):
    token = csrf_token(admin_client, "/admin/hours")
    for year in ("9999", "-5", "1899", "9001"):
        response = admin_client.get(f"/admin/hours?year={year}")
        assert response.status_code == 400 and "1900" in response.get_data(as_text=True)
    for forward_to in ({"a": 1}, [1], 46701740699, True):
        response = admin_client.post(f"/api/directory/entries/{real['external_id']}/status",
                                     json={"status": "forwarded", "forward_to": forward_to},
                                     headers={"X-CSRFToken": token})
        assert response.status_code == 400 and "forward_to" in response.get_json()["error"]
    result = runner.invoke(args=["call", "--to", "notanumber", "hangup"])
    assert result.exit_code == 2 and "not a phone number" in result.output


@pytest.mark.parametrize("how", ["path", "query", "form", "json"])
def test_a_nul_character_is_a_clear_400_on_every_database(admin_client, token, how):
    """PostgreSQL cannot even compare a string with NUL in it (the fuzzing found the 500 there)."""
    if how == "path":
        response = admin_client.get("/admin/directory/entries/%00")
    elif how == "query":
        response = admin_client.get("/api/directory/search?q=%00")
    elif how == "form":
        response = admin_client.post("/admin/hours/special", data={"csrf_token": token, "day": "\x00"})
    else:
        response = admin_client.post("/api/directory/entries/1/status", data=json.dumps({"status": "a\x00"}),
                                     content_type="application/json", headers={"X-CSRFToken": token})
    assert response.status_code == 400 and b"NUL" in response.data
