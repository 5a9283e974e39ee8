"""Load benchmark: the home page under gunicorn and wrk, against the bare-bytes floor, in one run.

    python bench/load.py [--workers 2] [--database URL] [--duration 15] [--connections 16]
                         [--visitors 1000]
    python bench/load.py --events [--workers 2] [--database URL] [--batch 20]
    ... [--redis redis://127.0.0.1:6379/0]   # writes through a Redis stream and its consumer

Pages mode. On a fresh database (SQLite in a temporary folder, or with
``--database postgresql+psycopg://user@host:port/any`` a new database on that
server, dropped afterwards) it

1. prepares visitors through the app itself (the Flask test client on the
   same database, before gunicorn starts, with the clock set a day back so
   that they come back as returning visitors): ``--visitors`` readers with a
   full profile (guides of one topic read, pricing viewed twice, beacon
   events; ``render.py``'s reader, over its 54 device, country, time-zone and
   language contexts), and as many who browsed the same way and then switched
   every layer off on ``/preferences``. Their signed cookies are collected;
2. starts ``gunicorn -c gunicorn.conf.py -w N wsgi:app`` (holdout share 0,
   scheduler off, ``TESSERA_PROXY_HOPS=1`` so that each visitor's
   ``X-Forwarded-For`` address gives their country, as behind a proxy),
   captures the home page one personalized visitor gets, and starts a second
   gunicorn with the same settings serving those bytes and headers from a
   bare Flask view (``bench/bare.py``): the floor;
3. drives each target with wrk (``bench/load.lua``: each request the next
   visitor's cookie, User-Agent, language and address), a warm-up and then
   ``--duration`` seconds: the floor, the personalized page (returning
   visitors with full profiles) and the page with every layer off;
4. prints requests/s, p50 and p99 latency, the gunicorn workers' CPU time per
   request, the ratios against the targets, and what it checked: every
   request answered 200, one exposure row per page served, no error in
   gunicorn's logs. It exits with 1 when a check fails (missed targets are
   reported, not failures).

Writes (``--redis URL``): by default the app's writes go through its
in-process buffer (no Redis, the embedded default). With ``--redis`` they go
through a Redis stream (``TESSERA_WRITES=stream``) and one ``flask --app wsgi
jobs ingest`` consumer process, started with gunicorn; the consumer's CPU,
during the run and catching up after it until the rows settle, is counted
in the server's CPU per request, and its log is checked for errors too.

Events mode (``--events``): ``POST /events`` through gunicorn, each request a
different visitor's cookie with ``--batch`` events of fresh UUID4 ids, the
Origin header set, rate limits raised for the run; events/s accepted, checked
against the answers' ``accepted`` counts and the rows in the database.

wrk, the servers and PostgreSQL share the machine and nothing is pinned
(on two cores, pinning wrk to one would take half the machine from two
workers). So every run also says where the CPU went, in cores: the gunicorn
processes', wrk's and the rest of the machine's (PostgreSQL, other users);
the server's CPU time per request is the figure least moved by neighbours.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))

from render import browse_as_reader, contexts  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from app.store.writes import STREAM  # noqa: E402
from tests.servers import free_port, fresh_postgres_database, spawn, wait_until  # noqa: E402

BIN = Path(sys.executable).parent
SECRET = "bench-load-secret"
WARMUP = 3  # seconds of wrk before each measured run
#: Response headers the server sets itself; the floor gets every other header of the captured page.
SERVER_HEADERS = {"date", "server", "connection", "content-length", "transfer-encoding"}
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL|Traceback|WORKER TIMEOUT)\b|\[ERROR\]|\[CRITICAL\]")
TARGET_FLOOR_SHARE, TARGET_OFF_RATIO, TARGET_P99_MS, TARGET_EVENTS = 0.50, 1.10, 25.0, 10_000


@dataclass(frozen=True)
class Visitor:
    """A prepared visitor as wrk sends them: their cookies (signed id and time zone) and request headers."""

    cookie: str
    agent: str
    language: str
    address: str

    def line(self) -> str:
        return "\t".join((self.cookie, self.agent, self.language, self.address))

    def headers(self) -> dict[str, str]:
        return {"Cookie": self.cookie, "User-Agent": self.agent, "Accept-Language": self.language,
                "X-Forwarded-For": self.address}  # fmt: skip


@dataclass
class Run:
    """One wrk run's figures (from load.lua's done() line) and the servers' CPU time spent on it."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    socket_errors: int
    status_errors: int
    not_ok: int
    answers: int
    accepted: int
    server_cpu_s: float
    wrk_cpu_s: float
    machine_cpu_s: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms_per_request(self) -> float:
        return self.server_cpu_s / max(self.requests, 1) * 1e3

    def cores(self) -> str:
        """CPU used during the run, in cores: the server's, wrk's and the rest of the machine's."""
        rest = self.machine_cpu_s - self.server_cpu_s - self.wrk_cpu_s
        return "/".join(f"{c / self.seconds:.2f}" for c in (self.server_cpu_s, self.wrk_cpu_s, max(rest, 0)))


