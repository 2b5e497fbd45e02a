"""`digest fetch` against a real HTTP server on loopback that replays real Daily Papers answers,
with slow, failing, refusing and cut-off answers; and `digest serve` fetching on its schedule."""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest

from digest import __version__
from digest.errors import ConfigError
from digest.fetch import (
    MAX_WAIT,
    day_of,
    day_url,
    redirect_refusal,
    retry_after,
    retry_delay,
    yesterday,
)
from tests.processes import clean_env, delivered_keys, digest_now, paper_keys

REAL = Path(__file__).parent / "fixtures" / "real"
DAY = "2025-03-18"
BODY = (REAL / f"{DAY}.json").read_bytes()


# -- the loopback server -----------------------------------------------------------------------


@dataclass
class Answer:
    """One scripted answer: a status, a body, headers, a pause before it, a false length."""

    body: bytes = BODY
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    claimed_length: int | None = None  # a Content-Length larger than the body: cut off
    content_type: str = "application/json; charset=utf-8"
    trickle: float = 0.0  # seconds between pieces of 100 bytes: a server that trickles
    drip: float = 0.0  # seconds between bytes of the status line and headers


@dataclass
class Request:
    path: str
    day: str
    user_agent: str
    at: float


class Listing(ThreadingHTTPServer):
    """Answers GET /api/daily_papers?date=D from a script per day (or "*" for any day): each
    request takes the next answer; the last one repeats. Records every request."""

    daemon_threads = True

    def __init__(self, context: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.scripts: dict[str, list[Answer]] = {}
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        self.scheme = "http"
        if context is not None:
            self.socket = context.wrap_socket(self.socket, server_side=True)
            self.scheme = "https"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.server_port}/api/daily_papers"

    def script(self, day: str, *answers: Answer) -> None:
        with self.lock:
            self.scripts[day] = list(answers)

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client hanging up is normal
            super().handle_error(request, client_address)  # type: ignore[arg-type]

    def next_answer(self, day: str) -> Answer | None:
        with self.lock:
            answers = self.scripts.get(day) or self.scripts.get("*")
            if not answers:
                return None
            return answers.pop(0) if len(answers) > 1 else answers[0]


