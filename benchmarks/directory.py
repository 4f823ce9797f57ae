"""Directory at Lund's scale: import 10,000 staff with 30,000 keywords, then search through the HTTP API.

    .venv/bin/python benchmarks/directory.py [--staff 10000] [--queries 2000] [--database-url URL]

Generates a synthetic municipality (600 units, Swedish names, keyword vocabulary),
imports it with the CSV importer (timed), starts the service on a free port
(waitress, real HTTP) and replays a realistic query mix as a logged-in operator:
keywords, surnames and their beginnings as typed, names without å/ä/ö, one-letter
typos, two-word queries, extensions and phone numbers. Prints JSON. Targets:
import under 10 s, p95 search under 10 ms.
"""

from __future__ import annotations

import sys
from pathlib import Path

# this file is called directory.py, like the package it measures: keep its folder off the import path
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse  # noqa: E402
import http.client
import json
import random
import re
import statistics
import tempfile
import threading
import time
import urllib.parse

FIRST = ("Anna Eva Maria Karin Sara Lena Emma Kerstin Ingrid Marie Johanna Linnea Elin Ida Hanna Sofia Åsa Märta "
         "Lars Anders Johan Karl Per Erik Mikael Peter Jonas Magnus Björn Göran Håkan Stefan Ali Fatima Mohammed "
         "Aleksandra Nadia Omar Leyla Dragan Mirja Oskar Ture Örjan").split()
LAST = ("Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsson Persson Svensson Gustafsson Pettersson "
        "Jonsson Jansson Hansson Bengtsson Jönsson Lindberg Jakobsson Magnusson Olofsson Lindström Lindqvist "
        "Lindgren Berg Axelsson Bergström Lundberg Lind Lundgren Lundqvist Mattsson Berglund Fredriksson Sandberg "
        "Henriksson Forsberg Sjöberg Wallin Engström Eklund Danielsson Håkansson Lundin Björk Bergman Gunnarsson "
        "Holm Samuelsson Fransson Wikström Isaksson Bergqvist Nyström Holmberg Arvidsson Löfgren Söderberg Nyberg "
        "Blomqvist Claesson Nordström Mårtensson Lundström Viklund Björklund Eliasson Pålsson Berggren Sandström "
        "Lund Nordin Ström Åberg Hermansson Ekström Holmgren Sundberg Hedlund Dahlberg Hellström Sjögren Abrahamsson "
        "Falk Öberg Martinsson Andreasson Blom Åkesson Öhman Söderlund Karimi Yousef Hadzic Nowak Kaya").split()
WORDS = ("bygglov torghandel parkering avfall sophämtning vatten avlopp snöröjning gatubelysning färdtjänst "
         "bostadsanpassning försörjningsstöd skolskjuts förskola fritidshem bibliotek föreningsbidrag hemtjänst "
         "trygghetslarm serveringstillstånd livsmedel buller detaljplan lantmäteri kartor överförmyndare "
         "konsumentvägledning skuldrådgivning LSS äldreboende missbruk orosanmälan familjerätt simhall idrottshall "
         "kulturskola turism näringsliv upphandling fakturor löner diarium arkiv registrator nämndsekreterare "
         "miljötillsyn enskilt avlopp värmepump strandskydd marklov rivningslov bygganmälan nybyggnadskarta").split()
UNITS = ("Kommunkontoret Socialförvaltningen Stadsbyggnadskontoret Kultur och fritid Vård och omsorg Tekniska "
         "förvaltningen Miljöförvaltningen Renhållningen Utbildningsförvaltningen Barn och skola").split()
TITLES = ("Handläggare Enhetschef Socialsekreterare Bygglovshandläggare Miljöinspektör Ingenjör Assistent "
          "Samordnare Administratör Controller Lärare Förskollärare Undersköterska Biståndshandläggare").split()


def synthetic_words(n: int, rng: random.Random) -> list[str]:
    syllables = "berg dal ström lund by vik holm sand sjö skog torp hage mark fors näs ås å ö bäck kulla".split()
    return [f"{rng.choice(WORDS)}{rng.choice(syllables)}{rng.randint(1, 99)}" for _ in range(n)]


def generate(staff: int, keywords_per: int, rng: random.Random) -> tuple[str, list[str], list[dict]]:
    vocabulary = WORDS + synthetic_words(4000, rng)
    units = []
    for f in range(10):
        for a in range(10):
            for e in range(6):
                units.append(f"u{f}-{a}-{e}")
    rows, people = [], []
    header = "id,kind,name,title,unit,extension,phone,mobile,other_numbers,email,keywords,hidden_number,notes"
    for i in range(staff):
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        ext = str(10000 + i)
        phone = f"+4646{3500000 + i}"
        chosen = rng.sample(vocabulary, keywords_per)
        keywords = "|".join(chosen)
        rows.append(f"s{i},person,{name},{rng.choice(TITLES)},{rng.choice(units)},{ext},{phone},,,,{keywords},no,")
        people.append({"id": f"s{i}", "name": name, "ext": ext, "phone": phone, "keywords": chosen})
    return header + "\n" + "\n".join(rows) + "\n", units, people


def query_mix(people: list[dict], rng: random.Random, n: int) -> list[str]:
    return [query for _, query, _ in labelled_query_mix(people, rng, n)]


