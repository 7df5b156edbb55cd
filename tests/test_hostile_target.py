"""``verify`` and the by-URL suite survive any target, including a hostile one.

Each target here is a small ASGI app on a loopback port (or, for what happens on
the wire, a raw socket server in a thread) that does one hostile thing: hands
out an upload ticket that would make the suite a confused deputy, answers more
than any client should read (a gzip bomb, an endless spec), drips its answers a
byte at a time, answers a balance that is no number, plans a job for a century,
or sends the suite's webhook receiver a body framed to be read forever.
"""

from __future__ import annotations

import gzip
import itertools
import json
import secrets
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import requests
from click.testing import CliRunner
from starlette.types import Receive, Scope, Send

from mock_api.cli import main
from mock_api.contract.bounds import (
    AnswerTooLarge,
    Bounds,
    RequestTooSlow,
    RunLimitReached,
    RunWatch,
    TargetUnusable,
)
from mock_api.contract.jobs import TicketRefused, upload_silence
from mock_api.contract.options import OptionError, TargetOptions, resolve
from mock_api.contract.schema import bounded_session
from mock_api.contract.session import ContractSession
from mock_api.contract.target import Target, TargetKind, TargetUnreachable, connect
from mock_api.contract.webhooks import WebhookReceiver
from mock_api.parity.run import Run
from mock_api.parity.sanitise import Sanitiser
from mock_api.parity.scenarios import SCENARIOS
from mock_api.planning import Pace
from mock_api.server import LiveServer
from mock_api.spec import SPEC_PATH
from mock_api.verify import pytest_args
from tests.test_contracts_by_url import KEY, ROOT, clean_env, serving

SPEC = Path(SPEC_PATH).read_bytes()
MIB = 1024 * 1024

# a hostile target, one route at a time

Body = bytes | Callable[[], Iterator[bytes]]


def _verify(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``wavespeed-mock verify`` against ``url`` in a subprocess, as a user runs it."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mock_api.cli",
            "verify",
            "--base-url",
            url,
            "--api-key",
            KEY,
            *args,
        ],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@dataclass
class Answer:
    status: int = 200
    body: Body = b""
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "application/json"})


def _json(data: object) -> Answer:
    return Answer(body=json.dumps(data).encode())


