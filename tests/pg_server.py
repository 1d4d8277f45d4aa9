"""A real PostgreSQL server for the tests, started by the suite itself (issue 17).

`pg_server` (session scope) runs Debian's `postgresql` binaries (`initdb` + `pg_ctl`, found under
/usr/lib/postgresql/*/bin or on PATH) on a throw-away data folder, listening on a free 127.0.0.1
port only (no unix socket), with fsync off: the data is thrown away, speed matters. initdb refuses
to run as root, so under root the server runs as `nobody` through `runuser`.

`TEST_DATABASE_URL=postgresql://...` uses an existing server instead (each test still gets its own
fresh database on it, so the role needs CREATEDB).

When no server can be started the PostgreSQL tests are skipped with the reason; under CI
(`CI=true`) that is an error instead, so CI can never pass without running them.

`fresh_database(server)` creates an empty database per test and returns its URL.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from tests.ports import free_port

START_TIMEOUT_S = 60


@dataclass(frozen=True)
class PgServer:
    """Where the test server listens; `admin_url` may create and drop databases."""

    admin_url: str

    def url_for(self, database: str) -> str:
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{database}"


def _bin_dir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class _LocalCluster:
    """initdb + pg_ctl in a temporary folder; `stop()` removes everything it made."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        # mkdtemp is 0700 and owned by us: make it traversable so `nobody` reaches its folder.
        self.root = Path(tempfile.mkdtemp(prefix="p2v-pg-"))
        self.root.chmod(0o755)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = free_port()
        self.as_other_user = os.geteuid() == 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = list(args)
        if self.as_other_user:
            command = ["runuser", "-u", "nobody", "--", *command]
        return subprocess.run(  # noqa: S603 (fixed binaries, arguments we built)
            command, capture_output=True, text=True, timeout=START_TIMEOUT_S, check=False
        )

    def start(self) -> str:
        self.data.mkdir(mode=0o700)
        self.log.touch()
        if self.as_other_user:
            shutil.chown(self.data, "nobody")
            shutil.chown(self.log, "nobody")
        done = self._run(
            str(self.bin_dir / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--no-sync", "--no-instructions",
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip() or done.stdout.strip()}")
        options = (
            f"-p {self.port} -h 127.0.0.1 -c unix_socket_directories='' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        done = self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.log), "-w", "-t", str(START_TIMEOUT_S), "start",
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()}\n{self._log_tail()}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text().splitlines()[-20:])
        return ""

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(
                str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"
            )
        shutil.rmtree(self.root, ignore_errors=True)


def _unavailable(reason: str) -> None:
    """Skip locally; fail under CI, where the PostgreSQL tests must run."""
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        pytest.fail(f"PostgreSQL test server unavailable under CI: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL server for the tests: {reason}")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield PgServer(external)
        return
    bin_dir = _bin_dir()
    if bin_dir is None:
        _unavailable("initdb not found (apt-get install postgresql, or set TEST_DATABASE_URL)")
    assert bin_dir is not None
    cluster = _LocalCluster(bin_dir)
    try:
        url = cluster.start()
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        cluster.stop()
        _unavailable(str(error))
        raise  # unreachable: _unavailable always raises
    try:
        yield PgServer(url)
    finally:
        cluster.stop()


async def fresh_database(server: PgServer) -> str:
    """An empty database of its own for one test (or one property example); returns its URL."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    conn = await asyncpg.connect(server.admin_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return server.url_for(name)


async def drop_database(server: PgServer, url: str) -> None:
    """Drop a database made by `fresh_database` (its connections are closed by then)."""
    name = url.rpartition("/")[2]
    conn = await asyncpg.connect(server.admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


ENGINES = ("sqlite", "postgresql")


@asynccontextmanager
async def database_target(
    engine: str, request: pytest.FixtureRequest, folder: Path
) -> AsyncIterator[str]:
    """What `Database(...)` opens for one test on `engine`: a file in `folder`, or a fresh
    PostgreSQL database (dropped afterwards). The server is only started when asked for."""
    if engine == "sqlite":
        yield str(folder / "sub" / "test.db")
        return
    server: PgServer = request.getfixturevalue("pg_server")
    url = await fresh_database(server)
    try:
        yield url
    finally:
        await drop_database(server, url)
