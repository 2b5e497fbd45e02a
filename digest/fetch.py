"""`digest fetch`: download one day's Daily Papers listing and save it into the inbox.

The pure parts decide: the address of a day, how long to wait before trying again, where a
redirect may lead, whether an answer is a complete listing. `fetch_day` does the I/O: an HTTP
client (httpx, loaded on first use only, so other commands never pay for it), a few attempts
with backoff, and an atomic write into the inbox, so that `serve` and `now` see the old file or
the whole new one, never a part.

Whatever the server does, a fetch is bounded: each attempt by one deadline in all (connecting,
the headers, the body, redirects), the attempts by their number and the pauses by MAX_WAIT, the
answer by DIGEST_MAX_DUMP_MB after decompression; a service's stop ends it within STOP_CHECK.
Only what may pass is tried again; anything else is one line at once.

A day is saved only when its content is new: the same bytes as the file already there, or as a
dump already read (moved to processed/, say), are not written again. A day whose list grew is
new content: it replaces `<date>.json`, and the papers already shown are known by the identity
rule, so only the new ones reach the next digest.
"""

from __future__ import annotations

import contextlib
import logging
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

from digest import __version__
from digest.errors import ConfigError, FetchError, ParseError

TYPE_CHECKING = False  # typing itself costs start-up time
if TYPE_CHECKING:
    import threading
    from collections.abc import AsyncGenerator, Callable, Coroutine

    import httpx

    from digest.models import Dump
    from digest.settings import Settings
    from digest.state import StateUrl

log = logging.getLogger(__name__)

USER_AGENT = f"digest/{__version__} (a daily digest of Daily Papers listings)"
MAX_WAIT = 60.0  # the longest pause between two attempts, a server's Retry-After included
RETRIED = frozenset({408, 429})  # and every 5xx


# -- deciding (pure) ---------------------------------------------------------------------------


def yesterday(now: datetime, tz: tzinfo) -> date:
    """The day before `now` in the time zone: the last complete listing (today's still grows)."""
    return now.astimezone(tz).date() - timedelta(days=1)


def day_of(text: str) -> date:
    """A `--date` value as a date; ConfigError unless it is YYYY-MM-DD."""
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--date {text!r} is not a date; write it as YYYY-MM-DD") from None


