"""Issue 14: CSV quoting, export → import round trips, formula neutralising, --prune safety, CLI import audit."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from core import csvsafe
from core.audit import AuditEntry
from directory import csv_io
from directory.models import Staff, Unit
from stats import export
from tests.conftest import csrf_token
from tests.test_stats_cli import ARGS, day  # noqa: F401 (a fixture)

HEADER = "id,kind,name,title,unit,extension,phone,mobile,other_numbers,email,keywords,hidden_number,notes\n"

TRICKY = [
    'Anna "Annie" Berg', '"quoted"', 'a""b', "semi;colon", "comma, here", "two\nlines", "cr\rinside",
    "=1+1", "=HYPERLINK(\"http://evil\",\"x\")", "+1 extra", "-5", "@SUM(A1)", "'=already quoted", "''=twice",
    "'plain apostrophe", "'", "+46406280439 text", "Åsa Öberg-Ek", "=cmd|' /C calc'!A0",
]


def count(session, model=Staff):
    return session.scalar(select(func.count()).select_from(model))


# -- the cell rules ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", TRICKY + ["", "\tTab", "\rCR", "plain", "+46406280439"])
def test_neutralise_is_undone_exactly_by_restore(value):
    assert csvsafe.restore(csvsafe.neutralise(value)) == value


@pytest.mark.parametrize("value", ["=1+1", "+1 extra", "-5", "@SUM(A1)", "\tTab", "\rCR", "+4640", "+46 40 628"])
def test_a_cell_that_could_start_a_formula_gets_a_quote(value):
    assert csvsafe.neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["+46406280439", "+4670123", "Anna", "4439", "", "'plain"])
def test_e164_numbers_and_harmless_text_are_written_as_they_are(value):
    assert csvsafe.neutralise(value) == value


def test_non_text_cells_are_left_alone():
    assert [csvsafe.neutralise(v) for v in (-5, -0.5, None, True)] == [-5, -0.5, None, True]


def test_the_writer_quotes_a_lone_carriage_return():
    out = io.StringIO()
    csvsafe.writer(out).writerow(["a\rb", "c", "=d"])
    assert out.getvalue() == '"a\rb",c,\'=d\n'
    assert next(csv.reader(io.StringIO(out.getvalue(), newline=""))) == ["a\rb", "c", "'=d"]


# -- reading: standard quoting, delimiter from the header -------------------------------------------------------

def test_doubled_quotes_are_read_as_one_quote(app, sessions):
    text = HEADER + 'q1,person,"Anna ""Annie"" Berg",,gata-och-park,4475,,,,,,no,"Säg ""hej"", sen ""hå"""\n'
    with sessions() as session:
        csv_io.import_csv(session, text)
        staff = session.scalar(select(Staff).where(Staff.external_id == "q1"))
        assert (staff.name, staff.notes) == ('Anna "Annie" Berg', 'Säg "hej", sen "hå"')


def test_semicolon_files_read_with_standard_quoting(app, sessions):
    text = HEADER.replace(",", ";") + 'q2;person;"Berg; Anna ""A""";Chef, bygglov;bygglov;4476;;;;;;no;a,b,c\n'
    with sessions() as session:
        csv_io.import_csv(session, text)
        staff = session.scalar(select(Staff).where(Staff.external_id == "q2"))
        assert (staff.name, staff.title, staff.notes) == ('Berg; Anna "A"', "Chef, bygglov", "a,b,c")


@pytest.mark.parametrize("header, expected", [
    ("id,name,unit\n", ","), ("id;name;unit\n", ";"), ('"id;x",name,unit\n', ","), ('"a,b";"c,d";e\n', ";"),
    ("id\n", ","),
])
def test_the_delimiter_comes_from_the_header_line_outside_quotes(header, expected):
    assert csv_io.delimiter(header + "1;2;3;4;5;6\n") == expected


# -- export → import → export -----------------------------------------------------------------------------------

def _add_tricky_entries(session):
    unit = session.scalar(select(Unit).where(Unit.slug == "bygglov"))
    for i, text in enumerate(TRICKY):
        session.add(Staff(external_id=f"t{i:02d}", kind="person", name=text.strip() or "x", title=text.strip(),
                          unit=unit, email="", hidden_number=False, notes=text.strip(), phone="+46406280439",
                          keywords=[], numbers=[]))
    session.commit()