@dataclass
class Hostile:
    """An ASGI app answering ``routes`` (path -> answer, or a function of the request);
    everything else 404. Records every request it is sent."""

    routes: Mapping[str, Answer | Callable[[Scope, bytes], Answer]]
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.seen.append((scope["method"], scope["path"], headers))
        route = next((r for p, r in self.routes.items() if scope["path"].startswith(p)), None)
        answer = route(scope, body) if callable(route) else route or Answer(404, b"{}")
        raw = [(k.encode(), v.encode()) for k, v in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": raw})
        if isinstance(answer.body, bytes):
            await send({"type": "http.response.body", "body": answer.body})
            return
        for chunk in answer.body():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


@contextmanager
def hostile(
    routes: Mapping[str, Answer | Callable[[Scope, bytes], Answer]], *, fake_looking: bool = False
) -> Iterator[tuple[str, Hostile]]:
    """``routes`` on a loopback port; ``fake_looking`` serves our very ``openapi.yaml``
    (so the suite takes it for the fake: free, no budget)."""
    if fake_looking:
        routes = {"/openapi.yaml": Answer(body=SPEC, headers={}), **routes}
    app = Hostile(routes)
    with LiveServer(app) as server:
        yield server.url, app


# 1. upload tickets: a confused deputy no more


def _ticket(method: object, url: str, headers: object) -> Answer:
    upload: dict[str, object] = {"url": url, "headers": headers}
    if method is not None:
        upload["method"] = method
    data = {"ticket_id": "t", "upload": upload, "download_url": "http://files.example/f.wav"}
    return _json({"code": 200, "message": "success", "data": data})


@dataclass
class Desk:
    """A target handing out whatever ticket a test sets, and a second loopback server
    (``{evil}`` in a ticket's URL; ``{own}`` is the target's). Shared by the upload
    tests, each of which sets its ticket and starts from empty records."""

    own: LiveServer
    elsewhere: LiveServer
    target_app: Hostile
    evil: Hostile
    ticket: tuple[object, str, object] = ("PUT", "{own}/t", {})

    def answer(self, scope: Scope, body: bytes) -> Answer:
        method, url, headers = self.ticket
        return _ticket(method, self.fill(url), headers)

    def fill(self, text: str) -> str:
        return text.format(own=self.own.url, evil=self.elsewhere.url, evil_port=self.elsewhere.port)


@pytest.fixture(scope="module")
def desk() -> Iterator[Desk]:
    evil = Hostile({"/": Answer(body=b"{}")})
    target_app = Hostile({})
    with LiveServer(evil) as elsewhere, LiveServer(target_app) as own:
        made = Desk(own, elsewhere, target_app, evil)
        target_app.routes = {"/api/v3/media/uploads": made.answer}
        yield made


@contextmanager
def ticketing(
    desk: Desk, method: object, url: str, headers: object, *, allow: tuple[str, ...] = ()
) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """The desk handing out this ticket; yields a target's clients on it (``allow``:
    its hosts allowed for uploads)."""
    desk.ticket = (method, url, headers)
    desk.evil.seen.clear()
    desk.target_app.seen.clear()
    target = connect(desk.own.url, KEY, upload_hosts=tuple(desk.fill(h) for h in allow))
    try:
        yield target.client(), target.client(auth=False, media=True)
    finally:
        target.close()


@pytest.mark.parametrize(
    ("method", "url", "headers", "says"),
    [
        (
            "DELETE",
            "{evil}/bucket",
            {"Authorization": "Bearer planted"},
            "data.upload.method is 'DELETE'; openapi.yaml's ticket is a presigned PUT",
        ),
        ("put", "{own}/t", {}, "data.upload.method is 'put'"),
        (None, "{own}/t", {}, "data.upload.method is None"),
        (
            "PUT",
            "{evil}/bucket",
            {},
            "is on http://127.0.0.1:{evil_port}, neither the target's own origin",
        ),
        (
            "PUT",
            "{own}/t",
            {"Authorization": "Bearer planted"},
            "data.upload.headers.Authorization carries credentials",
        ),
        ("PUT", "{own}/t", {"Cookie": "s=1"}, "data.upload.headers.Cookie carries credentials"),
        ("PUT", "{own}/t", {"X-Api-Key": "k"}, "data.upload.headers.X-Api-Key carries credentials"),
        (
            "PUT",
            "{own}/t",
            {"Proxy-Authorization": "Basic eA=="},
            "data.upload.headers.Proxy-Authorization carries credentials",
        ),
        ("PUT", "{own}/t", {"Host": "evil.example"}, "data.upload.headers.Host ('evil.example')"),
        ("PUT", "{own}/t", {"X-A": "1\r\nX-B: 2"}, "data.upload.headers.X-A holds a line break"),
        ("PUT", "{own}/t", ["Content-Type"], "data.upload.headers is ['Content-Type']"),
        (
            "PUT",
            "http://user:pw@127.0.0.1:{evil_port}/t",
            {},
            "carries credentials (user:password@)",
        ),
        ("PUT", "file:///etc/passwd", {}, "is not an http(s) URL"),
    ],
    ids=[
        "delete-elsewhere-with-a-key",
        "lower-case-put",
        "no-method",
        "another-origin",
        "authorization",
        "cookie",
        "x-api-key",
        "proxy-authorization",
        "host",
        "header-injection",
        "headers-not-an-object",
        "userinfo",
        "file-url",
    ],
)
def test_a_hostile_upload_ticket_is_a_violation_and_nothing_is_sent(
    desk: Desk, method: object, url: str, headers: object, says: str
) -> None:
    with (
        ticketing(desk, method, url, headers) as (api, cdn),
        pytest.raises(TicketRefused) as caught,
    ):
        upload_silence(api, cdn, 1000, "left")
    message = str(caught.value)
    assert message.startswith("upload ticket refused, nothing sent: "), message
    assert desk.fill(says) in message, message
    assert desk.evil.seen == []  # the second server was sent nothing...
    # ...and the target only the ticket request (after connect() read its spec).
    sent = [(m, p) for m, p, _h in desk.target_app.seen]
    assert sent == [("GET", "/openapi.yaml"), ("POST", "/api/v3/media/uploads")]


def test_an_allowed_host_gets_the_put_with_the_tickets_own_headers(desk: Desk) -> None:
    headers = {"Content-Type": "audio/wav", "Authorization": "Bearer ticket-token"}
    allow = ("127.0.0.1:{evil_port}",)
    with ticketing(desk, "PUT", "{evil}/bucket/x", headers, allow=allow) as (api, cdn):
        assert upload_silence(api, cdn, 1000, "left") == "http://files.example/f.wav"
    [(method, path, sent)] = desk.evil.seen
    assert (method, path) == ("PUT", "/bucket/x")
    assert sent["authorization"] == "Bearer ticket-token"  # the ticket's, never the key
    assert KEY not in json.dumps(sent)


def test_parity_follows_a_ticket_no_further_than_verify_does(desk: Desk) -> None:
    flow = next(s for s in SCENARIOS if s.name == "upload-ticket")
    with ticketing(desk, "DELETE", "{evil}/bucket", {"Authorization": "Bearer x"}) as (api, cdn):
        run = Run(
            api=api,
            cdn=cdn,
            anonymous=cdn,
            wait=time.sleep,
            poll_interval=0.05,
            sanitiser=Sanitiser((KEY,)),
        )
        with pytest.raises(TicketRefused, match=r"data\.upload\.method is 'DELETE'"):
            flow.run(run)
    assert desk.evil.seen == []


def test_upload_hosts_are_options_of_the_plugin_and_of_verify() -> None:
    cli = {
        "wavespeed_base_url": "http://t:1",
        "wavespeed_api_key": "k",
        "wavespeed_allow_upload_host": "Store.example:9000, *.s3.amazonaws.com",
        "wavespeed_max_run_seconds": "120",
    }
    options = resolve(cli, {})
    assert options.allow_upload_hosts == ("store.example:9000", "*.s3.amazonaws.com")
    assert options.max_run_seconds == 120.0
    assert resolve({}, {}) == TargetOptions()  # neither: nothing allowed, the default limit
    with pytest.raises(OptionError, match="--wavespeed-allow-upload-host: upload host 'https://"):
        resolve({**cli, "wavespeed_allow_upload_host": "https://store.example/x"}, {})
    with pytest.raises(OptionError, match="--wavespeed-max-run-seconds must be > 0"):
        resolve({**cli, "wavespeed_max_run_seconds": "0"}, {})
    args = pytest_args(
        "http://t:1", "k", max_run_seconds=60.0, allow_upload_hosts=("a.example", "b.example")
    )
    assert args[args.index("--wavespeed-allow-upload-host") + 1] == "a.example,b.example"
    assert args[args.index("--wavespeed-max-run-seconds") + 1] == "60.0"
    target = ["--base-url", "http://t:1", "--api-key", "k", "--allow-upload-host", "a/b"]
    for command in (["verify"], ["parity", "record"]):
        result = CliRunner().invoke(main, [*command, *target])
        assert result.exit_code == 2, result.output
        assert "--allow-upload-host" in result.output
        assert "'a/b' is not HOST, HOST:PORT or *.DOMAIN" in result.output


# 2. bodies: bounded as sent and as decompressed


def _endless_spec() -> Iterator[bytes]:
    # 64 MiB, not endless: code without the bound reads it all and calls it "not the fake",
    # where an endless one would never return.
    block = b"#" * (64 * 1024)
    for _ in range(1024):
        yield block


def test_an_endless_spec_is_cut_at_its_bound() -> None:
    routes = {"/openapi.yaml": Answer(body=_endless_spec, headers={})}
    with hostile(routes) as (url, _app), pytest.raises(AnswerTooLarge) as caught:
        connect(url, KEY)
    assert str(caught.value) == (
        f"this target cannot be used: GET {url}/openapi.yaml answered more than 8 MiB "
        "(the suite reads at most 8 MiB of an API answer)"
    )


def test_a_gzip_bomb_is_refused_without_being_inflated() -> None:
    # 64 MiB of zeros in 64 KB of gzip, as a balance answer.
    bomb = gzip.compress(b'{"data": {"balance": 1' + bytes(64 * MIB), compresslevel=1)
    routes = {
        "/api/v3/balance": Answer(
            body=bomb, headers={"content-type": "application/json", "content-encoding": "gzip"}
        )
    }
    with hostile(routes, fake_looking=True) as (url, _app):
        state = ContractSession(TargetOptions(base_url=url, api_key=KEY))
        tracemalloc.start()
        try:
            with pytest.raises(TargetUnusable) as caught:
                state.open([])
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert f"GET {url}/api/v3/balance answered more than 8 MiB decompressed" in str(caught.value)
    assert peak < 32 * MIB, f"{peak / MIB:.0f} MiB held at once"


@pytest.mark.parametrize(
    ("encoding", "says"),
    [
        ("br", "answered in Content-Encoding 'br'; the suite offers 'gzip, deflate' only"),
        ("gzip", "answered a body that is not the gzip its Content-Encoding says"),
    ],
)
def test_an_answer_in_an_encoding_not_offered_or_not_its_own_is_unusable(
    encoding: str, says: str
) -> None:
    answer = Answer(body=b"\x00not compressed", headers={"content-encoding": encoding})
    with hostile({"/api/v3/balance": answer}) as (url, _app):
        target = connect(url, KEY)
        try:
            with pytest.raises(TargetUnusable, match=says):
                target.client().get("/api/v3/balance")
        finally:
            target.close()


def test_media_has_its_own_larger_bound() -> None:
    headers = {"content-type": "video/mp4", "content-length": str(9 * MIB)}
    nine = Answer(body=bytes(9 * MIB), headers=headers)
    with hostile({"/out.mp4": nine}) as (url, _app):
        target = connect(url, KEY)
        try:
            assert len(target.client(auth=False, media=True).get("/out.mp4").content) == 9 * MIB
            with pytest.raises(AnswerTooLarge, match=r"more than 8 MiB \(Content-Length: 9437184"):
                target.client().get("/out.mp4")
        finally:
            target.close()


# 3. time: each request whole, and the run


class Dripping:
    """A raw socket server that reads a request, then sends ``head`` one byte every
    ``every`` seconds, then ``x`` after ``x`` for ever, or for ``lasts`` seconds (so that
    code without the bound under test fails, where it would hang)."""

    def __init__(self, head: bytes, every: float, *, lasts: float | None = None) -> None:
        self.head = head
        self.every = every
        self.lasts = lasts
        self.stop = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:  # closed
                return
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.recv(65536)
            ends = None if self.lasts is None else time.monotonic() + self.lasts
            for byte in itertools.chain(self.head, itertools.repeat(ord("x"))):
                if self.stop.wait(self.every) or (ends is not None and time.monotonic() > ends):
                    return
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@contextmanager
def dripping(head: bytes, every: float, *, lasts: float | None = None) -> Iterator[Dripping]:
    server = Dripping(head, every, lasts=lasts)
    try:
        yield server
    finally:
        server.close()


@pytest.mark.waits  # seconds of a server's or a target's own timing
def test_verify_timeout_bounds_each_whole_request_of_a_dripping_server() -> None:
    # A byte every 0.3 s, forever: each read is quick, the answer never whole.
    with dripping(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n", 0.3) as server:
        started = time.monotonic()
        result = _verify(server.url, "--timeout", "1")
        took = time.monotonic() - started
    out = result.stdout
    assert result.returncode == 4, out + result.stderr[-2000:]
    assert out.splitlines()[0] == (  # the first line says why
        f"wavespeed-mock verify: NOT RUN: cannot reach {server.url}: it sent no whole answer "
        "within 1 s (the bound on each request: --timeout)"
    )
    assert took < 20, took


def test_a_body_dripped_past_the_bound_ends_the_request() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    with dripping(head, 0.001) as server:  # the head at once, then the body a byte a ms
        target = Target(
            kind=TargetKind.REMOTE,
            base_url=server.url,
            api_key=KEY,
            wait=time.sleep,
            poll_interval=1.0,
            bounds=Bounds(request_seconds=0.5),
        )
        try:
            started = time.monotonic()
            with pytest.raises(RequestTooSlow) as caught:
                target.client().get("/api/v3/balance")
            took = time.monotonic() - started
        finally:
            target.close()
    assert str(caught.value) == (
        f"cannot reach GET {server.url}/api/v3/balance: it sent no whole answer within 0.5 s "
        "(the bound on each request: --wavespeed-timeout)"
    )
    assert took < 1.0, took


def test_schemathesis_answers_are_bounded_as_the_suites_own() -> None:
    bomb = gzip.compress(bytes(64 * MIB), compresslevel=1)
    routes = {
        "/bomb": Answer(body=bomb, headers={"content-encoding": "gzip"}),
        # the fake's generated samples are media: schemathesis asks for up to 38 MB of them
        "/sample.wav": Answer(body=bytes(9 * MIB), headers={"content-type": "audio/wav"}),
    }
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    with hostile(routes) as (url, _app), dripping(head, 0.001) as server:
        target = Target(
            kind=TargetKind.REMOTE,
            base_url=url,
            api_key=KEY,
            wait=time.sleep,
            poll_interval=1.0,
            bounds=Bounds(request_seconds=0.5),
        )
        with bounded_session(target) as session:
            with pytest.raises(AnswerTooLarge, match="answered more than 8 MiB decompressed"):
                session.get(f"{url}/bomb", timeout=5)
            assert len(session.get(f"{url}/sample.wav", timeout=5).content) == 9 * MIB
            started = time.monotonic()
            with pytest.raises(requests.exceptions.ReadTimeout) as caught:
                session.get(server.url, timeout=5)
            took = time.monotonic() - started
    assert "it sent no whole answer within 0.5 s" in str(caught.value)
    assert took < 1.0, took


def test_the_run_watch_cuts_a_check_blocked_where_no_request_bound_reaches() -> None:
    # Headers dripped to requests: each read is quick, so only the run's watch ends it.
    with dripping(b"HTTP/1.1 200 OK\r\n", 0.05, lasts=5) as server:
        bounds = Bounds(run_seconds=0.2, run_deadline=time.monotonic() + 0.2)
        watch = RunWatch(bounds, grace=0.1)
        assert watch.arm()
        watch.in_check = True
        started = time.monotonic()
        try:
            with pytest.raises(RunLimitReached) as caught:
                requests.get(server.url, timeout=5)
        finally:
            watch.disarm()
    assert str(caught.value) == (
        "the run's limit of 0.2 s (--wavespeed-max-run-seconds) was reached and the check "
        "was still blocked"
    )
    assert time.monotonic() - started < 1.5


def test_the_runs_end_cuts_a_wait_short() -> None:
    bounds = Bounds(run_seconds=0.2, run_deadline=time.monotonic() + 0.2)
    started = time.monotonic()
    with pytest.raises(RunLimitReached) as caught:
        bounds.sleep(30)
    assert time.monotonic() - started < 1
    assert str(caught.value) == (
        "the run's limit of 0.2 s (--wavespeed-max-run-seconds) was reached during a wait of 30 s"
    )


@pytest.mark.waits  # seconds of a server's or a target's own timing
def test_the_run_limit_cuts_the_check_that_outlives_it_and_says_which() -> None:
    # The fake, at a pace that keeps every job queued for an hour.
    stuck = Pace("stuck", queue_ms=3_600_000, base_ms=20, per_output_second_ms=(1, 1))
    with serving(pace=stuck) as (url, _service):
        result = _verify(
            url, "-k", "completed_job", "--max-run-seconds", "4", "--poll-interval", "0.2"
        )
    out = result.stdout
    assert result.returncode == 2, out + result.stderr[-2000:]
    assert "  FAIL  lifecycle · a job run to its end keeps every lifecycle invariant" in out
    assert (
        "STOPPED after 1 of 1 checks: the run's limit of 4 s (--max-run-seconds) was reached "
        "during a wait of 0.2 s; the check cut: test_completed_job_keeps_every_invariant"
    ) in out, out
    assert "Traceback" not in out + result.stderr


# 4. garbage answers: what is wrong, and where, never a traceback


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"<html><body>Welcome</body></html>", "with a body that is not JSON"),
        (b'{"code": 200, "data": {"balance": NaN}}', "with a body that is not JSON (NaN is not"),
        (b'{"data": {"balance": ' + b"9" * 5000 + b"}}", "with data.balance Decimal('99999"),
        (b'{"data": {"balance": 1e999999}}', "with data.balance Decimal('1E+999999')"),
        (b'{"data": {"balance": "lots"}}', "with data.balance 'lots', not a number of USD"),
        (b'{"data": {}}', "with data.balance None, not a number of USD"),
        (b'{"data": []}', "with data [], not a number of USD"),
        (b"[1, 2]", "with data None, not a number of USD"),
    ],
    ids=["html", "nan", "5000-digits", "huge-exponent", "a-word", "missing", "list", "array"],
)
def test_a_balance_that_is_no_number_makes_the_target_unusable(body: bytes, says: str) -> None:
    with hostile({"/api/v3/balance": Answer(body=body)}, fake_looking=True) as (url, _app):
        state = ContractSession(TargetOptions(base_url=url, api_key=KEY))
        with pytest.raises(TargetUnusable) as caught:
            state.open([])
    message = str(caught.value)
    assert message.startswith(
        f"this target cannot be used: balance: GET {url}/api/v3/balance answered 200 "
    ), message
    assert says in message, message


