"""config/asterisk: the contexts, AGI URL, queue options and AMI user vaxel relies on, read with pyst2's parser."""

from __future__ import annotations

import re

import pytest

from switchboard.asterisk.conf import dialplan, sections
from switchboard.asterisk.dialer import CONTEXT
from switchboard.asterisk.mapping import app_queue_name
from core.settings import CONFIG_DIR, DEFAULTS
from tests.fakes.captures import WIRE

SAMPLES = CONFIG_DIR / "asterisk"
PLAN = dialplan(SAMPLES / "extensions_vaxel.conf")
AST = DEFAULTS["asterisk"]


def apps(context: str, exten: str | None = None) -> list[str]:
    return [p.app for p in PLAN[context] if exten is None or p.exten == exten]


def test_incoming_matches_any_dialled_number_and_s():
    extens = {p.exten for p in PLAN["vaxel-incoming"]}
    assert {"_X.", "_+X.", "s"} <= extens
    for exten in extens:
        assert apps("vaxel-incoming", exten)[-1] == "Goto(vaxel-flow,s,1)"


def test_the_flow_runs_over_fastagi_at_the_address_vaxel_listens_on():
    agi = [a for a in apps("vaxel-flow") if a.startswith("AGI(")]
    assert agi == [f"AGI(agi://{AST['agi_host']}:{AST['agi_port']}/incoming,${{VAXEL_CALLED}})"]
    assert re.search(r"agi://[^/]+/(\w+)", agi[0]).group(1) == "incoming"  # the server's script name


def test_anything_but_done_or_hangup_goes_to_the_operators():
    flow = apps("vaxel-flow")
    after_agi = flow[[i for i, a in enumerate(flow) if a.startswith("AGI(")][0] + 1:]
    assert '"${VAXEL_RESULT}" = "done"' in after_agi[0] and '"${VAXEL_RESULT}" = "hangup"' in after_agi[0]
    assert after_agi[1] == "Goto(vaxel-operators,s,1)"
    assert f"Queue({app_queue_name('centre')})" in apps("vaxel-operators")


def test_every_goto_and_label_exists():
    for context, lines in PLAN.items():
        labels = {re.match(r"n\((\w+)\)", p.priority).group(1) for p in lines if p.priority.startswith("n(")}
        for p in lines:
            for target in re.findall(r"Goto\(([^,()]+),([^,()]+),1\)", p.app):
                assert target[0] in PLAN and target[1] in {q.exten for q in PLAN[target[0]]}, (context, p)
            for label in re.findall(r"\?(\w+)\)", p.app):
                assert label in labels, (context, p)


def test_each_extension_starts_at_priority_1():
    for context, lines in PLAN.items():
        seen: set[str] = set()
        for p in lines:
            assert (p.priority == "1") == (p.exten not in seen), (context, p)
            seen.add(p.exten)


def test_contexts_the_code_dials_into_exist():
    assert AST["outbound_template"] == "Local/{number}@vaxel-outbound" and "_+X." in {
        p.exten for p in PLAN["vaxel-outbound"]}
    assert {"citizen", "operator"} <= {p.exten for p in PLAN[CONTEXT]}
    assert app_queue_name("centre") in {p.exten for p in PLAN["vaxel-callback-queue"]}
    assert "_X." in {p.exten for p in PLAN["vaxel-transfer"]}


def test_queue_options_the_engine_driven_queue_needs():
    queues = sections(SAMPLES / "queues_vaxel.conf")
    options = dict(queues[app_queue_name("centre")])
    assert options["timeoutpriority"] == "conf"  # a ringing operator is not cut off at the end of a slice
    assert options["setinterfacevar"] == "yes" and options["setqueueentryvar"] == "yes"  # who answered, when
    assert options["joinempty"] == "yes" and options["leavewhenempty"] == "no"
    assert options["announce-frequency"] == "0" and options["announce-position"] == "no"  # vaxel speaks


def test_manager_user_can_do_what_the_client_does_and_nothing_more():
    user = dict(sections(SAMPLES / "manager_vaxel.conf")[DEFAULTS["ami"]["user"]])
    assert {"call", "agent"} <= set(user["read"].split(","))
    assert {"originate", "agent", "call"} <= set(user["write"].split(","))
    assert "system" not in user["write"].split(",")  # no reloads or shutdowns from vaxel
    assert user["permit"].startswith("127.0.0.1/") and user["deny"] == "0.0.0.0/0.0.0.0"
    assert user["secret"].startswith("replace-with")  # a placeholder, never a real secret in the repository


def test_the_parser_reads_the_real_servers_dialplan_too():
    captured = dialplan(WIRE / "capture-dialplan.conf")
    assert "AGI(agi://127.0.0.1:4573/incoming)" in [p.app for p in captured["ivr-entry"]]
    assert dict(sections(WIRE / "capture-queues.conf")["centre"])["context"] == "centre-exit"


def test_ami_secret_only_from_the_environment(tmp_path):
    from core.settings import SettingsError, load_settings

    path = tmp_path / "vaxel.toml"
    path.write_text('[ami]\nhost = "127.0.0.1"\nsecret = "hunter2"\n')
    with pytest.raises(SettingsError, match="VAXEL_AMI_SECRET"):
        load_settings(path, environ={})
    settings = load_settings(environ={"VAXEL_AMI_HOST": "10.0.0.5", "VAXEL_AMI_SECRET": "s3cret",
                                      "VAXEL_ASTERISK_DIAL_TEMPLATE": "SIP/{extension}"})
    assert (settings["ami"]["host"], settings["ami"]["secret"]) == ("10.0.0.5", "s3cret")
    assert settings["asterisk"]["dial_template"] == "SIP/{extension}"
    defaults = load_settings(environ={})
    assert defaults["ami"]["host"] == "" and defaults["ami"]["secret"] is None
    assert (defaults["asterisk"]["agi_host"], defaults["asterisk"]["agi_port"]) == ("127.0.0.1", 4573)
