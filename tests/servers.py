"""Real processes for tests: gunicorn with the repository's config, the scheduler, and a TCP proxy
in front of PostgreSQL that a test can cut, hang or restore (a database outage on demand)."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import make_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Response:
    status: int
    headers: Mapping[str, str]
    body: str
    seconds: float
    #: Every Set-Cookie header (``headers`` keeps only one of them).
    cookies: list[str] = field(default_factory=list)


def fetch(
    url: str, *, headers: Mapping[str, str] | None = None, data: bytes | None = None, timeout: float = 40
) -> Response:
    """One HTTP request; any status is an answer (only a refused or dropped connection raises)."""
    request = urllib.request.Request(url, data=data, headers=dict(headers or {}))
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Response(answer.status, dict(answer.headers), answer.read().decode(), time.monotonic() - started,
                            answer.headers.get_all("Set-Cookie") or [])  # fmt: skip
    except urllib.error.HTTPError as error:
        return Response(error.code, dict(error.headers), error.read().decode(), time.monotonic() - started,
                        error.headers.get_all("Set-Cookie") or [])  # fmt: skip


def wait_until(check, timeout: float, interval: float = 0.2):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except Exception as error:  # not yet
            last = error
        else:
            if result:
                return result
        time.sleep(interval)
    raise AssertionError(f"not within {timeout}s (last error: {last!r})")


def spawn(command: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start a process in the repository, its output going to ``log``."""
    with log.open("wb") as out:
        return subprocess.Popen(command, cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT)


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


@dataclass
class Gunicorn:
    """``gunicorn -c gunicorn.conf.py wsgi:app`` on a free port."""

    env: dict[str, str]
    workers: int = 2
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, log: Path) -> Gunicorn:
        self.log = log
        command = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-w", str(self.workers),
                   "-b", f"127.0.0.1:{self.port}", "wsgi:app"]  # fmt: skip
        self.process = spawn(command, self.env, log)
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def worker_pids(self) -> list[int]:
        assert self.process is not None
        return children(self.process.pid)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def base_env(database_url: str, **extra: str) -> dict[str, str]:
    # REDIS_URL too: a test that wants the Redis stream says so (it needs a consumer running).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "PROMETHEUS_")) and k != "REDIS_URL"}
    # Like make_app: no holdout and no control groups unless a test is about them.
    env.update(DATABASE_URL=database_url, SECRET_KEY="test-secret-key", PYTHONUNBUFFERED="1",
               TESSERA_HOLDOUT_SHARE="0", TESSERA_RULE_CONTROL_SHARE="0")  # fmt: skip
    env.update(extra)
    return env


@contextlib.contextmanager
def fresh_postgres_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server of ``server_url``, dropped afterwards."""
    import psycopg

    url = make_url(server_url)
    name = f"tessera_{uuid.uuid4().hex[:12]}"
    admin = dict(
        host=url.host or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres", dbname="postgres"
    )
    with psycopg.connect(**admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(**admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Proxy:
    """A TCP proxy to PostgreSQL with switches: ``refuse`` (down), ``hang`` (silent), ``drop`` (restart)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self.mode = "up"
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._closed = False
        self._listen()

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        while self.mode == "hang":
            time.sleep(0.05)
        try:
            upstream = socket.create_connection(self.target)
        except OSError:
            client.close()
            return
        with self._lock:
            self._pairs.append((client, upstream))
        threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
        threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                if self.mode == "hang":
                    time.sleep(0.05)  # bytes wait in the kernel: the peer hears nothing
                    continue
                ready, _, _ = select.select([source], [], [], 0.05)
                if not ready:
                    continue
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except (OSError, ValueError):  # the other side closed it
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def drop(self) -> None:
        """Close every open connection, as a restarting database does."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for s in pair:
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def refuse(self) -> None:
        """The database is down: connections are refused and open ones dropped."""
        self.mode = "down"
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread; close alone does not
            self._listener.close()
            self._listener = None
        self.drop()

    def hang(self) -> None:
        """The database hangs: connections open, nothing ever answers."""
        if self._listener is None:
            self._listen()
        self.mode = "hang"

    def restore(self) -> None:
        self.mode = "up"
        if self._listener is None:
            self._listen()

    def close(self) -> None:
        self.refuse()