def test_verify_reports_a_garbage_balance_without_a_traceback() -> None:
    html = Answer(body=b"<html>hello</html>", headers={"content-type": "text/html"})
    with hostile({"/api/v3/balance": html}, fake_looking=True) as (url, _app):
        result = _verify(url)
    out = result.stdout
    assert result.returncode == 4, out + result.stderr[-2000:]
    assert out.splitlines()[0] == (  # the first line says why
        f"wavespeed-mock verify: NOT RUN: this target cannot be used: balance: GET {url}/api/v3/"
        "balance answered 200 with a body that is not JSON (Expecting value: line 1 column 1 "
        "(char 0)): <html>hello</html>"
    )
    assert "Traceback" not in out + result.stderr
    assert "pytest said" not in out


# 5. the webhook receiver reads only a whole, well-framed body


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as started:
        yield started


def _post(url: str, head: str, body: bytes = b"", *, close_write: bool = True) -> bytes:
    address = httpx.URL(url)
    with socket.create_connection((address.host, address.port), timeout=5) as conn:
        conn.sendall(f"POST {address.path} HTTP/1.1\r\nHost: x\r\n{head}\r\n".encode() + body)
        if close_write:
            conn.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := conn.recv(4096):
            answer += chunk
        return answer


@pytest.mark.parametrize(
    ("head", "body", "status"),
    [
        ("Content-Length: -1\r\n", b"x" * 64, b"400"),
        ("Content-Length: 1e3\r\n", b"x" * 64, b"400"),
        ("Content-Length: 2000000\r\n", b"x" * 64, b"413"),
        ("Content-Length: 3\r\nContent-Length: 4\r\n", b"abcd", b"400"),
        ("Content-Length: 4\r\nTransfer-Encoding: chunked\r\n", b"4\r\nabcd\r\n0\r\n\r\n", b"400"),
        ("Transfer-Encoding: gzip\r\n", b"x", b"400"),
        ("Content-Length: 100\r\n", b"short", b"400"),
        ("Transfer-Encoding: chunked\r\n", b"ZZ\r\nab\r\n0\r\n\r\n", b"400"),
        ("Transfer-Encoding: chunked\r\n", b"FFFFF\r\n" + b"x" * 64, b"413"),
    ],
    ids=[
        "length-minus-one",
        "length-not-digits",
        "length-over-the-bound",
        "two-lengths",
        "length-and-chunked",
        "unknown-coding",
        "closed-before-the-length",
        "chunk-size-not-hex",
        "chunks-over-the-bound",
    ],
)
def test_the_receiver_refuses_a_body_it_cannot_read_whole_and_keeps_nothing(
    receiver: WebhookReceiver, head: str, body: bytes, status: bytes
) -> None:
    url = receiver.url_for(secrets.token_hex(4))
    answer = _post(url, head, body)
    assert answer.split(b" ")[1] == status, answer
    assert receiver.received(lambda d: d.path == httpx.URL(url).path) == []


