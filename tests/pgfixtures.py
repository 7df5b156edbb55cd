"""PostgreSQL for the tests: one throwaway server per run, a fresh database per test.

``pg_url`` is the URL of an empty database that exists for one test (UTF-8, C collation,
so text sorts byte-wise on any server, as SQLite does) and is dropped after it, however
it ended. The server behind it is started once for the whole run, shared by every xdist
worker (``tests/once.py``), and stopped by its supervisor when the run's process exits
(``tests/pgserver.py``). ``WAVESPEED_TEST_PG_URL`` names a server to use instead (the URL
of a user allowed to create databases; PostgreSQL 13 or newer).

Without PostgreSQL (its server binaries, or psycopg) the tests that use it fail, naming
what to install: a machine that should run them finds out. ``WAVESPEED_TEST_NO_POSTGRES=1``
skips them instead, saying why, except in CI (``CI`` set), where they always run.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests import pgserver
from tests.once import once_per_run

if TYPE_CHECKING:
    import psycopg

ENV_URL = "WAVESPEED_TEST_PG_URL"
ENV_SKIP = "WAVESPEED_TEST_NO_POSTGRES"
#: What the tests need from psycopg (the driver the store uses).
PSYCOPG = "psycopg[binary]>=3.2"
#: Every test database's name starts so: a run killed while using a server of its own
#: leaves nothing, but one using ``WAVESPEED_TEST_PG_URL`` may leave such databases.
DB_PREFIX = "wavespeed_test_"


class PgServer:
    """A PostgreSQL server the tests may create databases on, through its admin URL."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self._admin: psycopg.Connection[tuple[object, ...]] | None = None

    def url(self, dbname: str) -> str:
        """The admin URL, to database ``dbname``."""
        parts = urlsplit(self.admin_url)
        return urlunsplit(parts._replace(path=f"/{dbname}"))

    @contextmanager
    def database(self) -> Iterator[str]:
        """A new empty database's URL, dropped on the way out (connections and all)."""
        from psycopg import sql

        admin = self._connection()
        name = f"{DB_PREFIX}{secrets.token_hex(6)}"
        # template0: nothing anyone added to template1. FILE_COPY copies the template's
        # files, faster for one this small than PostgreSQL 15's default (WAL_LOG), which
        # writes every page to the WAL; a server older than 15 only copies files.
        strategy = sql.SQL(" STRATEGY FILE_COPY" if admin.info.server_version >= 150000 else "")
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' LOCALE 'C'{}").format(
                sql.Identifier(name), strategy
            )
        )
        try:
            yield self.url(name)
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))

    @property
    def version(self) -> int:
        """The server's version as a number: 150018 is 15.18."""
        return self._connection().info.server_version

    def _connection(self) -> psycopg.Connection[tuple[object, ...]]:
        import psycopg

        if self._admin is None or self._admin.closed:
            self._admin = psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10)
        return self._admin

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()


def in_ci(env: Mapping[str, str]) -> bool:
    return env.get("CI", "").lower() not in ("", "0", "false", "no")


def unavailable(problem: str, env: Mapping[str, str]) -> NoReturn:
    """Fail with ``problem`` and the ways out, or skip when the user opted out (not in CI)."""
    if env.get(ENV_SKIP) and not in_ci(env):
        pytest.skip(f"{problem} ({ENV_SKIP} is set)")
    ignored = f"; {ENV_SKIP} is ignored in CI" if env.get(ENV_SKIP) else ""
    pytest.fail(
        f"{problem}. Or set {ENV_URL} to a server's admin URL, or {ENV_SKIP}=1 to skip "
        f"the PostgreSQL tests (outside CI){ignored}",
        pytrace=False,
    )


def open_server(
    config: pytest.Config, tmp_path_factory: pytest.TempPathFactory, env: Mapping[str, str]
) -> PgServer:
    """The run's server: ``WAVESPEED_TEST_PG_URL``'s, or one started for the run."""
    if env.get(ENV_SKIP) and not in_ci(env):
        pytest.skip(f"{ENV_SKIP} is set: the PostgreSQL tests are skipped")
    try:
        import psycopg  # noqa: F401 - only whether it is there
    except ImportError:
        unavailable(f'psycopg is not installed: pip install "{PSYCOPG}"', env)
    if url := env.get(ENV_URL):
        if urlsplit(url).scheme not in ("postgresql", "postgres"):
            pytest.fail(f"{ENV_URL} must be a postgresql:// URL, not {url!r}", pytrace=False)
        return _checked(PgServer(url))
    bindir = pgserver.find_bindir(env)
    if bindir is None:
        unavailable(
            "PostgreSQL's server binaries (initdb, postgres) are not installed: "
            f"{pgserver.INSTALL} (Debian, Ubuntu; elsewhere the postgresql server package), "
            f"or set {pgserver.ENV_BINDIR} to their directory",
            env,
        )
    # The run's process: an xdist worker's parent is its controller.
    watch = os.getppid() if hasattr(config, "workerinput") else os.getpid()

    def start(where: Path) -> None:
        started = pgserver.start(bindir, watch, where / "supervisor.log")
        (where / "server.json").write_text(json.dumps({"url": started.url, "pid": started.pid}))

    try:
        where = once_per_run(tmp_path_factory, "postgres", start)
    except pgserver.ServerError as exc:
        pytest.fail(f"the PostgreSQL server did not start: {exc}", pytrace=False)
    return _checked(PgServer(json.loads((where / "server.json").read_text())["url"]))


def _checked(server: PgServer) -> PgServer:
    import psycopg

    try:
        version = server.version
    except psycopg.Error as exc:
        pytest.fail(
            f"cannot connect to PostgreSQL at {_redacted(server.admin_url)}: {exc}", pytrace=False
        )
    if version < 130000:  # DROP DATABASE ... WITH (FORCE), CREATE DATABASE ... LOCALE
        pytest.fail(f"PostgreSQL 13 or newer is needed, the server is {version}", pytrace=False)
    return server


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


@pytest.fixture(scope="session")
def pg_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PgServer]:
    """The run's PostgreSQL server (see the module's docstring)."""
    server = open_server(request.config, tmp_path_factory, os.environ)
    yield server
    server.close()


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    with pg_server.database() as url:
        yield url
