"""Option 1 as callers ask: over 200 realistic requests against the demo municipality, through the real call flow.

    .venv/bin/python benchmarks/option1.py [--at 2026-11-24T10:30:00+01:00] [--cases] [--show wrong|all]

Loads ``config/demo/municipality.toml`` into a temporary SQLite database, seeds
the default call flow and plays each request as a test call (the engine with the
real directory lookups, :class:`switchboard.testcall.DryRunPort`, nothing
written): the caller presses 1 (on the English line, +46406280498, the flow is
in English from the start), then says or keys the request. A question the
switchboard asks is answered as the caller would: "Menar du X?" yes if X is whom
they want, no otherwise; a list of choices with the key of the one they want,
else 0 (the centre).

Each case says who is right: ``person`` (this one), ``any`` (any of these: a
unit's function or the handläggare for that subject), and ``ask`` (whom they
want, but the request is fuzzy, a sound-alike or ambiguous: ringing at once is
not right even when it happens to be the one). Reaching the person counts when
the flow rings them, or names them as closed or away and offers a callback.

Prints JSON: per outcome the counts and the share of all cases —
``correct_transfer`` (rung at once, rightly), ``correct_after_question`` (one
question), ``correct_after_two_questions``, ``wrong_transfer`` (the wrong person
rung without a question, or an ``ask`` case rung without one), ``wrong_after_question``,
``asked_then_centre``, ``nobody_found`` (straight to the centre) — plus the
goals: right directly or after one question >= 95 %, wrong transfers <= 1 %.
"""

from __future__ import annotations

import sys
from pathlib import Path

# benchmarks/directory.py shares its name with the package: keep this folder off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import json
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

ROOT = Path(__file__).resolve().parent.parent
SV_LINE, EN_LINE = "+46406280400", "+46406280498"
CALLER = "+46701740699"
_T9 = {c: d for d, letters in {"2": "abcåä", "3": "def", "4": "ghi", "5": "jkl", "6": "mnoö", "7": "pqrs",
                                "8": "tuv", "9": "wxyz"}.items() for c in letters}


@dataclass(frozen=True)
class Case:
    request: str  # what the caller says, or keys ending in '#'
    right: tuple[str, ...]  # the external ids that are right
    kind: str = "person"  # person | any | ask
    line: str = SV_LINE
    group: str = ""

    @property
    def keys(self) -> bool:
        return self.request.endswith("#")


# -- the evaluation set ---------------------------------------------------------------------------------------------

PEOPLE = {  # id -> name, title as callers say it (with the definite form) or ""
    "p001": ("Karin Lindström", "kommundirektören"), "p002": ("Elin Sjöberg", "kommunikatören"),
    "p003": ("Johan Berglund", "registratorn"), "p004": ("Amira Haddad", "nämndsekreteraren"),
    "p005": ("Maria Åberg", "konsumentvägledaren"), "p006": ("Goran Petrović", ""),
    "p007": ("Anders Håkansson", ""), "p008": ("Fatima Yousef", ""), "p009": ("Eva Holm", "förvaltningschefen"),
    "p010": ("Mohamed Abdi", "socialsekreteraren"), "p011": ("Sara Lundqvist", ""),
    "p012": ("Ahmad Rahimi", ""), "p013": ("Linnea Strömberg", ""), "p014": ("Jonas Björk", ""),
    "p015": ("Hanna Pettersson", ""), "p016": ("Magnus Wallin", ""), "p017": ("Emma Söderlund", ""),
    "p018": ("Erik Nilsson", ""), "p019": ("Aleksandra Nowak", "byggnadsinspektören"),
    "p020": ("Henrik Dahl", ""), "p021": ("Ingrid Sandberg", "planarkitekten"), "p022": ("Omar Hassan", ""),
    "p023": ("Birgitta Andersson", ""), "p024": ("Kristina Öberg", ""), "p025": ("Mikael Jansson", ""),
    "p026": ("Leila Mansour", "bibliotekarien"), "p027": ("Patrik Lund", "fritidskonsulenten"),
    "p028": ("Zeynep Yilmaz", "fritidsledaren"), "p029": ("Annika Berg", ""), "p030": ("Per Gustafsson", ""),
    "p031": ("Ulla Karlsson", ""), "p032": ("Tomas Lindgren", ""), "p033": ("Daniela Moreno", ""),
    "p034": ("Stefan Johansson", ""), "p035": ("Camilla Ek", ""), "p036": ("Niklas Forsberg", "parkingenjören"),
    "p037": ("Anna Blom", "trafikingenjören"), "p038": ("Robert Åkesson", ""), "p039": ("Sven Olofsson", ""),
    "p040": ("Nadia Karimi", ""), "p041": ("Samir Khalil", ""), "p042": ("Lena Holmberg", ""),
    "p043": ("Gunnar Wikström", "miljöchefen"), "p044": ("Sofia Axelsson", "livsmedelsinspektören"),
    "p045": ("Rasmus Jensen", ""), "p046": ("Yasmin Nouri", ""), "p047": ("Malin Engström", ""),
    "p048": ("Jörgen Persson", "renhållningschefen"), "p049": ("Tiina Mäkinen", ""),
    "p050": ("Marcus Lindberg", ""), "p051": ("Dragana Jovanović", ""), "p052": ("Helena Eriksson", ""),
    "p053": ("Nour Saleh", ""), "p054": ("Viktor Hedlund", ""), "p055": ("Peter Sundberg", ""),
    "p056": ("Josefin Nyberg", ""), "p057": ("Amina Warsame", ""), "p058": ("Bengt Lundin", ""),
}
POLITE = ("{} tack", "jag vill prata med {}", "kan jag få prata med {}", "jag söker {}", "{} är det",
          "hej jag skulle vilja tala med {}", "jag skulle vilja komma till {} tack", "ja hej {}")