class Checks:
    """What the run verified, printed one line each; any failure makes the exit code 1."""

    def __init__(self) -> None:
        self.lines: list[tuple[bool, str]] = []

    def add(self, ok: bool, line: str) -> None:
        self.lines.append((ok, line))

    @property
    def ok(self) -> bool:
        return all(ok for ok, _ in self.lines)

    def print(self) -> None:
        print("checks:")
        for ok, line in self.lines:
            print(f"  [{'ok' if ok else 'FAILED'}] {line}")


# --- the database ------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(server_url: str | None, folder: Path) -> Iterator[str]:
    if server_url is None:
        yield f"sqlite:///{folder / 'load.sqlite'}"
    else:
        with fresh_postgres_database(server_url) as url:
            yield url


def count_rows(url: str, table: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def settled_count(url: str, table: str, stream: tuple[str, str] | None = None) -> int:
    """The row count once in-flight requests (sent before wrk stopped) have been recorded.

    With ``stream`` (a Redis URL and the write stream's key), first until the consumer has
    applied the whole stream: it deletes what it acknowledged, so an empty stream is a drained
    one (a consumer behind by more than half a second's batch must not look settled).
    """
    if stream is not None:
        import redis

        client = redis.Redis.from_url(stream[0])
        try:
            while client.xlen(stream[1]):
                time.sleep(0.2)
        finally:
            client.close()
    last = count_rows(url, table)
    while True:
        time.sleep(0.5)
        now = count_rows(url, table)
        if now == last:
            return now
        last = now


# --- visitors, prepared through the app (the test client) ---------------------------------------


def prepare_visitors(url: str, readers: int, layers_off: int, *, profile: bool) -> tuple[list[Visitor], list[Visitor]]:
    """Visitors made through the app, a day ago: ``readers`` with every layer on, ``layers_off`` without.

    With ``profile`` each browses like ``render.py``'s reader first (six pages and two beacon
    events); the layers-off visitors then switch every layer off on /preferences. One process
    per CPU shares the work, each with its own app on the same database; they end as an app
    process does (not killed), so that writes the app holds back are applied before gunicorn starts.
    """
    total, jobs = readers + layers_off, os.cpu_count() or 1
    slices = [(url, range(j, total, jobs), readers, profile) for j in range(jobs)]
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        made = sorted((v for part in pool.map(_prepare_slice, slices) for v in part), key=lambda item: item[0])
    return [v for i, v in made if i < readers], [v for i, v in made if i >= readers]


def _prepare_slice(job: tuple[str, range, int, bool]) -> list[tuple[int, Visitor]]:
    from app import create_app

    url, indices, readers, profile = job

    def yesterday() -> datetime:
        return datetime.now(UTC).replace(tzinfo=None) - timedelta(days=1)

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": SECRET, "WTF_CSRF_ENABLED": False,
                      "HOLDOUT_SHARE": 0.0, "SCHEDULER": "off", "PROXY_HOPS": 0, "CLOCK": yesterday,
                      "RATE_LIMIT_VISITOR": 10**9, "RATE_LIMIT_ADDRESS": 10**9,
                      "WRITES": "direct"})  # fmt: skip
    spread = contexts()
    made = []
    for i in indices:
        ctx = spread[i % len(spread)]
        client = app.test_client()
        client.set_cookie("tz", ctx["tz"])
        headers = {"User-Agent": ctx["ua"], "Accept-Language": ctx["lang"]}
        if profile:
            browse_as_reader(client, ctx, topic=i % 3)
        else:
            client.get("/", headers=headers, environ_base={"REMOTE_ADDR": ctx["ip"]})
        if i >= readers:
            answer = client.post("/preferences", data={}, headers=headers)  # no box ticked: every layer off
            assert answer.status_code == 303, answer.status_code
        cookie = client.get_cookie("tessera_vid")
        assert cookie is not None
        made.append((i, Visitor(f"tessera_vid={cookie.value}; tz={ctx['tz']}", ctx["ua"], ctx["lang"], ctx["ip"])))
    return made