def _directory(session):
    return sorted(tuple(csv_io.as_values(s).items()) for s in session.scalars(select(Staff)))


def test_export_import_export_is_byte_identical_with_awkward_text(app, sessions):
    with sessions() as session:
        _add_tricky_entries(session)
        before = _directory(session)
        first = csv_io.export_csv(session)
        result = csv_io.import_csv(session, first)
        assert (result.created, result.updated, result.removed) == (0, 0, 0)
        assert result.unchanged == count(session)
        assert _directory(session) == before
        assert csv_io.export_csv(session) == first
        # a changed copy also comes back exactly: the file is the source of truth
        csv_io.import_csv(session, first.replace("t00,person,", "t00,function,"))
        assert session.scalar(select(Staff.name).where(Staff.external_id == "t00")) == 'Anna "Annie" Berg'


def test_the_demo_directory_round_trips_byte_identically(runner, tmp_path):
    first = runner.invoke(args=["directory", "export"]).output
    path = tmp_path / "katalog.csv"
    path.write_text(first, encoding="utf-8")
    imported = runner.invoke(args=["directory", "import", str(path)])
    assert imported.exit_code == 0 and " 0 new, 0 changed, " in imported.output and "0 removed" in imported.output
    assert runner.invoke(args=["directory", "export"]).output == first


def test_the_directory_export_neutralises_formulas_but_not_e164_numbers(app, sessions):
    with sessions() as session:
        _add_tricky_entries(session)
        exported = csv_io.export_csv(session)
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(exported, newline=""))}
    assert rows["t07"]["name"] == "'=1+1" and rows["t09"]["name"] == "'+1 extra" and rows["t10"]["notes"] == "'-5"
    assert rows["t11"]["title"] == "'@SUM(A1)" and rows["t12"]["name"] == "''=already quoted"
    assert rows["t14"]["name"] == "'plain apostrophe" and rows["t18"]["notes"] == "'=cmd|' /C calc'!A0"
    assert all(r["phone"] == "+46406280439" for i, r in rows.items() if i.startswith("t"))
    for row in rows.values():
        assert all(not cell or cell[0] not in "=+-@\t\r" or csvsafe.E164.fullmatch(cell) for cell in row.values()), row


# -- --prune with an empty file ---------------------------------------------------------------------------------

def test_prune_with_a_file_without_rows_is_refused_unless_confirmed(app, sessions):
    with sessions() as session:
        before = count(session)
        assert before > 0
        with pytest.raises(csv_io.EmptyPruneRefused, match="nothing was imported"):
            csv_io.import_csv(session, HEADER, prune=True)
        with pytest.raises(csv_io.ImportRejected):  # not even a header: rejected as ever
            csv_io.import_csv(session, "", prune=True)
        assert count(session) == before
        assert csv_io.import_csv(session, HEADER, prune=True, dry_run=True).removed == before
        assert count(session) == before
        assert csv_io.import_csv(session, HEADER, prune=True, confirm_empty=True).removed == before
        assert count(session) == 0


def test_cli_prune_with_an_empty_file_needs_confirm_empty(runner, sessions, tmp_path):
    path = tmp_path / "tom.csv"
    path.write_text(HEADER, encoding="utf-8")
    with sessions() as session:
        before = count(session)
    refused = runner.invoke(args=["directory", "import", "--prune", str(path)])
    assert refused.exit_code == 1 and "--confirm-empty" in refused.output
    with sessions() as session:
        assert count(session) == before
    done = runner.invoke(args=["directory", "import", "--prune", "--confirm-empty", str(path)])
    assert done.exit_code == 0 and f"{before} removed" in done.output
    with sessions() as session:
        assert count(session) == 0