# A subject in everyday words -> who is right. ``any``: the function or handläggare for it; never a head of department.
BYGGLOV = ("f001", "p017", "p018", "p019", "p020")
AVFALL = ("f003", "p049", "p050")
SUBJECTS: list[tuple[str, tuple[str, ...]]] = [
    ("bygglov", BYGGLOV), ("bygglovet", BYGGLOV), ("jag vill prata med någon om bygglov", BYGGLOV),
    ("det gäller ett bygglov", BYGGLOV), ("bygglovsansökan", BYGGLOV), ("min bygglovsansökan", BYGGLOV),
    ("jag har frågor om bygglovet", BYGGLOV), ("attefallshus", ("p017", "f001")), ("friggebod", ("p017",)),
    ("jag ska bygga en friggebod", ("p017",)), ("rivningslov", ("p018",)), ("strandskyddet", ("p020",)),
    ("slutbesked", ("p019",)), ("sophämtning", AVFALL), ("sophämtningen", AVFALL),
    ("angående sophämtningen", AVFALL), ("soporna har inte hämtats", AVFALL), ("soptunnan", AVFALL),
    ("sopkärlet", ("p049", "f003")), ("slamtömning", ("p050",)), ("grovsopor", ("p050",)),
    ("farligt avfall", ("p051",)), ("återvinningscentralen", ("p051",)), ("torghandel", ("p039", "p040")),
    ("torghandeln", ("p039", "p040")), ("jag vill hyra en torgplats", ("p039",)),
    ("marknadsdagar", ("p040",)), ("hemtjänst", ("p031", "p033")), ("hemtjänsten", ("p031", "p033")),
    ("trygghetslarm", ("p032",)), ("trygghetslarmet", ("p032",)), ("försörjningsstöd", ("p012", "p013")),
    ("ekonomiskt bistånd", ("p012", "p013")), ("socialbidrag", ("p012",)), ("orosanmälan", ("p010",)),
    ("jag vill göra en orosanmälan", ("p010",)), ("familjerätt", ("p011",)), ("vårdnad", ("p011",)),
    ("personlig assistans", ("p014",)), ("god man", ("f002", "p008")), ("överförmyndaren", ("f002", "p008")),
    ("årsräkningen", ("f002", "p008")), ("bostadsanpassning", ("p023",)), ("bostadsanpassningsbidrag", ("p023",)),
    ("detaljplanen", ("p021",)), ("nybyggnadskarta", ("p022",)), ("lånekort", ("p025",)),
    ("föreningsbidrag", ("p027",)), ("fritidsgården", ("p028",)), ("gatubelysningen", ("p035",)),
    ("snöröjningen", ("p035",)), ("parkeringstillstånd", ("p038",)), ("färdtjänst", ("p038",)),
    ("vattenläcka", ("p041",)), ("vattenmätaren", ("p041",)), ("va-avgiften", ("p042",)),
    ("livsmedelskontroll", ("p044",)), ("buller", ("p045",)), ("radon", ("p046",)),
    ("serveringstillstånd", ("p047",)), ("serveringstillståndet", ("p047",)), ("gymnasieantagningen", ("p053",)),
    ("komvux", ("p054",)), ("förskoleplats", ("p056",)), ("maxtaxan", ("p057",)), ("skolskjutsen", ("p058",)),
    ("skolskjuts tack", ("p058",)), ("diariet", ("p003",)), ("allmänna handlingar", ("p003",)),
    ("jag ringer angående min mammas hemtjänst", ("p031", "p033")), ("vem har hand om snöröjningen", ("p035",)),
    ("min pappa behöver ett trygghetslarm", ("p032",)), ("det är en vattenläcka på vår gata", ("p041",)),
    ("jag vill anmäla buller från grannen", ("p045",)), ("hur söker jag försörjningsstöd", ("p012", "p013")),
    ("jag vill överklaga ett bygglov", BYGGLOV), ("fakturan för förskolan", ("p057",)),
    ("jag behöver en god man till min pappa", ("f002", "p008")), ("när töms soptunnan", AVFALL),
    ("mögel i lägenheten", ("p045",)), ("jag vill boka en idrottshall", ("p027",)),
    ("lekplatsen i parken är trasig", ("p036",)), ("vi vill ha ett farthinder på gatan", ("p037",)),
    ("jag har fått ett beslut om skolskjuts", ("p058",)),
    ("kommunfullmäktige", ("p004",)), ("konsumentvägledningen", ("p005",)), ("skuldrådgivning", ("p006",)),
]
# Misspelled or misheard, or a sound-alike: the caller wants ``right`` but the switchboard must ask first.
UNSURE: list[tuple[str, str]] = [
    ("Lindqvist", "p011"), ("Sara Lundkvist", "p011"), ("Lundkvist", "p011"), ("Emma Söderlind", "p017"),
    ("Sven Olofson", "p039"), ("Olofson", "p039"), ("Erik Nillson", "p018"), ("Tina Mäkinen", "p049"),
    ("Jörgen Pehrsson", "p048"), ("Mohammed Abdi", "p010"), ("Fatima Jousef", "p008"), ("Linda Strömberg", "p013"),
    ("Hanna Petterson", "p015"), ("Ingrid Sandberj", "p021"), ("Samir Kalil", "p041"), ("Leyla Mansour", "p026"),
    ("Yasmine Nouri", "p046"), ("Daniella Moreno", "p033"), ("Tomas Lindgreen", "p032"), ("Malin Engqvist", "p047"),
]
# Other ways a name is said: genitive, without å/ä/ö, an accent, surname alone.
NAME_FORMS: list[tuple[str, str]] = [
    ("Emma Söderlunds", "p017"), ("Olofssons", "p039"), ("Linnéa Strömberg", "p013"), ("Malin Engstrom", "p047"),
    ("Söderlund", "p017"), ("Olofsson", "p039"), ("Lundqvist", "p011"), ("Wikström", "p043"), ("Mäkinen", "p049"),
    ("Khalil", "p041"), ("Lund", "p027"), ("Berg", "p029"), ("Anna", "p037"), ("Erik", "p018"),
]
ENGLISH: list[tuple[str, tuple[str, ...]]] = [
    ("building permit", BYGGLOV), ("I need a building permit", BYGGLOV), ("planning permission", BYGGLOV),
    ("waste", AVFALL), ("waste collection", AVFALL), ("garbage collection", AVFALL),
    ("my bin was not emptied", AVFALL), ("rubbish", AVFALL), ("home care", ("p031", "p033")),
    ("social services", ("p010", "p011", "p012", "p013", "p014", "p015")),
    ("financial assistance", ("p012", "p013")), ("library card", ("p025",)), ("parking permit", ("p038",)),
    ("water leak", ("p041",)), ("noise", ("p045",)), ("preschool place", ("p056",)), ("school transport", ("p058",)),
    ("Emma Söderlund please", ("p017",)), ("I would like to speak to Sven Olofsson", ("p039",)),
    ("Sara Lundqvist please", ("p011",)), ("alcohol licence", ("p047",)), ("food inspection", ("p044",)),
    ("housing adaptation", ("p023",)), ("guardian", ("f002", "p008")), ("market stall", ("p039",)),
]
EXTENSIONS = ("p003", "p011", "p017", "p019", "p024", "p030", "p039", "p041", "p044", "p049", "p053", "p058")
KEYPAD = ("p011", "p017", "p022", "p026", "p032", "p039", "p043", "p046", "p054", "p058")