CATEGORIES = ("keyword", "surname", "as_typed", "without_aao", "typo", "two_words", "extension", "number")


def labelled_query_mix(people: list[dict], rng: random.Random, n: int) -> list[tuple[str, str, dict]]:
    """(category, query, the person it was made from): the same queries as :func:`query_mix` for a seed."""
    def typo(word: str) -> str:
        i = rng.randrange(1, len(word) - 1)
        return word[:i] + rng.choice("aeiouns") + word[i + 1:]

    fold = str.maketrans("åäöÅÄÖ", "aaoAAO")
    makers = [
        lambda p: rng.choice(WORDS),                          # a subject keyword
        lambda p: p["name"].split()[1],                       # a surname
        lambda p: p["name"].split()[1][:rng.randint(2, 5)],   # as typed
        lambda p: p["name"].translate(fold),                  # without å/ä/ö
        lambda p: typo(p["name"].split()[1]),                 # one letter wrong
        lambda p: f"{rng.choice(WORDS)} {p['name'].split()[0]}",  # two words
        lambda p: p["ext"],                                   # an extension
        lambda p: "0" + p["phone"][3:5] + "-" + p["phone"][5:],   # a number, national format
    ]
    out = []
    for _ in range(n):
        i = rng.randrange(len(makers))  # what rng.choice(makers) draws
        person = rng.choice(people)
        out.append((CATEGORIES[i], makers[i](person), person))
    return out


def session_cookie(reply) -> str:
    return next(c.split(";")[0] for c in reply.headers.get_all("Set-Cookie") if c.startswith("session="))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def arguments(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--staff", type=int, default=10_000)
    parser.add_argument("--keywords-per-person", type=int, default=3)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--seed", type=int, default=7)
    return parser.parse_args()


def setup(args: argparse.Namespace, rng: random.Random):
    """Migrate, import the generated directory (timed) and build the search index (timed); returns
    (app, people, units, import result, import seconds, index seconds)."""
    from sqlalchemy import select

    from directory import csv_io
    from directory.index import index_for
    from directory.models import Unit
    from switchboard import db
    from switchboard.app import create_app
    from switchboard.auth import User, add_user
    from switchboard.seed import ensure_defaults

    url = args.database_url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'directory-bench.db'}"
    db.upgrade(url)
    app = create_app({"database": {"url": url}})
    svc = app.extensions["vaxel"]
    text, units, people = generate(args.staff, args.keywords_per_person, rng)
    with svc.sessions() as session:
        ensure_defaults(session, svc.settings)
        existing = set(session.scalars(select(Unit.slug)))
        session.add_all(Unit(slug=u, name=f"Enhet {u} {UNITS[int(u[1])]}", kind="enhet")
                        for u in units if u not in existing)
        if session.scalar(select(User).where(User.username == "bench")) is None:
            add_user(session, "bench", "operator", "bench-password-1")
        session.commit()
        started = time.perf_counter()
        result = csv_io.import_csv(session, text)
        import_seconds = time.perf_counter() - started
        started = time.perf_counter()
        index_for(session)
        index_seconds = time.perf_counter() - started
    return app, people, units, result, import_seconds, index_seconds


def main() -> None:
    args = arguments(__doc__.splitlines()[0])
    rng = random.Random(args.seed)

    import waitress

    app, people, units, result, import_seconds, index_seconds = setup(args, rng)
    svc = app.extensions["vaxel"]

    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    port = server.effective_port
    threading.Thread(target=server.run, daemon=True).start()
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/login")
    reply = conn.getresponse()
    page = reply.read().decode()
    cookie = session_cookie(reply)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    body = urllib.parse.urlencode({"username": "bench", "password": "bench-password-1", "csrf_token": token})
    conn.request("POST", "/login", body, {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie})
    reply = conn.getresponse()
    reply.read()
    if reply.status != 302:
        raise SystemExit(f"login failed: {reply.status}")
    cookie = session_cookie(reply)

    latencies, empty = [], 0
    for query in query_mix(people, rng, args.queries):
        started = time.perf_counter()
        conn.request("GET", "/api/directory/search?" + urllib.parse.urlencode({"q": query, "limit": 20}),
                     headers={"Cookie": cookie, "Accept": "application/json"})
        reply = conn.getresponse()
        data = json.loads(reply.read())
        latencies.append((time.perf_counter() - started) * 1000)
        if reply.status != 200:
            raise SystemExit(f"search failed: {reply.status} {data}")
        empty += not data["results"]
    server.close()
    print(json.dumps({
        "benchmark": "directory",
        "database": svc.engine.dialect.name,
        "staff": args.staff,
        "keywords": args.staff * args.keywords_per_person,
        "units": len(units),
        "import_seconds": round(import_seconds, 2),
        "imported": {"created": result.created, "updated": result.updated},
        "index_build_seconds": round(index_seconds, 2),
        "queries": len(latencies),
        "queries_without_hits": empty,
        "search_ms": {"p50": round(percentile(latencies, 50), 2), "p95": round(percentile(latencies, 95), 2),
                      "p99": round(percentile(latencies, 99), 2), "mean": round(statistics.fmean(latencies), 2)},
        "targets": {"import_seconds": 10, "search_p95_ms": 10},
    }))


if __name__ == "__main__":
    main()
