"""The whole schema and its migrations: every package's models, and Alembic to build them.

This is wiring, so it lives at the top: it imports the models of every package
so ``Base.metadata`` knows all tables (for tests and Alembic's autogenerate).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "heads") -> None:
    """Run the Alembic migrations up to ``revision`` (every branch head by default)."""
    command.upgrade(alembic_config(url), revision)


def import_models() -> None:
    """Import every package's models so ``Base.metadata`` knows all tables."""
    import callback.models  # noqa: F401
    import callback.queue  # noqa: F401
    import directory.models  # noqa: F401
    import ivr.models  # noqa: F401
    import stats.models  # noqa: F401
    import core.audit  # noqa: F401
    import core.versions  # noqa: F401
    import switchboard.auth  # noqa: F401
    import switchboard.console.models  # noqa: F401
    import switchboard.twilio.models  # noqa: F401