def keypad(word: str) -> str:
    return "".join(_T9.get(c, "") for c in word.casefold())


def cases() -> list[Case]:
    out: list[Case] = []
    for i, (sid, (name, title)) in enumerate(sorted(PEOPLE.items())):
        out.append(Case(name, (sid,), group="name"))
        out.append(Case(POLITE[i % len(POLITE)].format(name), (sid,), group="name, polite"))
        if title:
            out.append(Case(f"{title} {name}", (sid,), group="name with title"))
    out += [Case(text, right, "any", group="subject") for text, right in SUBJECTS]
    out += [Case(text, (sid,), "ask", group="misspelled or sound-alike") for text, sid in UNSURE]
    out += [Case(text, (sid,), group="name forms") for text, sid in NAME_FORMS]
    out += [Case(text, right, "any", EN_LINE, group="english line") for text, right in ENGLISH]
    data = _demo()
    ext = {s["id"]: s["extension"] for s in data["staff"]}
    out += [Case(ext[sid] + "#", (sid,), group="extension") for sid in EXTENSIONS]
    out += [Case(keypad(PEOPLE[sid][0].split()[-1]) + "#", (sid,), group="spelled on the keypad") for sid in KEYPAD]
    return out


def _demo() -> dict:
    import tomllib

    with open(ROOT / "config" / "demo" / "municipality.toml", "rb") as fh:
        return tomllib.load(fh)