class _Handler(BaseHTTPRequestHandler):
    server: Listing
    protocol_version = "HTTP/1.1"  # keep-alive, as the real server

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        day = parse_qs(parts.query).get("date", [""])[0]
        with self.server.lock:
            self.server.requests.append(
                Request(parts.path, day, self.headers.get("User-Agent", ""), time.monotonic())
            )
        answer = self.server.next_answer(day) or Answer(b'{"error":"Not Found"}', 404)
        time.sleep(answer.delay)
        with contextlib.suppress(ConnectionError):  # the client gave up waiting
            if answer.drip:
                self._drip(answer)
                return
            self.send_response(answer.status)
            self.send_header("Content-Type", answer.content_type)
            length = answer.claimed_length or len(answer.body)
            self.send_header("Content-Length", str(length))
            for name, value in answer.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if answer.trickle:
                for start in range(0, len(answer.body), 100):
                    self.wfile.write(answer.body[start : start + 100])
                    self.wfile.flush()
                    time.sleep(answer.trickle)
                return
            self.wfile.write(answer.body)
            if answer.claimed_length:
                self.close_connection = True

    def _drip(self, answer: Answer) -> None:
        head = (
            f"HTTP/1.1 {answer.status} OK\r\nContent-Type: {answer.content_type}\r\n"
            f"Content-Length: {len(answer.body)}\r\n\r\n"
        ).encode()
        for byte in head:
            self.wfile.write(bytes([byte]))
            self.wfile.flush()
            time.sleep(answer.drip)
        self.wfile.write(answer.body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def running(server: Listing) -> Iterator[Listing]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def listing() -> Iterator[Listing]:
    with running(Listing()) as server:
        yield server


def settings_env(server: Listing, **more: str) -> dict[str, str]:
    """The environment of a digest run against the loopback server, with short pauses."""
    defaults = {
        "DIGEST_FETCH_URL": server.url,
        "DIGEST_FETCH_BACKOFF": "0.05",
        "DIGEST_FETCH_TIMEOUT": "2",
        "DIGEST_TIMEZONE": "UTC",
    }
    return clean_env(**{**defaults, **more})


def fetch(
    tmp_path: Path, inbox: Path, server: Listing, *args: str, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run the real `digest fetch` as a process."""
    return subprocess.run(
        [sys.executable, "-m", "digest", "fetch", "--inbox", str(inbox), *args],
        capture_output=True,
        text=True,
        env=settings_env(server, DIGEST_STATE=str(tmp_path / "state.sqlite3"), **env),
        cwd=tmp_path,
        timeout=60,
    )


@dataclass
class Measured:
    """A finished `digest fetch`: its exit status, stderr, how long it took, its peak memory."""

    returncode: int
    stderr: str
    seconds: float
    peak_mb: float


def fetch_measured(
    tmp_path: Path, inbox: Path, server: Listing, *args: str, limit: float = 30.0, **env: str
) -> Measured:
    """Run the real `digest fetch` as `fetch` does, timed, its peak memory from the kernel's
    account of the process; killed after `limit` seconds."""
    err = tmp_path / "fetch.err"
    started = time.monotonic()
    with err.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "digest", "fetch", "--inbox", str(inbox), *args],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env=settings_env(server, DIGEST_STATE=str(tmp_path / "state.sqlite3"), **env),
            cwd=tmp_path,
        )
    killer = threading.Timer(limit, proc.kill)
    killer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        killer.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    took = time.monotonic() - started
    return Measured(proc.returncode, err.read_text(), took, usage.ru_maxrss / 1024)


def cut(body: bytes, keep: int) -> bytes:
    """A real answer with only its first `keep` papers: the day as it was earlier."""
    return json.dumps(json.loads(body)[:keep], indent=2).encode()


# -- the pure parts ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("utc_now", "zone", "expected"),
    [
        (datetime(2025, 3, 19, 10, 0, tzinfo=UTC), "UTC", date(2025, 3, 18)),
        # 23:30 UTC is already the next morning in Kiritimati, still the evening in Samoa.
        (datetime(2025, 3, 19, 23, 30, tzinfo=UTC), "Pacific/Kiritimati", date(2025, 3, 19)),
        (datetime(2025, 3, 19, 0, 30, tzinfo=UTC), "Pacific/Pago_Pago", date(2025, 3, 17)),
        (datetime(2025, 3, 1, 12, 0, tzinfo=UTC), "Europe/Paris", date(2025, 2, 28)),
    ],
)
def test_yesterday_is_taken_in_the_time_zone(utc_now: datetime, zone: str, expected: date) -> None:
    assert yesterday(utc_now, ZoneInfo(zone)) == expected


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        (
            "https://huggingface.co/api/daily_papers",
            "https://huggingface.co/api/daily_papers?date=2025-03-18",
        ),
        ("http://h/api?limit=50&date=2020-01-01", "http://h/api?limit=50&date=2025-03-18"),
    ],
)
def test_the_date_goes_into_the_query(base: str, expected: str) -> None:
    assert day_url(base, date(2025, 3, 18)) == expected


@pytest.mark.parametrize("text", ["2025-3-18", "2025-02-30", "yesterday", "20250318", ""])
def test_a_date_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        day_of(text)


def test_backoff_doubles_with_jitter_is_capped_and_honours_the_server() -> None:
    assert [retry_delay(n, 2.0, 1.0 - 1e-9, None) for n in (1, 2, 3)] == pytest.approx([2, 4, 8])
    assert [retry_delay(n, 2.0, 0.0, None) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert retry_delay(20, 2.0, 0.999, None) <= MAX_WAIT
    assert retry_delay(1, 0.05, 0.5, 3.0) == 3.0  # the server asked for longer


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2025, 3, 18, 12, 0, tzinfo=UTC)
    assert retry_after("7", now) == 7.0
    assert retry_after("Tue, 18 Mar 2025 12:00:30 GMT", now) == 30.0
    assert retry_after("Tue, 18 Mar 2025 11:00:00 GMT", now) == 0.0
    assert retry_after("soon", now) is None
    assert retry_after(None, now) is None


HF = "https://huggingface.co/api/daily_papers?date=2025-03-18"
LOCAL = "http://127.0.0.1:8000/api/daily_papers?date=2025-03-18"
INSIDE = "a private or loopback address"


@pytest.mark.parametrize(
    ("location", "origin", "refusal"),
    [
        ("https://cdn.example.org/2025-03-18.json", HF, None),
        ("//cdn.example.org/2025-03-18.json", HF, None),
        ("/api/daily_papers?date=2025-03-18&page=2", HF, None),
        ("http://127.0.0.1:9000/x", LOCAL, None),  # from this machine, to it: a test, a mirror
        ("http://10.0.0.7/x", LOCAL, None),
        ("file:///etc/passwd", HF, "which is not an http(s) address"),
        ("file:///etc/passwd", LOCAL, "which is not an http(s) address"),
        ("javascript:alert(1)", HF, "which is not an http(s) address"),
        ("http://[::1/x", HF, "which cannot be read (Invalid IPv6 URL)"),
        ("http:///x", HF, "which names no host"),
        ("http://exa mple.org/", HF, "which has spaces or control characters"),
        ("http://127.0.0.1/x", HF, INSIDE),
        ("http://localhost:8080/", HF, INSIDE),
        ("http://metadata.localhost/", HF, INSIDE),
        ("http://169.254.169.254/latest/meta-data/", HF, INSIDE),
        ("http://10.1.2.3/", HF, INSIDE),
        ("http://192.168.0.1./", HF, INSIDE),
        ("http://[::1]:8080/", HF, INSIDE),
        ("http://[fd00::1]/", HF, INSIDE),
        ("http://2130706433/", HF, INSIDE),  # 127.0.0.1 as one number
        ("http://0x7f.1/", HF, INSIDE),
    ],
)
def test_where_a_fetch_may_be_redirected(location: str, origin: str, refusal: str | None) -> None:
    assert redirect_refusal(location, origin) == refusal


def test_a_redirect_is_read_from_the_address_that_answered() -> None:
    cdn = "http://cdn.example.org/lists/today"
    assert redirect_refusal("/lists/2025-03-18", HF, cdn) is None
    assert redirect_refusal("//10.0.0.1/x", HF, cdn) == INSIDE
    assert redirect_refusal("//127.0.0.1:9/x", LOCAL, cdn) is None  # the fetch began inside


# -- a day, end to end ---------------------------------------------------------------------------


def test_a_day_is_saved_whole_under_its_date(tmp_path: Path, inbox: Path, listing: Listing) -> None:
    listing.script(DAY, Answer())
    done = fetch(tmp_path, inbox, listing, "--date", DAY)
    assert done.returncode == 0, done.stderr
    assert os.listdir(inbox) == [f"{DAY}.json"]  # no temporary file left beside it
    assert (inbox / f"{DAY}.json").read_bytes() == BODY
    assert f"fetched {DAY}: 17 papers, saved as" in done.stderr
    (request,) = listing.requests
    assert (request.path, request.day) == ("/api/daily_papers", DAY)
    assert request.user_agent.startswith(f"digest/{__version__} ")


def test_the_default_day_is_yesterday(tmp_path: Path, inbox: Path, listing: Listing) -> None:
    listing.script("*", Answer())
    expected = yesterday(datetime.now(UTC), UTC).isoformat()
    done = fetch(tmp_path, inbox, listing)
    assert done.returncode == 0, done.stderr
    assert [r.day for r in listing.requests] == [expected]
    assert (inbox / f"{expected}.json").read_bytes() == BODY


@pytest.mark.parametrize(
    "failures",
    [
        pytest.param([Answer(delay=1.5)], id="slow-then-answer"),
        pytest.param([Answer(b"upstream error", 500)], id="500"),
        pytest.param([Answer(b"", 503), Answer(b"<html>bad gateway</html>", 502)], id="503-502"),
        pytest.param([Answer(BODY[:5000], claimed_length=len(BODY))], id="connection-cut"),
        pytest.param([Answer(b"", 429, {"Retry-After": "1"})], id="429-retry-after"),
    ],
)
@pytest.mark.slow
def test_a_failing_answer_is_tried_again_and_the_day_still_saved(
    tmp_path: Path, inbox: Path, listing: Listing, failures: list[Answer]
) -> None:
    listing.script(DAY, *failures, Answer())
    done = fetch(tmp_path, inbox, listing, "--date", DAY, DIGEST_FETCH_TIMEOUT="0.5")
    assert done.returncode == 0, done.stderr
    assert (inbox / f"{DAY}.json").read_bytes() == BODY
    assert len(listing.requests) == len(failures) + 1
    assert f"after {len(failures) + 1} attempts" in done.stderr
    if "Retry-After" in failures[0].headers:
        first, second = listing.requests
        assert second.at - first.at >= 1.0  # the server's wait, not the 0.05 s backoff


@pytest.mark.slow
@pytest.mark.parametrize(
    ("answer", "says", "requests"),
    [
        pytest.param(Answer(b'{"error":"Not Found"}', 404), "HTTP 404", 1, id="404"),
        pytest.param(
            Answer(b"<!DOCTYPE html><html><body>Oops</body></html>", content_type="text/html"),
            "answered with an HTML page",
            1,
            id="html-page",
        ),
        pytest.param(Answer(b"[]"), "lists no papers for 2025-03-18", 1, id="empty-list"),
        pytest.param(Answer(BODY[: len(BODY) // 2]), "is not complete JSON", 1, id="cut-json"),
        pytest.param(Answer(b'{"status": "ok"}'), "not a Daily Papers list", 1, id="not-a-list"),
        pytest.param(Answer(b"", 500), "HTTP 500", 3, id="always-500"),
        pytest.param(Answer(b"[" * 100_000), "levels deep", 1, id="deeply-nested"),
        pytest.param(Answer(trickle=0.5), "no answer in time", 3, id="always-trickling"),
        pytest.param(
            Answer(BODY[:100], claimed_length=len(BODY)), "connection failed", 3, id="always-cut"
        ),
        pytest.param(
            Answer(b"", 429, {"Retry-After": "3600"}), "asks to wait 3600s", 1, id="429-an-hour"
        ),
        pytest.param(
            Answer(b"", 302, {"Location": "file:///etc/passwd"}),
            "redirects to 'file:///etc/passwd', which is not an http(s) address; refused",
            1,
            id="redirect-to-a-file",
        ),
        pytest.param(
            Answer(b"", 301, {"Location": "http://[::1/x"}),
            "redirects to 'http://[::1/x', which cannot be read",
            1,
            id="redirect-unreadable",
        ),
        pytest.param(
            Answer(b"", 302, {"Location": f"/api/daily_papers?date={DAY}"}),
            "more than 5 redirects",
            6,
            id="redirect-loop",
        ),
        pytest.param(
            Answer(headers={"Content-Encoding": "br"}),
            "is encoded as 'br', which digest does not read",
            1,
            id="encoding-not-asked-for",
        ),
        pytest.param(
            Answer(b"\x1f\x8b\x08\x00 not gzip at all", headers={"Content-Encoding": "gzip"}),
            "cannot be decoded (gzip: ",
            1,
            id="broken-gzip",
        ),
    ],
)
def test_an_answer_that_is_not_a_listing_saves_nothing_and_says_so_in_one_line(
    tmp_path: Path, inbox: Path, listing: Listing, answer: Answer, says: str, requests: int
) -> None:
    listing.script(DAY, answer)
    done = fetch(tmp_path, inbox, listing, "--date", DAY, DIGEST_FETCH_ATTEMPTS="3")
    assert done.returncode == 1
    assert os.listdir(inbox) == []
    assert len(listing.requests) == requests  # no retry storm, no retry of a sure failure
    (line,) = done.stderr.splitlines()
    assert says in line and f"{listing.url}?date={DAY}" in line and "nothing saved" in line
    assert "Traceback" not in done.stderr


def test_an_answer_over_the_size_limit_is_not_kept(
    tmp_path: Path, inbox: Path, listing: Listing
) -> None:
    listing.script(DAY, Answer(b" " * 1_000_001 + BODY))  # valid JSON, over 1 MB
    done = fetch(tmp_path, inbox, listing, "--date", DAY, DIGEST_MAX_DUMP_MB="1")
    assert done.returncode == 1
    assert "over the 1 MB limit (DIGEST_MAX_DUMP_MB)" in done.stderr
    assert os.listdir(inbox) == []


def gzipped(data: bytes, times: int = 1) -> bytes:
    """`data` repeated `times` times, gzip-compressed."""
    pack = zlib.compressobj(9, zlib.DEFLATED, 31)
    return b"".join(pack.compress(data) for _ in range(times)) + pack.flush()


@pytest.mark.slow
def test_a_compressed_answer_is_inflated_no_further_than_the_limit(
    tmp_path: Path, inbox: Path, listing: Listing
) -> None:
    gzip = {"Content-Encoding": "gzip"}
    listing.script(DAY, Answer(gzipped(BODY), headers=gzip))
    normal = fetch_measured(tmp_path, inbox, listing, "--date", DAY, DIGEST_MAX_DUMP_MB="1")
    assert normal.returncode == 0, normal.stderr
    assert (inbox / f"{DAY}.json").read_bytes() == BODY
    # 200 MB of spaces in 200 kB: a read of 64 kB inflates to 64 MB at once.
    listing.script("2025-03-19", Answer(gzipped(b" " * 1_000_000, 200), headers=gzip))
    bomb = fetch_measured(tmp_path, inbox, listing, "--date", "2025-03-19", DIGEST_MAX_DUMP_MB="1")
    assert bomb.returncode == 1
    (line,) = bomb.stderr.splitlines()
    assert "over the 1 MB limit (DIGEST_MAX_DUMP_MB)" in line
    assert bomb.peak_mb < normal.peak_mb + 16, (bomb.peak_mb, normal.peak_mb)
    assert os.listdir(inbox) == [f"{DAY}.json"]


@pytest.mark.slow
def test_a_server_that_trickles_its_headers_is_given_up_on_in_time(
    tmp_path: Path, inbox: Path, listing: Listing
) -> None:
    listing.script(DAY, Answer(drip=1.0))  # a byte a second: each read in time, never the answer
    done = fetch_measured(
        tmp_path, inbox, listing, "--date", DAY, DIGEST_FETCH_TIMEOUT="1", DIGEST_FETCH_ATTEMPTS="2"
    )
    assert done.returncode == 1, done.stderr
    (line,) = done.stderr.splitlines()
    assert "no answer in time (DIGEST_FETCH_TIMEOUT) (2 attempts); nothing saved" in line
    assert len(listing.requests) == 2
    assert done.seconds < 2 * 1.0 + 3  # two attempts of a second, the pause and start-up
    assert os.listdir(inbox) == []


@pytest.mark.slow
def test_a_redirect_is_followed_without_reading_its_body(
    tmp_path: Path, inbox: Path, listing: Listing
) -> None:
    # The redirect's own body would take a minute to arrive; nothing waits for it.
    moved = Answer(b"x" * 6000, 302, {"Location": f"/api/daily_papers?date={DAY}"}, trickle=1.0)
    listing.script(DAY, moved, Answer())
    done = fetch_measured(tmp_path, inbox, listing, "--date", DAY, limit=20)
    assert done.returncode == 0, done.stderr
    assert (inbox / f"{DAY}.json").read_bytes() == BODY
    assert len(listing.requests) == 2 and "attempts" not in done.stderr
    assert done.seconds < 5


def test_an_answer_behind_a_byte_order_mark_is_saved_without_it(
    tmp_path: Path, inbox: Path, listing: Listing
) -> None:
    listing.script(DAY, Answer(codecs.BOM_UTF8 + BODY))
    done = fetch(tmp_path, inbox, listing, "--date", DAY)
    assert done.returncode == 0, done.stderr
    assert f"fetched {DAY}: 17 papers, saved as" in done.stderr
    assert (inbox / f"{DAY}.json").read_bytes() == BODY


@pytest.mark.slow
def test_an_unverified_certificate_is_refused(
    tmp_path: Path, inbox: Path, listing: Listing
) -> None:
    import trustme

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with running(Listing(context)) as secure:
        secure.script(DAY, Answer())
        refused = fetch(tmp_path, inbox, secure, "--date", DAY)
        assert refused.returncode == 1
        assert "TLS certificate cannot be verified" in refused.stderr
        assert os.listdir(inbox) == []
        ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
        trusted = fetch(
            tmp_path, inbox, secure, "--date", DAY, SSL_CERT_FILE=str(tmp_path / "ca.pem")
        )
        assert trusted.returncode == 0, trusted.stderr
        assert (inbox / f"{DAY}.json").read_bytes() == BODY


@pytest.mark.slow
def test_bad_settings_are_one_line_each(tmp_path: Path, inbox: Path, listing: Listing) -> None:
    for env, args, says in [
        ({"DIGEST_FETCH_URL": "ftp://example.org/x"}, [], "DIGEST_FETCH_URL='ftp://example.org/x'"),
        (
            {"DIGEST_FETCH_URL": "http://[::1/api"},
            [],
            "DIGEST_FETCH_URL='http://[::1/api' is no address to fetch from: it cannot be read",
        ),
        ({"DIGEST_FETCH_URL": "http:///api"}, [], "DIGEST_FETCH_URL='http:///api' is no address"),
        ({"DIGEST_FETCH_URL": "http://a..b/api"}, [], "DIGEST_FETCH_URL='http://a..b/api' is no"),
        (
            {"DIGEST_FETCH_ATTEMPTS": "50"},
            [],
            "DIGEST_FETCH_ATTEMPTS=50 is out of range: use 1 to 10",
        ),
        (
            {"DIGEST_FETCH_TIMEOUT": "0"},
            [],
            "DIGEST_FETCH_TIMEOUT=0 is out of range: use 0.1 to 600",
        ),
        ({}, ["--date", "18/03/2025"], "--date '18/03/2025' is not a date"),
        ({}, ["--inbox", str(tmp_path / "nowhere")], "is not a folder"),
    ]:
        done = fetch(tmp_path, inbox, listing, *args, **env)
        assert done.returncode == 1, says
        (line,) = done.stderr.splitlines()
        assert says in line
    assert listing.requests == []


# -- the same day again, and a day that grew -------------------------------------------------


def test_the_same_day_twice_is_saved_once(tmp_path: Path, inbox: Path, listing: Listing) -> None:
    listing.script(DAY, Answer())
    assert fetch(tmp_path, inbox, listing, "--date", DAY).returncode == 0
    before = (inbox / f"{DAY}.json").stat()
    again = fetch(tmp_path, inbox, listing, "--date", DAY)
    assert again.returncode == 0
    assert "unchanged since the last fetch; not saved again" in again.stderr
    after = (inbox / f"{DAY}.json").stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert len(listing.requests) == 2


@pytest.mark.slow
def test_a_day_that_grew_is_saved_again_and_only_its_new_papers_are_delivered(
    tmp_path: Path, inbox: Path, listing: Listing
) -> None:
    state, out = tmp_path / "state.sqlite3", tmp_path / "out"
    earlier = cut(BODY, 12)
    run = [*digest_now(inbox, state, "--deliver", "files", "--out", str(out)), "-q"]
    env = clean_env()

    listing.script(DAY, Answer(earlier))
    assert fetch(tmp_path, inbox, listing, "--date", DAY).returncode == 0
    assert subprocess.run(run, env=env, cwd=tmp_path, timeout=60).returncode == 0
    (tmp_path / "earlier.json").write_bytes(earlier)
    first = set(delivered_keys(out))
    assert first == paper_keys(tmp_path / "earlier.json") and len(first) == 12

    listing.script(DAY, Answer())
    grown = fetch(tmp_path, inbox, listing, "--date", DAY)
    assert grown.returncode == 0 and "17 papers, saved as" in grown.stderr
    assert (inbox / f"{DAY}.json").read_bytes() == BODY
    assert subprocess.run(run, env=env, cwd=tmp_path, timeout=60).returncode == 0
    every = delivered_keys(out)
    assert sorted(every) == sorted(paper_keys(REAL / f"{DAY}.json"))  # each paper exactly once
    assert len(every) == 17


@pytest.mark.slow
def test_a_day_already_read_and_moved_away_is_not_saved_again(
    tmp_path: Path, inbox: Path, listing: Listing
) -> None:
    state, out = tmp_path / "state.sqlite3", tmp_path / "out"
    listing.script(DAY, Answer())
    assert fetch(tmp_path, inbox, listing, "--date", DAY).returncode == 0
    run = [*digest_now(inbox, state, "--deliver", "files", "--out", str(out)), "-q"]
    assert subprocess.run(run, env=clean_env(), cwd=tmp_path, timeout=60).returncode == 0
    (inbox / "processed").mkdir()
    os.replace(inbox / f"{DAY}.json", inbox / "processed" / f"{DAY}.json")
    again = fetch(tmp_path, inbox, listing, "--date", DAY)
    assert again.returncode == 0 and "not saved again" in again.stderr
    assert sorted(os.listdir(inbox)) == [".digest-state", "processed"]  # its mark, and the day read


# -- digest serve fetching on its own schedule ------------------------------------------------


def serve_env(tmp_path: Path, inbox: Path, server: Listing, **more: str) -> dict[str, str]:
    """The environment of `digest serve` on this inbox, fetching from the loopback server."""
    return settings_env(
        server,
        DIGEST_INBOX=str(inbox),
        DIGEST_STATE=str(tmp_path / "state.sqlite3"),
        DIGEST_OUT=str(tmp_path / "out"),
        **{"DIGEST_SCHEDULE": "0 7 * * *", "DIGEST_POLL_SECONDS": "0.2", **more},
    )


def start_serve(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """The real `digest serve` as a process, its output in serve.log."""
    with (tmp_path / "serve.log").open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "digest", "serve"],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )


def serve_until_digest(tmp_path: Path, env: dict[str, str]) -> tuple[int, str, float]:
    """Run `digest serve` until its first digest is written (20 s at most), then stop it:
    its exit code, its log, and the seconds from its start to that digest."""
    out = Path(env["DIGEST_OUT"])
    proc = start_serve(tmp_path, env)
    started = time.monotonic()
    try:
        while not list(out.glob("*.json")) and time.monotonic() < started + 20:
            time.sleep(0.1)
        took = time.monotonic() - started
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)  # the first signal is enough: a fetch's attempt ends in time
    return code, (tmp_path / "serve.log").read_text(), took


@pytest.mark.slow
def test_serve_fetches_on_its_schedule_and_delivers_what_it_fetched(
    tmp_path: Path, inbox: Path, listing: Listing
) -> None:
    day = yesterday(datetime.now(UTC), UTC).isoformat()
    real = REAL / "2025-07-22.json"
    # Not there yet (a 404, not tried again), then a server error tried again, then the day.
    listing.script(day, Answer(b"{}", 404), Answer(b"", 500), Answer(real.read_bytes()))
    out = tmp_path / "out"
    env = serve_env(
        tmp_path, inbox, listing, DIGEST_SCHEDULE="every 1s", DIGEST_FETCH_SCHEDULE="every 1s"
    )
    proc = start_serve(tmp_path, env)
    try:
        deadline = time.monotonic() + 20
        while not list(out.glob("*.json")) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # more fetches of the same day: not saved again
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)
    text = (tmp_path / "serve.log").read_text()
    assert code == 0, text
    assert (inbox / f"{day}.json").read_bytes() == real.read_bytes()
    assert sorted(delivered_keys(out)) == sorted(paper_keys(real))
    assert f"fetching the listing: schedule every 1s, from {listing.url}" in text
    assert text.count(f"fetch of {day} failed: ") == 1  # the 404, in one line
    assert f"fetched {day}: 16 papers, saved as" in text and "after 2 attempts" in text
    assert text.count("saved as") == 1 and "not saved again" in text
    assert "Traceback" not in text
    assert [r.day for r in listing.requests] == [day] * len(listing.requests)
    assert len(listing.requests) >= 4


@pytest.mark.slow
def test_a_fetch_that_trickles_never_holds_back_the_digest(
    tmp_path: Path, inbox: Path, listing: Listing
) -> None:
    listing.script("*", Answer(trickle=1.0))  # a whole answer would take ten minutes
    (inbox / f"{DAY}.json").write_bytes(BODY)
    env = serve_env(
        tmp_path,
        inbox,
        listing,
        DIGEST_SCHEDULE="every 2s",
        DIGEST_FETCH_SCHEDULE="every 1s",
        DIGEST_FETCH_TIMEOUT="4",
        DIGEST_FETCH_ATTEMPTS="10",  # a fetch job of 40 s and more
    )
    code, text, took = serve_until_digest(tmp_path, env)
    assert code == 0, text
    assert took < 20, text
    assert sorted(delivered_keys(tmp_path / "out")) == sorted(paper_keys(inbox / f"{DAY}.json"))
    assert "Traceback" not in text


@pytest.mark.slow
def test_a_digest_due_with_the_fetch_waits_for_it_and_mails_what_it_fetched(
    tmp_path: Path, inbox: Path, listing: Listing
) -> None:
    day = yesterday(datetime.now(UTC), UTC).isoformat()
    real = REAL / "2025-07-22.json"
    listing.script(day, Answer(real.read_bytes(), delay=1.5))  # a fetch slower than a run
    env = serve_env(
        tmp_path,
        inbox,
        listing,
        DIGEST_SCHEDULE="every 3s",
        DIGEST_FETCH_SCHEDULE="every 3s",  # both due at once
        DIGEST_FETCH_TIMEOUT="10",
    )
    code, text, _ = serve_until_digest(tmp_path, env)
    assert code == 0, text
    assert sorted(delivered_keys(tmp_path / "out")) == sorted(paper_keys(real)), text
    # The first scheduled run waited for the fetch: no run found the inbox empty before it.
    first = text.index("16 new papers of 16")
    assert "nothing new: no unread dumps" not in text[:first], text
    assert text.index(f"fetched {day}: 16 papers, saved as") < first
    assert len(listing.requests) == 1, text  # the job and the digest: one fetch between them
    assert "Traceback" not in text


@pytest.mark.slow
def test_a_digest_waits_for_a_slow_fetch_no_longer_than_the_fetch_timeout(
    tmp_path: Path, inbox: Path, listing: Listing
) -> None:
    listing.script("*", Answer(delay=30))  # an answer long after the digest is due
    (inbox / f"{DAY}.json").write_bytes(BODY)
    env = serve_env(
        tmp_path,
        inbox,
        listing,
        DIGEST_SCHEDULE="every 2s",
        DIGEST_FETCH_SCHEDULE="every 2s",
        DIGEST_FETCH_TIMEOUT="3",
        DIGEST_FETCH_ATTEMPTS="1",
    )
    code, text, took = serve_until_digest(tmp_path, env)
    assert code == 0, text
    assert sorted(delivered_keys(tmp_path / "out")) == sorted(paper_keys(inbox / f"{DAY}.json"))
    assert 2 + 3 <= took < 2 + 3 + 4, text  # the first run, held back 3 s, then mailed
    assert "the listing's fetch takes longer than 3s" in text
    assert "Traceback" not in text


def test_a_bad_fetch_schedule_stops_serve_in_one_line(
    tmp_path: Path, inbox: Path, listing: Listing
) -> None:
    env = serve_env(tmp_path, inbox, listing, DIGEST_FETCH_SCHEDULE="every 0s")
    done = subprocess.run(
        [sys.executable, "-m", "digest", "serve"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert "DIGEST_FETCH_SCHEDULE='every 0s'" in line


@pytest.mark.slow
@pytest.mark.parametrize(
    ("answer", "more"),
    [
        # The pause after the first failure is 15 to 30 s.
        pytest.param(Answer(b"", 503), {"DIGEST_FETCH_BACKOFF": "30"}, id="in-a-pause"),
        pytest.param(Answer(drip=1.0), {}, id="headers-a-byte-a-second"),
        pytest.param(Answer(trickle=1.0), {}, id="body-100-bytes-a-second"),
        pytest.param(Answer(delay=60), {}, id="no-answer"),
    ],
)
def test_stopping_serve_cuts_a_fetch_short(
    tmp_path: Path, inbox: Path, listing: Listing, answer: Answer, more: dict[str, str]
) -> None:
    listing.script("*", answer)
    env = serve_env(
        tmp_path,
        inbox,
        listing,
        DIGEST_FETCH_SCHEDULE="every 1s",
        **{"DIGEST_FETCH_TIMEOUT": "60", **more},
    )
    proc = start_serve(tmp_path, env)
    log = tmp_path / "serve.log"
    try:
        deadline = time.monotonic() + 20
        while not listing.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert listing.requests, log.read_text()
        time.sleep(0.3)
        asked = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(20)
        took = time.monotonic() - asked
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert code == 0 and took < 3, (took, text)
    assert "stopped before it was done; nothing saved" in text
    assert len(listing.requests) == 1 and os.listdir(inbox) == []