def test_web_prune_with_an_empty_file_needs_confirm_empty(admin_client, sessions):
    token = csrf_token(admin_client, "/admin/directory")
    with sessions() as session:
        before = count(session)
    refused = admin_client.post("/admin/directory", data={
        "csrf_token": token, "prune": "1", "file": (io.BytesIO(HEADER.encode()), "tom.csv")},
        content_type="multipart/form-data")
    assert refused.status_code == 400 and "confirm_empty" in refused.get_data(as_text=True)
    with sessions() as session:
        assert count(session) == before
        assert not session.scalar(select(func.count()).select_from(AuditEntry)
                                  .where(AuditEntry.action == "directory.import"))
    done = admin_client.post("/admin/directory", data={
        "csrf_token": token, "prune": "1", "confirm_empty": "1", "file": (io.BytesIO(HEADER.encode()), "tom.csv")},
        content_type="multipart/form-data")
    assert done.status_code == 200
    with sessions() as session:
        assert count(session) == 0
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "directory.import"))
        assert entry.user == "chefen" and entry.object_id == "tom.csv" and entry.after["removed"] == before


# -- the command-line import is audited, in the import's transaction --------------------------------------------

def test_cli_import_writes_an_audit_entry(runner, sessions, tmp_path):
    path = tmp_path / "nya.csv"
    path.write_text(HEADER + "c1,person,Cilla Cli,,bygglov,4477,,,,,,no,\n", encoding="utf-8")
    assert runner.invoke(args=["directory", "import", str(path)]).exit_code == 0
    assert runner.invoke(args=["directory", "import", "--dry-run", str(path)]).exit_code == 0
    with sessions() as session:
        entries = list(session.scalars(select(AuditEntry).where(AuditEntry.action == "directory.import")))
    assert len(entries) == 1  # the dry run wrote nothing
    assert (entries[0].user, entries[0].object_type, entries[0].object_id) == ("cli", "directory", "nya.csv")
    assert entries[0].after == {"created": 1, "updated": 0, "unchanged": 0, "removed": 0}


def test_the_import_and_its_audit_entry_commit_together(runner, sessions, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("audit log unavailable")

    monkeypatch.setattr(csv_io.audit, "record", broken)
    path = tmp_path / "nya.csv"
    path.write_text(HEADER + "c2,person,Carl Cli,,bygglov,4478,,,,,,no,\n", encoding="utf-8")
    result = runner.invoke(args=["directory", "import", str(path)])
    assert result.exit_code != 0
    with sessions() as session:
        assert session.scalar(select(Staff).where(Staff.external_id == "c2")) is None


# -- the audit CSV and the statistics files ---------------------------------------------------------------------

def test_the_audit_csv_neutralises_formulas(admin_client, sessions):
    from core import audit

    with sessions() as session:
        audit.record(session, "@evil", "directory.import", "directory", "=HYPERLINK(\"x\")", note="-2+3")
        session.commit()
    exported = admin_client.get("/admin/audit.csv").get_data(as_text=True)
    row = next(r for r in csv.DictReader(io.StringIO(exported, newline="")) if r["user"] == "'@evil")
    assert row["object_id"] == "'=HYPERLINK(\"x\")" and row["note"] == "'-2+3"


def test_the_raw_statistics_file_neutralises_formulas_but_not_caller_numbers():
    rows = [{"call_id": "=1+1", "channel": "phone", "local_hour": -1, "timeline": "@x", "caller": "+46406280439",
             "unmatched_query": "=cmd|' /C calc'!A0", "operator": "-op"}]
    text = "".join(export.raw_csv(iter(rows), personal=True))
    row = next(csv.DictReader(io.StringIO(text, newline="")))
    assert (row["call_id"], row["channel"], row["local_hour"], row["timeline"]) == ("'=1+1", "phone", "-1", "'@x")
    assert (row["caller"], row["unmatched_query"], row["operator"]) == ("+46406280439", "'=cmd|' /C calc'!A0", "'-op")
    assert text.splitlines()[0] == ",".join(export.RAW_COLUMNS + export.PERSONAL_COLUMNS)


def test_the_report_csv_neutralises_formulas():
    text = export.to_csv({"by_unit": {"=evil": 3, "ok": -2}})
    assert [r for r in csv.reader(io.StringIO(text, newline=""))][1:] == [["by_unit", "'=evil", "3"],
                                                                         ["by_unit", "ok", "-2"]]


def test_the_raw_file_from_the_command_line_has_no_formula_cells(runner, day):
    text = runner.invoke(args=["stats", "calls", *ARGS, "--personal"]).output
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(rows) == 15 and "+46701740699" in {r["caller"] for r in rows}
    for row in rows:
        assert all(not cell or cell[0] not in "=+-@\t\r" or csvsafe.E164.fullmatch(cell) for cell in row.values())