def test_the_receiver_keeps_a_chunked_delivery_whole(receiver: WebhookReceiver) -> None:
    url = receiver.url_for(secrets.token_hex(4))
    body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    answer = _post(url, "Transfer-Encoding: chunked\r\n", body)
    assert answer.split(b" ")[1] == b"200", answer
    kept = receiver.received(lambda d: d.path == httpx.URL(url).path)
    assert [d.body for d in kept] == [b"hello world"]


def test_the_receiver_gives_up_on_a_sender_that_stalls() -> None:
    with WebhookReceiver(read_seconds=0.2) as receiver:
        started = time.monotonic()
        answer = _post(receiver.url, "Content-Length: 10\r\n", b"ab", close_write=False)
        took = time.monotonic() - started
        kept = list(receiver.deliveries)
    assert answer.split(b" ")[1] == b"408", answer
    assert kept == []
    assert took < 2, took


# 6. waits: a target's word on how long a job takes is bounded by the run's own


def _planned(created: str, finished: str) -> Answer:
    return _json({"code": 200, "data": {"created_at": created, "finished_at": finished}})


@pytest.mark.parametrize(
    ("created", "finished"),
    [
        ("2026-01-01T00:00:00.000Z", "2126-01-01T00:00:00.000Z"),  # a century away
        ("2026-01-01T00:00:00.000Z", "2025-01-01T00:00:00.000Z"),  # before it began
        ("0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"),  # the end of time
    ],
    ids=["a-century", "negative", "the-end-of-time"],
)
def test_a_fake_looking_targets_plan_is_believed_only_up_to_the_runs_own_bound(
    created: str, finished: str
) -> None:
    routes = {"/_mock/jobs/": _planned(created, finished)}
    with hostile(routes, fake_looking=True) as (url, _app):
        target = connect(url, KEY)
        try:
            # 120 s of start-up and 30 s per second of output, for the 5 s minimum
            assert target.job_timeout("j") == 270.0
            target.max_output_seconds = 600  # a run whose plan has the 600 s cap job
            assert target.job_timeout("j") == 18_120.0
        finally:
            target.close()


def test_a_fakes_modest_plan_is_still_followed() -> None:
    routes = {"/_mock/jobs/": _planned("2026-01-01T00:00:00.000Z", "2026-01-01T00:00:04.000Z")}
    with hostile(routes, fake_looking=True) as (url, _app):
        target = connect(url, KEY)
        try:
            assert target.job_timeout("j") == 4 * 1.5 + 10
        finally:
            target.close()


def test_a_silent_target_is_unreachable_not_a_hang() -> None:
    # Accepts, reads, never answers: each read's own timeout ends it, within --timeout.
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(TargetUnreachable, match=r"it sent no whole answer within 0\.3 s"):
            connect(url, KEY, bounds=Bounds(request_seconds=0.3))
    assert time.monotonic() - started < 2
