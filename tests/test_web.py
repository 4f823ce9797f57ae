"""The start page and health check, through Flask's test client on a real database."""

from sqlalchemy import text


def test_start_page_says_what_the_service_is_and_links_views(client):
    page = client.get("/")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "ett nummer in till Sjöbacka kommun" in body
    assert 'href="/hours"' in body and 'href="/healthz"' in body


def test_healthz_reports_database_and_flow(client):
    reply = client.get("/healthz")
    assert reply.status_code == 200
    assert reply.get_json()["status"] == "ok"
    assert reply.get_json()["flow_version"] == 1


def test_healthz_fails_without_a_published_flow(app, client):
    with app.extensions["vaxel"].engine.begin() as conn:
        conn.execute(text("DELETE FROM flow_versions"))
    reply = client.get("/healthz")
    assert reply.status_code == 503
    assert "vaxel db upgrade" in reply.get_json()["flow"]


def test_hours_page_lists_switchboard_and_units(client):
    body = client.get("/hours").get_data(as_text=True)
    assert "Växeln" in body
    assert "Bygglov" in body and "10:00–12:00" in body
    assert "tisdag till torsdag 09:00–12:00" in body  # konsumentvägledning
