"""Which store ``--db`` names: a PostgreSQL URL, or a SQLite file."""

from __future__ import annotations

import os

from mock_api.storage import Store

__all__ = ["POSTGRES_SCHEMES", "is_postgres_url", "open_database"]

#: The URL schemes ``--db`` takes for PostgreSQL (libpq's, and SQLAlchemy's spelling).
POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(db: object) -> bool:
    """Does ``--db`` name a PostgreSQL database rather than a SQLite file?"""
    return isinstance(db, str) and db.lower().startswith(POSTGRES_SCHEMES)


def open_database(db: str | os.PathLike[str]) -> Store:
    """The store ``--db`` names: a ``postgresql://`` URL, or a SQLite file's path."""
    if is_postgres_url(db):
        from mock_api.storage.postgres import PostgresStore

        return PostgresStore(str(db))
    from mock_api.storage.sqlite import SqliteStore

    return SqliteStore(os.fspath(db))
