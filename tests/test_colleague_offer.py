"""Someone away, a colleague free (issue 16, item 4): the caller hears when the person is back and may be
connected to a free colleague in the same unit (key 1) or book a callback (key 2); with nobody free the offer
stays the callback (key 1) as before. Simulator calls on the demo directory."""

from __future__ import annotations

from sqlalchemy import select

from directory import presence
from directory.models import Staff
from tests.conftest import at
from tests.test_simulator import call, prompts

BYGGLOV = {"Erik Nilsson", "Aleksandra Nowak", "Henrik Dahl", "Bygglov – dagens handläggare"}


def away(sessions, *external_ids: str, until: str = "2026-11-26T08:00") -> None:
    from directory.index import bump_version

    with sessions() as session:
        for external_id in external_ids:
            staff_id = session.scalar(select(Staff.id).where(Staff.external_id == external_id))
            presence.set_status(session, staff_id, "absent", by="test", now=at("2026-11-24T09:00"),
                                reason="semester", until=at(until))
        bump_version(session)
        session.commit()


def test_away_person_with_a_free_colleague_is_offered_and_connected_on_key_1(runner, sessions):
    away(sessions, "p017")  # Emma Söderlund, Bygglov, back on Thursday
    result, actions = call(runner, "1", "say:emma söderlund", "1", "ring:answered")
    assert result.exit_code == 0, result.output
    said = prompts(actions)
    assert said[said.index("target_away"):said.index("target_away") + 2] == ["target_away", "colleague_offer"]
    offer = next(a for a in actions if a["action"] == "say" and a["prompt"] == "colleague_offer")
    assert offer["text"].startswith("Tryck 1 för att bli kopplad till en kollega på Bygglov. Tryck 2 för att bli "
                                    "uppringd av Emma Söderlund.")
    transfer = next(a for a in actions if a["action"] == "transfer")
    assert transfer["name"] in BYGGLOV and transfer["name"] != "Emma Söderlund"
    assert actions[-1]["action"] == "bridged" and actions[-1]["party"] == transfer["name"]
    shown = runner.invoke(args=["calls", "show", "--last", "--json"])
    assert '"colleague_chosen"' in shown.output


def test_key_2_books_a_callback_for_the_person_away(runner, sessions):
    away(sessions, "p017")
    result, actions = call(runner, "1", "say:emma söderlund", "2", "1")
    assert result.exit_code == 0, result.output
    assert "colleague_offer" in prompts(actions) and "callback_confirm_number" in prompts(actions)
    assert not any(a["action"] == "transfer" for a in actions)
    assert any(a["action"] == "callback" for a in actions)


def test_silence_at_the_offer_goes_to_the_centre(runner, sessions):
    away(sessions, "p017")
    result, actions = call(runner, "1", "say:emma söderlund", "silence")
    assert result.exit_code == 0, result.output
    assert "colleague_offer" in prompts(actions)
    assert next(a for a in actions if a["action"] == "enqueue")["queue"] == "centre"
    assert not any(a["action"] == "transfer" for a in actions)


def test_nobody_free_keeps_the_callback_offer_unchanged(runner, sessions):
    away(sessions, "p017", "p018", "p019", "p020", "f001")  # the whole of Bygglov, its function too
    result, actions = call(runner, "1", "say:emma söderlund", "1")
    assert result.exit_code == 0, result.output
    said = prompts(actions)
    assert "colleague_offer" not in said and said[said.index("target_away") + 1] == "unavailable_offer"
    assert "callback_confirm_number" in said  # key 1 is still the callback


def test_the_console_target_list_suggests_the_free_colleague(operator_client, sessions):
    away(sessions, "p017")
    hits = operator_client.get("/api/directory/search?q=emma söderlund&limit=3").get_json()["results"]
    emma = next(h for h in hits if h["id"] == "p017")
    assert emma["status"] == "absent" and emma["suggestion"]["name"] in BYGGLOV
    assert "number" not in emma["suggestion"]  # the hidden number to ring stays on the server
    others = [h for h in hits if h["status"] == "available"]
    assert all(h["suggestion"] is None for h in others)