# --- servers -----------------------------------------------------------------------------------


@dataclass
class Server:
    """A gunicorn master started by this script, its port and its log (output and errors)."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def pids(self) -> list[int]:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True)
        return [self.process.pid, *(int(p) for p in out.stdout.split())]

    def cpu_seconds(self) -> float:
        """User and system CPU time of the master and its workers so far."""
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def errors(self) -> list[str]:
        return [line for line in self.log.read_text(errors="replace").splitlines() if ERROR_LINE.search(line)]


def start_gunicorn(target: str, workers: int, env: dict[str, str], log: Path) -> Server:
    port = free_port()
    command = [str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "-w", str(workers),
               "-b", f"127.0.0.1:{port}", target]  # fmt: skip
    server = Server(spawn(command, env, log), port, log)

    def up() -> bool:  # any answer will do (the floor has no static files)
        if server.process.poll() is not None:
            raise SystemExit(f"gunicorn {target} exited:\n{log.read_text()}")
        return get(port, "/static/tessera.css", {})[0] > 0

    wait_until(up, timeout=60)
    return server


def start_consumer(env: dict[str, str], log: Path) -> Server:
    """``flask --app wsgi jobs ingest``: the consumer that applies the Redis stream's writes (``--redis``)."""
    command = [str(BIN / "flask"), "--app", "wsgi", "jobs", "ingest"]
    return Server(spawn(command, env, log), 0, log)


