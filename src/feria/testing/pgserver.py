"""Throwaway PostgreSQL servers for the test suite and for local development.

Why this exists: feria runs on PostgreSQL in production, and the behaviour the
caja común depends on (row locks, serialisation failures, constraint checks)
differs from SQLite's, so the tests must exercise a real server.  They must not
depend on, or disturb, a system cluster, though: one may not exist, may be
stopped, may need a password, and tests that share it leak state into each
other and into the developer's own databases.  So each test session starts a
private server of its own:

* in a fresh temporary directory (data, socket and log all inside it),
* trusting every local connection (no passwords to configure),
* listening on a free TCP port of 127.0.0.1 only,
* with durability switched off (``fsync``, ``synchronous_commit``,
  ``full_page_writes``) because nothing it holds needs to survive a crash,

and deletes all of it when done.  PostgreSQL refuses to run as root, so when
the tests run as root (containers, CI) the server runs as the ``postgres``
system user that Debian's packages create.

Run ``python -m feria.testing.pgserver`` to get such a server by hand: it
prints the URL and keeps the server until Ctrl-C.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import quote

__all__ = ["INSTALL_HINT", "PostgresServer", "PostgresUnavailable", "find_bindir", "main"]

INSTALL_HINT = (
    "feria's tests need the PostgreSQL server programs (initdb, pg_ctl, postgres). "
    "On Debian or Ubuntu install them with `sudo apt-get install postgresql` "
    "(or `make system-deps-test`); elsewhere install PostgreSQL 13 or newer and put "
    "its bin directory on PATH, or point FERIA_PG_BINDIR at it."
)

#: Environment variable naming the directory holding initdb and pg_ctl.
BINDIR_ENV = "FERIA_PG_BINDIR"

#: The system user the server runs as when we are root.
SYSTEM_USER = "postgres"

# How often to retry on a lost race for the free port we picked.
_PORT_ATTEMPTS = 3
_LOG_TAIL_LINES = 40


class PostgresUnavailable(RuntimeError):
    """No throwaway PostgreSQL server could be started.

    A distinct type so that test fixtures can tell "this machine lacks
    PostgreSQL" (the message says how to install it) from ordinary errors.
    """


def _version_key(bindir: Path) -> tuple[int, ...]:
    """Sort key for ``/usr/lib/postgresql/<version>/bin`` so 15 beats 9.6."""
    numbers = re.findall(r"\d+", bindir.parent.name)
    return tuple(int(n) for n in numbers) if numbers else (-1,)


def _has_server_programs(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in ("initdb", "pg_ctl"))


def find_bindir() -> Path:
    """Locate the directory with PostgreSQL's ``initdb`` and ``pg_ctl``.

    Tried in order: ``$FERIA_PG_BINDIR``; ``pg_config --bindir`` (which on
    Debian may come from libpq-dev alone and point at a version whose server is
    not installed, hence the check); the newest ``/usr/lib/postgresql/*/bin``
    (Debian keeps the server programs off PATH); ``initdb`` on PATH.

    Raises:
        PostgresUnavailable: none of them has the server programs.
    """
    explicit = os.environ.get(BINDIR_ENV)
    if explicit:
        if _has_server_programs(Path(explicit)):
            return Path(explicit)
        raise PostgresUnavailable(
            f"{BINDIR_ENV}={explicit} does not contain initdb and pg_ctl. {INSTALL_HINT}"
        )

    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    candidates.extend(
        sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    )
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).resolve().parent)

    for candidate in candidates:
        if _has_server_programs(candidate):
            return candidate
    looked = ", ".join(str(c) for c in candidates) or "pg_config, /usr/lib/postgresql/*/bin, PATH"
    raise PostgresUnavailable(
        f"PostgreSQL server programs not found (looked in: {looked}). {INSTALL_HINT}"
    )


def _free_port(host: str) -> int:
    """Ask the kernel for a currently free TCP port on ``host``.

    The port is released before PostgreSQL binds it, so another process may
    grab it first; :meth:`PostgresServer.start` retries when that happens.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _world_traversable(path: Path) -> bool:
    """Whether another user (``postgres``) can reach entries below ``path``."""
    try:
        return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents))
    except OSError:
        return False


def _clean_env() -> dict[str, str]:
    """The environment for PostgreSQL's programs.

    PG* variables (PGDATA, PGPORT, PGHOST, ...) of the developer's shell would
    redirect the tools to another cluster, so they are dropped; the C locale
    keeps the log in English for the error messages we quote.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    env["LANG"] = "C"
    return env