def day_url(base: str, day: date) -> str:
    """The address of one day's listing: `base` with `date=YYYY-MM-DD` in its query."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    parts = urlsplit(base)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "date"]
    query.append(("date", day.isoformat()))
    return urlunsplit(parts._replace(query=urlencode(query)))


def redirect_refusal(location: str, origin: str, here: str | None = None) -> str | None:
    """Why a redirect to `location` (a Location header, maybe relative to `here`, the address
    that answered, `origin` by default) in a fetch of `origin` is not followed, or None when
    it may be: only to http(s), and to this machine or a private network only from there (a
    public server must not steer digest inside)."""
    from urllib.parse import urljoin

    from digest.config import address_problem

    try:
        target = urljoin(here or origin, location.strip())
    except ValueError as e:
        return f"which cannot be read ({e})"
    problem = address_problem(target)
    if problem is not None:
        return problem.replace("it ", "which ", 1)
    if _inside(target) and not _inside(origin):
        return "a private or loopback address"
    return None


def _inside(url: str) -> bool:
    """Whether `url` names this machine or a private network by its address, or localhost
    (host names are not looked up: that would take a name lookup the fetch then repeats)."""
    import ipaddress
    import socket
    from urllib.parse import urlsplit

    host = (urlsplit(url).hostname or "").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:  # the forms connecting accepts too: 2130706433, 127.1, 0x7f.0.0.1
            address = ipaddress.ip_address(socket.inet_aton(host))
        except (OSError, ValueError):
            return False
    return not address.is_global


def retry_delay(attempt: int, backoff: float, jitter: float, asked: float | None) -> float:
    """Seconds to wait after failed attempt number `attempt` (from 1): `backoff` doubled for each
    attempt, capped at MAX_WAIT, times a jitter factor from 0.5 to 1 (`jitter` in [0, 1)) so
    that many clients do not come back at once; at least what the server `asked` for."""
    delay = min(backoff * 2.0 ** (attempt - 1), MAX_WAIT) * (0.5 + jitter / 2)
    return max(delay, asked or 0.0)


def retry_after(value: str | None, now: datetime) -> float | None:
    """A Retry-After header in seconds (it may be a number of seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def listing(data: bytes, day: date, url: str) -> Dump:
    """The dump an answer holds; FetchError unless it is complete JSON that reads as a Daily
    Papers list with at least one paper (the parser would salvage a cut-off list: not here)."""
    import json

    from digest.formats import parse
    from digest.formats.common import decode_json

    if data.lstrip()[:1] == b"<":
        raise FetchError(
            f"{url} answered with an HTML page, not the JSON list of {day};"
            " nothing saved; check DIGEST_FETCH_URL"
        )
    try:
        decode_json(data.decode("utf-8"), f"{day}.json")
    except ParseError as e:  # past the bounds every dump is held to: too deep, too many values
        raise FetchError(
            f"the answer of {url} cannot be read ({e.why}); nothing saved; check DIGEST_FETCH_URL"
        ) from None
    except ValueError as e:
        why = e.msg if isinstance(e, json.JSONDecodeError) else "not UTF-8 text"
        raise FetchError(
            f"the answer of {url} is not complete JSON ({why}); nothing saved;"
            f" run digest fetch --date {day} again later"
        ) from None
    try:
        dump = parse(data, f"{day}.json")
    except ParseError as e:
        raise FetchError(
            f"the answer of {url} is not a Daily Papers list ({e.why}); nothing saved;"
            " check DIGEST_FETCH_URL"
        ) from None
    if dump.format != "json" or not dump.papers:
        raise FetchError(
            f"{url} lists no papers for {day} (yet); nothing saved;"
            f" run digest fetch --date {day} again later, or choose another --date"
        )
    return dump


# -- downloading -------------------------------------------------------------------------------


STOP_CHECK = 0.1  # seconds between two looks at a service's stop event during a fetch
MAX_REDIRECTS = 5


@dataclass(frozen=True, slots=True)
class Download:
    """An answer's body and how many requests it took."""

    data: bytes
    attempts: int


class _Again(Exception):
    """An attempt failed in a way that may pass: a timeout, a lost connection, 408, 429, 5xx."""

    def __init__(self, problem: str, asked: float | None = None) -> None:
        super().__init__(problem)
        self.problem = problem
        self.asked = asked  # the server's Retry-After, in seconds


def download(
    url: str,
    *,
    timeout: float,
    attempts: int,
    backoff: float,
    max_bytes: int,
    stop: threading.Event | None = None,
    jitter: Callable[[], float] = random.random,
) -> Download:
    """GET `url`, at most `attempts` times, trying again only after what may pass (timeouts,
    lost connections, 408, 429, 5xx), with a pause between. Each attempt takes `timeout` seconds
    at most in all, however slowly the server answers; `stop` set ends the fetch within
    STOP_CHECK seconds. Either way the connection is closed. Raises FetchError saying what
    failed last, at once for what trying again cannot mend."""
    work = _download(url, timeout, attempts, backoff, max_bytes, jitter)
    return _run(_unless_stopped(work, stop, url))


def _run(main: Coroutine[object, object, Download]) -> Download:
    """Run `main` in an event loop of its own: Ctrl-C cancels it (so it closes its connection)
    before going on as KeyboardInterrupt, and a name lookup still under way is not waited for."""
    import asyncio

    loop = asyncio.new_event_loop()
    task = loop.create_task(main)
    try:
        return loop.run_until_complete(task)
    finally:
        if not task.done():
            task.cancel()
            loop.run_until_complete(asyncio.wait([task]))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _unless_stopped(
    work: Coroutine[object, object, Download], stop: threading.Event | None, url: str
) -> Download:
    """`work`'s result, or FetchError once `stop` is set: a threading.Event cannot wake an
    event loop, so it is looked at every STOP_CHECK seconds, and `work` cancelled."""
    import asyncio

    if stop is None:
        return await work
    task = asyncio.ensure_future(work)
    try:
        while not task.done():
            if stop.is_set():
                raise FetchError(f"fetch of {url} stopped before it was done; nothing saved")
            await asyncio.wait([task], timeout=STOP_CHECK)
        return task.result()
    finally:
        if not task.done():
            task.cancel()
            await asyncio.wait([task])


async def _download(
    url: str,
    timeout: float,
    attempts: int,
    backoff: float,
    max_bytes: int,
    jitter: Callable[[], float],
) -> Download:
    import asyncio

    problem = ""
    async with _client(url) as http:
        for attempt in range(1, attempts + 1):
            asked: float | None = None
            try:
                # One deadline for the whole attempt: a timeout on each read alone lets a
                # server that trickles its headers or body a byte at a time hold a fetch for
                # hours. Passing it cancels the attempt, which closes its connection.
                async with asyncio.timeout(timeout):
                    return Download(await _answer(http, url, max_bytes), attempt)
            except TimeoutError:
                problem = "no answer in time (DIGEST_FETCH_TIMEOUT)"
            except _Again as e:
                problem, asked = e.problem, e.asked
            if attempt == attempts:
                break
            if asked is not None and asked > MAX_WAIT:
                raise FetchError(
                    f"cannot fetch {url}: {problem}, and the server asks to wait {asked:.0f}s;"
                    " nothing saved; try again later"
                )
            delay = retry_delay(attempt, backoff, jitter(), asked)
            log.debug(
                "%s: %s; attempt %d of %d in %.2fs", url, problem, attempt + 1, attempts, delay
            )
            await asyncio.sleep(delay)
    raise FetchError(
        f"cannot fetch {url}: {problem} ({attempts} attempts); nothing saved;"
        " try again later, or check DIGEST_FETCH_URL"
    )


def _client(url: str) -> httpx.AsyncClient:
    """The HTTP client: TLS verified (httpx's default, SSL_CERT_FILE honoured), digest's
    User-Agent, only encodings whose decoding `_body` bounds, and every redirect checked
    against `url` before it is followed."""
    import httpx

    async def check_redirect(response: httpx.Response) -> None:
        if response.has_redirect_location:
            location = response.headers["Location"]
            refusal = redirect_refusal(location, url, str(response.request.url))
            if refusal is not None:
                raise FetchError(
                    f"{url} redirects to {location[:200]!r}, {refusal}; refused; nothing saved;"
                    " check DIGEST_FETCH_URL"
                )

    return httpx.AsyncClient(
        timeout=None,  # each attempt has one deadline in all instead
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
            "Accept-Encoding": ", ".join(sorted(_DECODED)),
        },
        follow_redirects=False,  # followed by _answer, which never reads a redirect's body
        event_hooks={"response": [check_redirect]},
    )


