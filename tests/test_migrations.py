"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core.db import Base


def test_migrations_match_the_models(app):
    engine = app.extensions["vaxel"].engine
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == [], "a model changed without a migration (or the other way round): " + repr(diff)