class PostgresServer:
    """A private, disposable PostgreSQL server.

    Use it as a context manager (or call :meth:`start` and :meth:`stop`)::

        with PostgresServer() as pg:
            url = pg.create_database("feria_test")
            engine = sqlalchemy.create_engine(url)

    The superuser is ``user`` (default ``feria``), with no password: the server
    trusts every connection, and listens only on 127.0.0.1 and on a Unix socket
    inside its own directory.  The server is also stopped at interpreter exit,
    so an interrupted test run leaves no server or directory behind (a process
    killed with SIGKILL cannot clean up, though).
    """

    def __init__(
        self,
        *,
        user: str = "feria",
        host: str = "127.0.0.1",
        bindir: str | os.PathLike[str] | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.user = user
        self.host = host
        self.start_timeout = start_timeout
        self._bindir: Path | None = Path(bindir) if bindir is not None else None
        self.port: int | None = None
        self.base_dir: Path | None = None
        self._run_as: pwd.struct_passwd | None = None
        self._owner_pid: int | None = None

    # --- paths -------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory (inside :attr:`base_dir`)."""
        return self._require_base() / "data"

    @property
    def log_path(self) -> Path:
        """The server log, quoted in :class:`PostgresUnavailable` errors."""
        return self._require_base() / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        """Directory of the server's Unix socket (the base directory)."""
        return self._require_base()

    @property
    def running(self) -> bool:
        """Whether :meth:`start` succeeded and :meth:`stop` was not called."""
        return self.base_dir is not None and self.port is not None

    # --- lifecycle ---------------------------------------------------------

    def start(self) -> Self:
        """Create a fresh cluster in a temporary directory and start it.

        Idempotent while running.  On any failure everything created so far is
        removed again before :class:`PostgresUnavailable` is raised.
        """
        if self.running:
            return self
        bindir = self._bindir if self._bindir is not None else find_bindir()
        if not _has_server_programs(bindir):
            raise PostgresUnavailable(
                f"{bindir} does not contain initdb and pg_ctl. {INSTALL_HINT}"
            )
        self._bindir = bindir
        self._run_as = self._system_user() if os.geteuid() == 0 else None

        self.base_dir = Path(tempfile.mkdtemp(prefix="feria-pg-", dir=self._temp_parent()))
        self._owner_pid = os.getpid()
        atexit.register(self._stop_at_exit)
        try:
            if self._run_as is not None:
                os.chown(self.base_dir, self._run_as.pw_uid, self._run_as.pw_gid)
            self._initdb()
            self._start_postmaster()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server at once and delete its directory.

        Uses ``pg_ctl -m immediate``: nothing in a throwaway cluster is worth
        a clean shutdown.  Idempotent.  Does nothing in a forked child process,
        which must not take the parent's server away.
        """
        if self.base_dir is None or self._owner_pid != os.getpid():
            return
        base = self.base_dir
        try:
            pidfile = base / "data" / "postmaster.pid"
            if pidfile.exists():
                self._shutdown(pidfile)
        finally:
            shutil.rmtree(base, ignore_errors=True)
            self.base_dir = None
            self.port = None
            atexit.unregister(self._stop_at_exit)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"port={self.port}" if self.running else "stopped"
        return f"<PostgresServer {self.user}@{self.host} {state}>"

    # --- databases ---------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver) of database ``dbname``."""
        port = self._require_port()
        user, db = quote(self.user, safe=""), quote(dbname, safe="")
        return f"postgresql+psycopg://{user}@{self.host}:{port}/{db}"

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq connection string of ``dbname``, for psycopg or psql."""
        from psycopg.conninfo import make_conninfo

        return make_conninfo(
            host=self.host, port=self._require_port(), user=self.user, dbname=dbname
        )

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create database ``name`` (optionally as a copy of ``template``).

        Copying a template that already holds the migrated schema is much
        faster than migrating each test database; PostgreSQL requires that
        nobody is connected to the template while it is copied.

        Returns:
            The SQLAlchemy URL of the new database.
        """
        from psycopg import sql

        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        self._admin_execute(statement)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop database ``name`` if it exists, even if connections are open.

        ``WITH (FORCE)`` (PostgreSQL 13+) ends leftover sessions, e.g. of a
        connection pool a failed test did not dispose of, instead of failing.
        """
        from psycopg import sql

        self._admin_execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )

    # --- internals ---------------------------------------------------------

    def _require_base(self) -> Path:
        if self.base_dir is None:
            raise RuntimeError("PostgresServer is not started")
        return self.base_dir

    def _require_port(self) -> int:
        if self.port is None:
            raise RuntimeError("PostgresServer is not started")
        return self.port

    def _admin_execute(self, statement: object) -> None:
        import psycopg

        with psycopg.connect(self.conninfo("postgres"), autocommit=True) as conn:
            conn.execute(statement)  # type: ignore[arg-type]

    def _system_user(self) -> pwd.struct_passwd:
        """The unprivileged account to run PostgreSQL as when we are root."""
        try:
            return pwd.getpwnam(SYSTEM_USER)
        except KeyError:
            raise PostgresUnavailable(
                f"Running as root, but there is no '{SYSTEM_USER}' system user to run "
                f"PostgreSQL as (it refuses to run as root). {INSTALL_HINT}"
            ) from None

    def _temp_parent(self) -> str | None:
        """Where to create the base directory.

        The default temp dir, unless we run the server as another user who
        could not reach it (e.g. TMPDIR under /root); then /tmp.
        """
        default = Path(tempfile.gettempdir())
        if self._run_as is None or _world_traversable(default):
            return None
        return "/tmp"

    def _run(
        self, args: Sequence[str | os.PathLike[str]], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """Run a PostgreSQL program, as the ``postgres`` user if we are root."""
        kwargs: dict[str, object] = {}
        if self._run_as is not None:
            kwargs.update(user=self._run_as.pw_uid, group=self._run_as.pw_gid, extra_groups=[])
        try:
            return subprocess.run(
                [str(a) for a in args],
                cwd=self._require_base(),
                env=_clean_env(),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                **kwargs,  # type: ignore[call-overload]
            )
        except (OSError, subprocess.SubprocessError) as exc:
            raise PostgresUnavailable(f"Could not run {args[0]}: {exc}. {INSTALL_HINT}") from exc

    def _program(self, name: str) -> Path:
        assert self._bindir is not None
        return self._bindir / name

    def _initdb(self) -> None:
        result = self._run(
            [
                self._program("initdb"),
                "--pgdata",
                self.data_dir,
                "--auth",
                "trust",
                "--username",
                self.user,
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                "--no-sync",  # the cluster is thrown away; skip the fsyncs
            ],
            timeout=self.start_timeout,
        )
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"initdb failed (exit status {result.returncode}):\n"
                f"{result.stdout}{result.stderr}\n{INSTALL_HINT}"
            )

    def _start_postmaster(self) -> None:
        """Start the server on a free port, retrying if the port was taken."""
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            port = _free_port(self.host)
            options = " ".join(
                [
                    f"-k {shlex.quote(str(self.socket_dir))}",
                    f"-p {port}",
                    f"-c listen_addresses={self.host}",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                ]
            )
            result = self._run(
                [
                    self._program("pg_ctl"),
                    "--pgdata",
                    self.data_dir,
                    "--log",
                    self.log_path,
                    "--wait",
                    "--timeout",
                    str(max(1, int(self.start_timeout))),
                    "-o",
                    options,
                    "start",
                ],
                timeout=self.start_timeout + 10,
            )
            if result.returncode == 0:
                self.port = port
                return
            tail = self._log_tail()
            port_taken = "Address already in use" in tail or "could not bind" in tail
            if port_taken and attempt < _PORT_ATTEMPTS:
                continue
            raise PostgresUnavailable(
                f"PostgreSQL did not start (pg_ctl exit status {result.returncode}):\n"
                f"{result.stdout}{result.stderr}\n"
                f"--- last lines of {self.log_path} ---\n{tail}\n{INSTALL_HINT}"
            )

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(lines[-_LOG_TAIL_LINES:])

    def _shutdown(self, pidfile: Path) -> None:
        """Stop the postmaster; signal it directly if pg_ctl cannot."""
        with contextlib.suppress(PostgresUnavailable):
            result = self._run(
                [
                    self._program("pg_ctl"),
                    "--pgdata",
                    self.data_dir,
                    "--mode",
                    "immediate",
                    "--wait",
                    "stop",
                ],
                timeout=30,
            )
            if result.returncode == 0:
                return
        try:
            pid = int(pidfile.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return
        for sig, grace in ((signal.SIGQUIT, 10.0), (signal.SIGKILL, 5.0)):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
            deadline = time.monotonic() + grace
            while time.monotonic() < deadline:
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    return
                time.sleep(0.05)

    def _stop_at_exit(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Start a throwaway server and keep it until Ctrl-C (or SIGTERM)."""
    parser = argparse.ArgumentParser(
        prog="python -m feria.testing.pgserver",
        description="Start a throwaway PostgreSQL server for development; "
        "it and its data are deleted on Ctrl-C.",
    )
    parser.add_argument("--user", default="feria", help="superuser name (default: feria)")
    parser.add_argument(
        "--database",
        metavar="NAME",
        help="also create database NAME and print its URL",
    )
    args = parser.parse_args(argv)

    # Ctrl-C raises KeyboardInterrupt even when started with SIGINT ignored
    # (e.g. in the background of a script), and SIGTERM exits normally, so
    # that either way the context manager deletes the server.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    try:
        with PostgresServer(user=args.user) as server:
            dbname = args.database or "postgres"
            if args.database:
                server.create_database(args.database)
            print(f"PostgreSQL is running (data in {server.base_dir}).", flush=True)
            print(f"SQLAlchemy URL: {server.url(dbname)}", flush=True)
            print(f"psql:           psql '{server.conninfo(dbname)}'", flush=True)
            print("Press Ctrl-C to stop it and delete its data.", flush=True)
            while True:
                signal.pause()
    except KeyboardInterrupt:
        print("\nStopped.", flush=True)
    except PostgresUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
