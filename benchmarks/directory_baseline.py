"""Directory search against the usual implementation, ``ILIKE '%term%'``, on the same data and database.

    .venv/bin/python benchmarks/directory_baseline.py [--staff 10000] [--queries 2000] [--database-url URL]

Builds the same directory as ``benchmarks/directory.py`` (10,000 people, 30,000
keywords, 600 units, through the CSV importer) and replays the same query mix
(same seed, same queries) through both, in this process, one session per query
as the HTTP API opens it, alternating which goes first:

- vaxel: ``directory.search.search`` — what ``/api/directory/search`` returns,
  without the HTTP round trip: the in-memory index, the ranking, and every hit
  dressed with presence, phone hours and free colleagues (database reads);
- baseline: what most directory services do — one SQL statement, the whole
  query as one term, ``name ILIKE '%term%' OR title ILIKE '%term%' OR id IN
  (staff with a keyword ILIKE '%term%')``, ordered by name, 20 rows (id, name,
  title, extension, unit). On PostgreSQL that is ``ILIKE``; on SQLite SQLAlchemy's
  ``ilike`` is ``lower(x) LIKE lower(y)``, and SQLite's ``lower()`` folds ASCII
  only, so there "Å" does not match "å" (as with plain ``LIKE``).

Per category of the mix it counts the queries with any hit and the queries
whose 20 hits include an intended entry: the person the query was made from
(extension, number), anyone with that surname (surname, typo), a surname
beginning with what was typed, the full name (typed without å/ä/ö; "full_name":
names that had none to leave out), anyone with
a keyword beginning with the word (keyword), or that and the first name (two
words; judged only when such a person exists). Prints JSON.
"""

from __future__ import annotations

import importlib.util
import json
import random
import statistics
import time
from pathlib import Path

_spec = importlib.util.spec_from_file_location("directory_bench", Path(__file__).with_name("directory.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)  # also keeps this folder off the path, so `directory` is the package

WARM_UP = 20


def baseline_query(term: str):
    """The usual search: the whole query as one substring of name, title or a keyword."""
    from sqlalchemy import or_, select

    from directory.models import Keyword, Staff, Unit

    pattern = "%" + term.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    keyword = Staff.id.in_(select(Keyword.staff_id).where(Keyword.term.ilike(pattern, escape="\\")))
    return (select(Staff.external_id, Staff.name, Staff.title, Staff.extension, Unit.name)
            .join(Unit, Unit.id == Staff.unit_id)
            .where(or_(Staff.name.ilike(pattern, escape="\\"), Staff.title.ilike(pattern, escape="\\"), keyword))
            .order_by(Staff.name, Staff.external_id).limit(20))


def intended(category: str, query: str, person: dict, people: list[dict]) -> set[str] | None:
    """The ids a caller asking ``query`` would accept; None: nobody fits (not judged)."""
    first, surname = person["name"].split()

    def who(test) -> set[str]:
        return {p["id"] for p in people if test(p)}

    def has_keyword(p: dict, word: str) -> bool:
        return any(k.casefold().startswith(word.casefold()) for k in p["keywords"])

    if category in ("extension", "number"):
        found = {person["id"]}
    elif category in ("surname", "typo"):
        found = who(lambda p: p["name"].split()[1] == surname)
    elif category == "as_typed":
        found = who(lambda p: p["name"].split()[1].casefold().startswith(query.casefold()))
    elif category == "without_aao":
        found = who(lambda p: p["name"] == person["name"])
    elif category == "keyword":
        found = who(lambda p: has_keyword(p, query))
    else:  # two words: a keyword and a first name
        word = query.split()[0]
        found = who(lambda p: p["name"].split()[0] == first and has_keyword(p, word))
    return found or None


def summary(latencies: list[float]) -> dict:
    return {"p50": round(bench.percentile(latencies, 50), 2), "p95": round(bench.percentile(latencies, 95), 2),
            "p99": round(bench.percentile(latencies, 99), 2), "mean": round(statistics.fmean(latencies), 2)}


def main() -> None:
    args = bench.arguments(__doc__.splitlines()[0])
    rng = random.Random(args.seed)
    app, people, units, _, _, _ = bench.setup(args, rng)
    svc = app.extensions["vaxel"]

    from directory.query import synonyms_from
    from directory.search import search

    now, tz, eve_close = svc.clock.now(), svc.clock.tz, svc.settings["hours"]["eve_close"]
    synonyms = synonyms_from(svc.settings["directory"]["synonyms_file"])

    def vaxel(query: str) -> list[str]:
        with svc.sessions() as session:
            return [r.id for r in search(session, query, now, tz, eve_close, limit=20, synonyms=synonyms)]

    def baseline(query: str) -> list[str]:
        with svc.sessions() as session:
            return [row[0] for row in session.execute(baseline_query(query))]

    engines = {"vaxel": vaxel, "baseline": baseline}
    mix = bench.labelled_query_mix(people, rng, args.queries)
    for _, query, _ in mix[:WARM_UP]:
        for run in engines.values():
            run(query)
    latencies: dict[str, list[float]] = {name: [] for name in engines}
    per_category: dict[str, dict] = {}
    for i, (category, query, person) in enumerate(mix):
        want = intended(category, query, person, people)
        if category == "without_aao" and query == person["name"]:
            category = "full_name"  # the name had no å, ä or ö to leave out
        row = per_category.setdefault(category, {"queries": 0, "judged": 0, "examples": [],
                                                 **{name: {"any_hit": 0, "intended": 0} for name in engines}})
        row["queries"] += 1
        row["judged"] += want is not None
        if len(row["examples"]) < 3:
            row["examples"].append(query)
        for name in (engines if i % 2 == 0 else reversed(engines)):
            started = time.perf_counter()
            ids = engines[name](query)
            latencies[name].append((time.perf_counter() - started) * 1000)
            row[name]["any_hit"] += bool(ids)
            row[name]["intended"] += bool(want and want.intersection(ids))
    for row in per_category.values():
        for name in engines:
            row[name]["any_hit_percent"] = round(100 * row[name]["any_hit"] / row["queries"], 1)
            row[name]["intended_percent"] = (round(100 * row[name]["intended"] / row["judged"], 1)
                                             if row["judged"] else None)
    print(json.dumps({
        "benchmark": "directory_baseline",
        "database": svc.engine.dialect.name,
        "staff": args.staff,
        "keywords": args.staff * args.keywords_per_person,
        "units": len(units),
        "queries": len(mix),
        "measured": "in process, one session per query: vaxel = directory.search.search (index, ranking, presence, "
                    "phone hours, colleagues); baseline = one ILIKE '%term%' statement over name, title, keywords "
                    "(20 rows)",
        "search_ms": {name: summary(values) for name, values in latencies.items()},
        "hits": {name: {"any_hit": sum(r[name]["any_hit"] for r in per_category.values()),
                        "intended": sum(r[name]["intended"] for r in per_category.values()),
                        "judged": sum(r["judged"] for r in per_category.values())} for name in engines},
        "by_category": {k: per_category[k] for k in (*bench.CATEGORIES, "full_name") if k in per_category},
    }, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