async def _answer(http: httpx.AsyncClient, url: str, max_bytes: int) -> bytes:
    """The body of a 200 answer to `url`, redirects followed. _Again when what failed may pass;
    FetchError when it will not (a 404, a bad redirect, a TLS certificate not verified)."""
    import httpx

    request = http.build_request("GET", url)
    try:
        for _ in range(MAX_REDIRECTS + 1):
            response = await http.send(request, stream=True)
            try:
                if response.next_request is None:
                    return await _body(response, max_bytes, url)
                request = response.next_request
            finally:
                await response.aclose()
    except httpx.TimeoutException:
        raise _Again("no answer in time (DIGEST_FETCH_TIMEOUT)") from None
    except (httpx.NetworkError, httpx.RemoteProtocolError) as e:  # refused, reset, cut off
        if _tls_failure(e):
            raise FetchError(
                f"cannot fetch {url}: its TLS certificate cannot be verified ({e}); nothing saved"
            ) from None
        raise _Again(_connection_problem(e)) from None
    except httpx.HTTPError as e:  # an unusable answer or proxy: the same again next time
        raise FetchError(f"cannot fetch {url}: {e}; nothing saved") from None
    raise FetchError(
        f"cannot fetch {url}: more than {MAX_REDIRECTS} redirects; nothing saved;"
        " check DIGEST_FETCH_URL"
    )


async def _body(response: httpx.Response, max_bytes: int, url: str) -> bytes:
    """The body of a 200 answer, or _Again/FetchError for any other status. Read no further
    than `max_bytes` (DIGEST_MAX_DUMP_MB) however it is compressed: httpx's own decoding
    would inflate a whole read (up to a thousand times its size) before anything counts it."""
    status = response.status_code
    if status != 200:
        problem = f"HTTP {status} {response.reason_phrase}".strip()
        if status in RETRIED or status >= 500:
            raise _Again(problem, retry_after(response.headers.get("Retry-After"), _utc_now()))
        raise FetchError(_refused(url, status, problem))
    too_big = FetchError(
        f"the answer of {url} is over the {max_bytes / 1e6:.0f} MB limit (DIGEST_MAX_DUMP_MB);"
        " nothing saved"
    )
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_big
    from typing import cast

    decode = _decoder(response.headers.get("Content-Encoding", ""), url)
    chunks: list[bytes] = []
    size = 0
    # An async generator: closed here when the body is refused, not later by the collector.
    raws = cast("AsyncGenerator[bytes, None]", response.aiter_raw())
    async with contextlib.aclosing(raws):
        async for raw in raws:
            chunk = decode(raw, max_bytes - size + 1)
            size += len(chunk)
            if size > max_bytes:
                raise too_big
            chunks.append(chunk)
    return b"".join(chunks)


