"""Login lands on the role's own page, and the menu shows each role exactly the pages it may open."""

import re

import pytest

from tests.conftest import ADMIN_PASSWORD, login

ALL = ["/console", "/directory", "/callbacks", "/requests", "/stats", "/admin/flow", "/admin/hours",
       "/admin/directory", "/admin/audit"]


def menu(client, path: str) -> list[str]:
    page = client.get(path).get_data(as_text=True)
    return re.findall(r'href="([^"]+)"', re.search(r'<nav class="roles".*?</nav>', page, re.S).group(0))


@pytest.mark.parametrize("user,password,home,links", [
    ("operator", "demo-operator-2026", "/console", ["/console", "/directory", "/callbacks", "/requests", "/stats"]),
    ("statistik", "demo-statistik-2026", "/stats", ["/stats"]),
    ("lss", "demo-lss-2026", "/requests", ["/requests"]),
    ("chefen", ADMIN_PASSWORD, "/stats", ALL),
])
def test_login_lands_on_the_roles_page_and_the_menu_shows_only_what_it_may_open(app, client, user, password,
                                                                                 home, links):
    from switchboard.auth import add_user

    with app.extensions["vaxel"].sessions() as session:
        add_user(session, "chefen", "admin", ADMIN_PASSWORD, "Cecilia Chef")
        session.commit()
    reply = login(client, user, password)
    assert reply.status_code == 302 and reply.headers["Location"] == home
    assert menu(client, home) == links
    for path in ALL:  # what the menu leaves out is refused, what it shows opens
        assert client.get(path).status_code == (200 if path in links else 403), path