def get(port: int, path: str, headers: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        answer = connection.getresponse()
        return answer.status, answer.getheaders(), answer.read()
    finally:
        connection.close()


def header_bytes(headers: list[tuple[str, str]]) -> int:
    return sum(len(f"{name}: {value}\r\n") for name, value in headers)


def layers_shown(html: bytes) -> str:
    found = re.findall(rb'data-layer="([a-z]+)"', html)
    counts = {layer.decode(): found.count(layer) for layer in dict.fromkeys(found)}
    return ", ".join(f"{layer} {n}" for layer, n in counts.items())


# --- wrk -----------------------------------------------------------------------------------------


def wrk(url: str, seconds: int, args: argparse.Namespace, lua_args: list[str], servers: list[Server]) -> Run:
    """Run wrk with ``load.lua``: events mode when ``lua_args`` has an origin and a batch size."""
    command = ["wrk", "-t1", f"-c{args.connections}", f"-d{seconds}s", "--timeout", "10s",
               "-s", str(BENCH / "load.lua"), url, "--", *lua_args]  # fmt: skip
    cpu_before, machine_before = sum(s.cpu_seconds() for s in servers), machine_cpu_seconds()
    own_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    mode = "events" if len(lua_args) > 1 else "pages"
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "BENCH_LOAD_MODE": mode})
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    out = done.stdout
    own_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_after, machine_after = sum(s.cpu_seconds() for s in servers), machine_cpu_seconds()
    line = next(line for line in out.splitlines() if line.startswith("WRK_JSON "))
    figures = json.loads(line.removeprefix("WRK_JSON "))
    wrk_cpu = (own_after.ru_utime - own_before.ru_utime) + (own_after.ru_stime - own_before.ru_stime)
    return Run(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1e3,
        p99_ms=figures["p99_us"] / 1e3,
        socket_errors=sum(figures[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts")),
        status_errors=figures["status_errors"],
        not_ok=figures["not_ok"],
        answers=figures["answers"],
        accepted=figures["accepted"],
        server_cpu_s=cpu_after - cpu_before,
        wrk_cpu_s=wrk_cpu,
        machine_cpu_s=machine_after - machine_before,
    )


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy (every process, PostgreSQL and other users' too)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait


# --- the two modes -------------------------------------------------------------------------------


def pages(args: argparse.Namespace, url: str, env: dict[str, str], folder: Path, checks: Checks) -> None:
    """The home page: the floor, personalized and layers off, each with a warm-up, then the table."""
    started = time.monotonic()
    readers, layers_off = prepare_visitors(url, args.visitors, args.visitors, profile=True)
    print(f"prepared {len(readers)} readers with full profiles and {len(layers_off)} with every layer off "
          f"in {time.monotonic() - started:.0f} s (the test client, clock a day back)")  # fmt: skip
    files = {}
    for name, visitors in (("on", readers), ("off", layers_off)):
        files[name] = folder / f"visitors-{name}.tsv"
        files[name].write_text("".join(v.line() + "\n" for v in visitors))

    app = start_gunicorn("wsgi:app", args.workers, env, folder / "app.log")
    consumer = start_consumer(env, folder / "consumer.log") if args.redis else None
    stream = (args.redis, f"{env['TESSERA_REDIS_PREFIX']}:{STREAM}") if args.redis else None
    bare = None
    try:
        # What the visitors get, one of each context: every layer on, and every layer off.
        for name, visitors in (("personalized", readers), ("layers off", layers_off)):
            sample = [get(app.port, "/", v.headers()) for v in visitors[: len(contexts())]]
            assert all(status == 200 for status, _, _ in sample), [status for status, _, _ in sample]
            sizes = [len(body) for _, _, body in sample]
            print(f"{name}: {len(sample)} contexts, pages of {min(sizes):,}-{max(sizes):,} bytes; blocks by "
                  f"layer: {layers_shown(b''.join(body for _, _, body in sample))}")  # fmt: skip
        # The floor's page: a desktop reader's (the phone pages are shorter).
        captured = readers[min(len(readers) - 1, 2 * len(contexts()) // 3)]
        status, headers, body = get(app.port, "/", captured.headers())
        kept = [(n, v) for n, v in headers if n.lower() not in SERVER_HEADERS]
        new_id = [v for n, v in kept if n.lower() == "set-cookie" and v.startswith("tessera_vid=")]
        checks.add(status == 200 and not new_id, f"a prepared visitor is recognized (status {status}, "
                   f"{'a new visitor cookie' if new_id else 'no new visitor cookie'})")  # fmt: skip
        print(f"floor page: {len(body):,} bytes ({captured.agent.split('(')[1].split(';')[0]}; "
              f"blocks by layer: {layers_shown(body)})")  # fmt: skip
        capture = folder / "capture.json"
        capture.write_text(json.dumps({"headers": kept, "body": body.decode("utf-8")}))
        bare = start_gunicorn("bench.bare:app", args.workers, {**env, "BENCH_BARE_PAGE": str(capture)},
                              folder / "bare.log")  # fmt: skip
        status, bare_headers, bare_body = get(bare.port, "/", {})
        checks.add(
            status == 200 and bare_body == body,
            f"floor serves the captured bytes ({len(bare_body):,}); headers {header_bytes(bare_headers)} bytes "
            f"vs the app's {header_bytes(headers)}",
        )

        results: dict[str, Run] = {}
        for name, server, lua in (("floor", bare, files["on"]), ("personalized", app, files["on"]),
                                  ("layers off", app, files["off"])):  # fmt: skip
            before = count_rows(url, "exposures")
            warm = wrk(server.url, WARMUP, args, [str(lua)], [server])
            if consumer is not None and server is app:
                settled_count(url, "exposures", stream)  # the warm-up's writes applied before the measured run
            consumer_from = consumer.cpu_seconds() if consumer is not None else 0.0
            run = wrk(server.url, args.duration, args, [str(lua)], [server])
            results[name] = run
            served = warm.requests + run.requests
            failed = warm.status_errors + run.status_errors
            broken = warm.socket_errors + run.socket_errors
            checks.add(
                failed == 0 and broken == 0,
                f"{name}: {served:,} requests (warm-up {warm.requests:,}); wrk: {failed} statuses over 399, "
                f"{broken} socket errors or timeouts",
            )
            if server is app:
                rows = settled_count(url, "exposures", stream) - before
                if consumer is not None:
                    # The consumer's CPU is the pages' too: it does the writes the workers handed over,
                    # during the run and catching up after it (until the rows settled).
                    run.server_cpu_s += consumer.cpu_seconds() - consumer_from
                # wrk stops counting at its deadline; requests already sent are still served and recorded.
                in_flight = rows - served
                # One row per page rendered: a response that was not a rendered page (a redirect, an
                # error page) would leave a row missing.
                checks.add(
                    0 <= in_flight <= 2 * args.connections,
                    f"{name}: {rows:,} exposure rows for {served:,} counted responses, so every one a rendered "
                    f"page ({in_flight} more answered after wrk's deadline; at most one per connection and run)",
                )
    finally:
        # Read before stopping: gunicorn logs its own SIGTERM to the workers as an error.
        logs = {name: server.errors() for name, server in (("app", app), ("floor", bare), ("consumer", consumer))
                if server is not None}  # fmt: skip
        for server in (bare, app, consumer):
            if server is not None:
                server.stop()
    for name, errors in logs.items():
        process = "flask jobs ingest" if name == "consumer" else "gunicorn"
        checks.add(not errors, f"{name} log ({process}): {len(errors)} error lines" + (
            "\n      " + "\n      ".join(errors[:10]) if errors else ""))  # fmt: skip

    floor, on, off = results["floor"], results["personalized"], results["layers off"]
    print()
    print(f"{'target':<14}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'requests':>10}{'server CPU ms/req':>19}"
          f"   cores used: server/wrk/rest of machine")  # fmt: skip
    for name, run in results.items():
        print(f"{name:<14}{run.rate:>8,.0f}{run.p50_ms:>8.1f}{run.p99_ms:>8.1f}{run.requests:>10,}"
              f"{run.cpu_ms_per_request:>19.2f}   {run.cores()}")  # fmt: skip
    share, ratio = on.rate / floor.rate, off.rate / on.rate

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    print(f"personalized / floor (req/s): {share:.2f}  (target >= {TARGET_FLOOR_SHARE:.2f}: "
          f"{verdict(share >= TARGET_FLOOR_SHARE)})")  # fmt: skip
    print(f"layers off / personalized (req/s): {ratio:.2f}  (target <= {TARGET_OFF_RATIO:.2f}: "
          f"{verdict(ratio <= TARGET_OFF_RATIO)})")  # fmt: skip
    print(f"personalized p99: {on.p99_ms:.1f} ms  (target < {TARGET_P99_MS:.0f} ms: "
          f"{verdict(on.p99_ms < TARGET_P99_MS)})")  # fmt: skip


def events(args: argparse.Namespace, url: str, env: dict[str, str], folder: Path, checks: Checks) -> None:
    """``POST /events`` with the rate limits raised: events/s accepted, every one answered and stored."""
    started = time.monotonic()
    visitors, _ = prepare_visitors(url, args.visitors, 0, profile=False)
    print(f"prepared {len(visitors)} visitors (one home page each) in {time.monotonic() - started:.0f} s")
    lua = folder / "visitors-events.tsv"
    lua.write_text("".join(v.line() + "\n" for v in visitors))
    env = {**env, "TESSERA_RATE_LIMIT_VISITOR": str(10**9), "TESSERA_RATE_LIMIT_ADDRESS": str(10**9)}
    app = start_gunicorn("wsgi:app", args.workers, env, folder / "app.log")
    consumer = start_consumer(env, folder / "consumer.log") if args.redis else None
    stream = (args.redis, f"{env['TESSERA_REDIS_PREFIX']}:{STREAM}") if args.redis else None
    try:
        origin = f"http://127.0.0.1:{app.port}"
        lua_args = [str(lua), origin, str(args.batch)]
        before = count_rows(url, "events")
        warm = wrk(origin + "/events", WARMUP, args, lua_args, [app])
        if consumer is not None:
            settled_count(url, "events", stream)
        consumer_from = consumer.cpu_seconds() if consumer is not None else 0.0
        run = wrk(origin + "/events", args.duration, args, lua_args, [app])
        rows = settled_count(url, "events", stream) - before
        if consumer is not None:  # its CPU is the events' too, catching up included
            run.server_cpu_s += consumer.cpu_seconds() - consumer_from
    finally:
        # Before stopping: gunicorn logs its own SIGTERM to the workers as an error.
        errors = app.errors() + (consumer.errors() if consumer is not None else [])
        app.stop()
        if consumer is not None:
            consumer.stop()
    answered = warm.answers + run.answers
    accepted = warm.accepted + run.accepted
    checks.add(
        warm.not_ok + run.not_ok == 0 and warm.socket_errors + run.socket_errors == 0,
        f"{answered:,} requests (warm-up {warm.answers:,}), every answer 200 (others: {warm.not_ok + run.not_ok}; "
        f"socket errors or timeouts: {warm.socket_errors + run.socket_errors})",
    )
    checks.add(accepted == answered * args.batch,
               f"accepted {accepted:,} events = {answered:,} answers x {args.batch}")  # fmt: skip
    in_flight = rows - accepted
    checks.add(
        0 <= in_flight <= 2 * args.connections * args.batch and in_flight % args.batch == 0,
        f"{rows:,} event rows for {accepted:,} accepted ({in_flight} in requests answered after wrk's deadline)",
    )
    logs = "app gunicorn log" + (" and the consumer's log" if consumer is not None else "")
    checks.add(not errors, f"{logs}: {len(errors)} error lines" + (
        "\n      " + "\n      ".join(errors[:10]) if errors else ""))  # fmt: skip
    rate = run.accepted / run.seconds
    print()
    print(f"POST /events, {args.batch} events a request, {len(visitors)} visitors: {run.answers / run.seconds:,.0f} "
          f"requests/s, {rate:,.0f} events/s accepted; p50 {run.p50_ms:.1f} ms, p99 {run.p99_ms:.1f} ms; "
          f"server CPU {run.cpu_ms_per_request:.2f} ms/request; cores used: server/wrk/rest of machine "
          f"{run.cores()}")  # fmt: skip
    print(f"target >= {TARGET_EVENTS:,} events/s (PostgreSQL, 2 workers): "
          f"{'met' if rate >= TARGET_EVENTS else 'NOT met'}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (-w)")
    parser.add_argument("--database", default=None,
                        help="a PostgreSQL server URL (postgresql+psycopg://...): a fresh database is made on it "
                        "and dropped afterwards; default: SQLite in a temporary folder")  # fmt: skip
    parser.add_argument("--duration", type=int, default=15, help="seconds of each measured wrk run")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--visitors", type=int, default=1000,
                        help="visitors per set (pages: readers, and as many with every layer off)")  # fmt: skip
    parser.add_argument("--events", action="store_true", help="POST /events instead of the home page")
    parser.add_argument("--batch", type=int, default=20, help="events per request (--events)")
    parser.add_argument("--redis", default=None, metavar="URL",
                        help="write through a Redis stream (TESSERA_WRITES=stream) and a `flask jobs ingest` "
                        "consumer, whose CPU counts as the server's; default: the in-process buffer")  # fmt: skip
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")

    checks = Checks()
    with tempfile.TemporaryDirectory(prefix="tessera-load-") as tmp, fresh_database(args.database, Path(tmp)) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TESSERA_", "PROMETHEUS_", "WEB_"))}
        env.update(DATABASE_URL=url, SECRET_KEY=SECRET, TESSERA_HOLDOUT_SHARE="0", TESSERA_SCHEDULER="off",
                   TESSERA_PROXY_HOPS="1", PYTHONUNBUFFERED="1")  # fmt: skip
        env.pop("REDIS_URL", None)
        if args.redis:
            env.update(REDIS_URL=args.redis, TESSERA_WRITES="stream",
                       TESSERA_REDIS_PREFIX=f"tessera-load-{os.getpid()}")  # fmt: skip
        subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                       capture_output=True)  # fmt: skip
        database = "sqlite" if url.startswith("sqlite") else "postgresql"
        mode = f"POST /events ({args.batch} a batch)" if args.events else "GET /"
        writes = "a Redis stream and `jobs ingest`" if args.redis else "the in-process buffer"
        print(f"{mode} under gunicorn -w {args.workers} on {database}, writes through {writes}; "
              f"wrk -t1 -c{args.connections}, "
              f"{WARMUP} s warm-up + {args.duration} s per target")  # fmt: skip
        try:
            (events if args.events else pages)(args, url, env, Path(tmp), checks)
        finally:
            if args.redis:  # the run's stream and rate-limit keys
                import redis

                client = redis.Redis.from_url(args.redis)
                for key in client.scan_iter(match=f"{env['TESSERA_REDIS_PREFIX']}*"):
                    client.delete(key)
                client.close()
            if not checks.ok:  # keep the servers' logs of a failed run: the checks quote only their first lines
                kept = BENCH / "out" / f"load-{time.strftime('%Y%m%d-%H%M%S')}"
                kept.mkdir(parents=True, exist_ok=True)
                for log in Path(tmp).glob("*.log"):
                    shutil.copy(log, kept / log.name)
                print(f"the servers' logs of this failed run are kept in {kept}")
    checks.print()
    sys.exit(0 if checks.ok else 1)


if __name__ == "__main__":
    main()