_DECODED = frozenset({"gzip", "deflate"})  # asked for; x-gzip is an old name of gzip


def _decoder(encoding: str, url: str) -> Callable[[bytes, int], bytes]:
    """A function of (raw bytes, most bytes wanted) giving the decoded bytes, never more."""
    import zlib

    name = encoding.strip().lower()
    if name in ("", "identity"):
        return lambda raw, most: raw
    if name not in (*_DECODED, "x-gzip"):
        raise FetchError(
            f"the answer of {url} is encoded as {encoding[:40]!r}, which digest does not read;"
            " nothing saved; check DIGEST_FETCH_URL"
        )
    inflate = zlib.decompressobj(zlib.MAX_WBITS | 32)  # a gzip or zlib header, told apart

    def decode(raw: bytes, most: int) -> bytes:
        try:
            return inflate.decompress(raw, most)
        except zlib.error as e:
            raise FetchError(
                f"the answer of {url} cannot be decoded ({name}: {e}); nothing saved"
            ) from None

    return decode


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _refused(url: str, status: int, problem: str) -> str:
    if status == 404:
        return (
            f"{url}: {problem}: no listing there; nothing saved;"
            " check --date (a day that has a listing) and DIGEST_FETCH_URL"
        )
    return f"{url}: {problem}; nothing saved; check DIGEST_FETCH_URL"


def _tls_failure(error: Exception) -> bool:
    import ssl

    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return True
        cause = cause.__cause__ or cause.__context__
    return False


def _connection_problem(error: Exception) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return f"connection failed ({text})"


# -- one day, end to end ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fetched:
    """What fetching a day did."""

    day: date
    path: Path
    papers: int
    size: int
    attempts: int
    saved: bool  # False: the same content was there, or was read, already

    def line(self) -> str:
        """One line for the log."""
        tries = "" if self.attempts == 1 else f", after {self.attempts} attempts"
        if not self.saved:
            return (
                f"fetched {self.day}: {self.papers} papers, unchanged since the last fetch;"
                f" not saved again{tries}"
            )
        return (
            f"fetched {self.day}: {self.papers} papers, saved as {self.path}"
            f" ({self.size:,} bytes{tries})"
        )


def fetch_day(settings: Settings, day: date, stop: threading.Event | None = None) -> Fetched:
    """Download the listing of `day` and save it into the inbox as `<day>.json`, unless the same
    content is there already or was read before; `stop` set ends it early. Raises DigestError
    saying what to do; nothing is written then."""
    import codecs

    from digest.disk import write_atomically

    folder = settings.require_inbox()
    url = day_url(settings.fetch_url, day)
    got = download(
        url,
        timeout=settings.fetch_timeout,
        attempts=settings.fetch_attempts,
        backoff=settings.fetch_backoff,
        max_bytes=settings.max_dump_mb * 1_000_000,
        stop=stop,
    )
    # A byte-order mark is allowed before UTF-8 text, but JSON readers refuse it: the file
    # is saved without it, so that every reader of the inbox sees plain JSON.
    data = got.data.removeprefix(codecs.BOM_UTF8)
    dump = listing(data, day, url)
    target = folder / f"{day}.json"
    seen = _same_content(target, data) or _read_before(settings.state, dump.sha256)
    if not seen:
        try:
            write_atomically(target, data)
        except OSError as e:
            raise FetchError(f"cannot save {target}: {e.strerror}; nothing saved") from None
    return Fetched(day, target, len(dump.papers), len(data), got.attempts, not seen)


def _same_content(path: Path, data: bytes) -> bool:
    try:
        return path.stat().st_size == len(data) and path.read_bytes() == data
    except OSError:
        return False


def _read_before(state: Path | StateUrl, sha256: str) -> bool:
    """Whether a dump with this content was read already (never creates the state file)."""
    if isinstance(state, Path) and not state.exists():
        return False
    from digest import state as states

    with states.open(state) as store:
        return bool(store.ingested_dumps([sha256]))