# -- playing one case -----------------------------------------------------------------------------------------------

def play(port, case: Case, at: datetime, index: int) -> tuple[str, list[str], int]:
    """(outcome, whom the caller was offered or rung, questions asked) for one case."""
    from ivr.protocol import Digits, Speech, Transfer

    call_id = f"case-{index}"
    actions = port.start(call_id, at, CALLER, case.line)
    actions = port.handle(call_id, Digits("1"), at)
    inp = Digits(case.request) if case.keys else Speech(case.request, 0.9)
    actions = port.handle(call_id, inp, at)
    questions, seen = 0, []
    for _ in range(6):
        state = port.state_of(call_id)
        rung = next((a for a in actions if isinstance(a, Transfer)), None)
        if rung is not None or state.awaiting == "target_offer":
            whom = rung.target_id if rung is not None else state.target["id"]
            seen.append(whom)
            return _judge(case, whom, questions), seen, questions
        if state.awaiting in ("directory_confirm", "directory_choice"):
            questions += 1
            offered = [c["id"] for c in state.choices or []]
            seen.extend(offered)
            if state.awaiting == "directory_confirm":
                answer = "1" if offered[0] in case.right else "2"
            else:
                key = next((str(i) for i, sid in enumerate(offered, start=1) if sid in case.right), "0")
                answer = key
            actions = port.handle(call_id, Digits(answer), at)
            continue
        break
    return ("asked_then_centre" if questions else "nobody_found"), seen, questions


def _judge(case: Case, whom: str, questions: int) -> str:
    if whom not in case.right:
        return "wrong_after_question" if questions else "wrong_transfer"
    if questions == 0:
        return "wrong_transfer" if case.kind == "ask" else "correct_transfer"
    return "correct_after_question" if questions == 1 else "correct_after_two_questions"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--at", default="2026-11-24T10:30:00+01:00", help="when the calls are made (ISO)")
    parser.add_argument("--show", choices=("none", "wrong", "all"), default="none",
                        help="also list the cases (wrong: those not right directly or after one question)")
    parser.add_argument("--cases", action="store_true", help="print the evaluation set and exit")
    args = parser.parse_args()
    all_cases = cases()
    if args.cases:
        print(json.dumps([c.__dict__ for c in all_cases], ensure_ascii=False, indent=1))
        return

    from switchboard import db, demo
    from switchboard.app import create_app
    from switchboard.seed import ensure_defaults, published_flow
    from switchboard.testcall import DryRunPort

    at = datetime.fromisoformat(args.at)
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'option1.db'}"
    db.upgrade(url)
    app = create_app({"database": {"url": url}})
    svc = app.extensions["vaxel"]
    with svc.sessions() as session:
        ensure_defaults(session, svc.settings)
        demo.load(session, str(ROOT / "config" / "demo" / "municipality.toml"))
        document = published_flow(session).document
    port = DryRunPort(svc.sessions, svc.settings, document)

    outcomes: Counter[str] = Counter()
    by_group: dict[str, Counter[str]] = {}
    shown = []
    for i, case in enumerate(all_cases):
        outcome, seen, questions = play(port, case, at, i)
        outcomes[outcome] += 1
        by_group.setdefault(case.group, Counter())[outcome] += 1
        good = outcome in ("correct_transfer", "correct_after_question")
        if args.show == "all" or (args.show == "wrong" and not good):
            shown.append({"request": case.request, "line": "en" if case.line == EN_LINE else "sv",
                          "kind": case.kind, "right": case.right, "outcome": outcome, "offered": seen})
    total = len(all_cases)
    share = {k: round(100 * v / total, 1) for k, v in sorted(outcomes.items())}
    right = outcomes["correct_transfer"] + outcomes["correct_after_question"]
    report = {
        "benchmark": "option1",
        "at": args.at,
        "cases": total,
        "outcomes": dict(sorted(outcomes.items())),
        "percent": share,
        "right_directly_or_after_one_question_percent": round(100 * right / total, 1),
        "wrong_transfer_without_question_percent": round(100 * outcomes["wrong_transfer"] / total, 1),
        "by_group": {g: dict(sorted(c.items())) for g, c in by_group.items()},
        "targets": {"right_directly_or_after_one_question_percent": 95, "wrong_transfer_without_question_percent": 1},
    }
    if shown:
        report["cases_shown"] = shown
    json.dump(report, sys.stdout, ensure_ascii=False, indent=1)
    print()


if __name__ == "__main__":
    main()
