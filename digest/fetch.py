"""`digest fetch`: download one day's Daily Papers listing and save it into the inbox.

The pure parts decide: the address of a day, how long to wait before trying again, whether an
answer is a complete listing. `fetch_day` does the I/O: an HTTP client (httpx, loaded on first
use only, so other commands never pay for it), a few attempts with backoff, and an atomic write
into the inbox, so that `serve` and `now` see the old file or the whole new one, never a part.

A day is saved only when its content is new: the same bytes as the file already there, or as a
dump already read (moved to processed/, say), are not written again. A day whose list grew is
new content: it replaces `<date>.json`, and the papers already shown are known by the identity
rule, so only the new ones reach the next digest.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path

from digest import __version__
from digest.errors import ConfigError, FetchError, ParseError

TYPE_CHECKING = False  # typing itself costs start-up time
if TYPE_CHECKING:
    from collections.abc import Callable

    import httpx

    from digest.config import Settings
    from digest.models import Dump
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


def _no_stop(seconds: float) -> bool:
    time.sleep(seconds)
    return False


@dataclass(frozen=True, slots=True)
class Download:
    """An answer's body and how many requests it took."""

    data: bytes
    attempts: int


def client(settings: Settings) -> httpx.Client:
    """The HTTP client: TLS verified (httpx's default, SSL_CERT_FILE honoured), a timeout on
    connecting and on each read, redirects followed, and digest's User-Agent."""
    import httpx

    return httpx.Client(
        timeout=httpx.Timeout(settings.fetch_timeout),
        headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        follow_redirects=True,
    )


def download(
    http: httpx.Client,
    url: str,
    *,
    attempts: int,
    backoff: float,
    max_bytes: int,
    wait: Callable[[float], bool] = _no_stop,
    jitter: Callable[[], float] = random.random,
) -> Download:
    """GET `url`, trying again after timeouts, connection failures, 408, 429 and 5xx answers, at
    most `attempts` times in all. `wait(seconds)` pauses between attempts and returns True when
    the pause was cut short to stop. Raises FetchError saying what failed last."""
    import httpx

    problem = ""
    for attempt in range(1, attempts + 1):
        asked: float | None = None
        # The timeout bounds each attempt as a whole, so a server trickling its answer a
        # byte at a time cannot hold a fetch (or a service's schedule) for long.
        deadline = time.monotonic() + (http.timeout.read or 30.0)
        try:
            with http.stream("GET", url) as response:
                status = response.status_code
                if status == 200:
                    return Download(_body(response, max_bytes, url, deadline), attempt)
                problem = f"HTTP {status} {response.reason_phrase}".strip()
                if status not in RETRIED and status < 500:
                    raise FetchError(_refused(url, status, problem))
                asked = retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
        except httpx.TimeoutException:
            problem = "no answer in time (DIGEST_FETCH_TIMEOUT)"
        except httpx.TransportError as e:
            if _tls_failure(e):
                raise FetchError(
                    f"cannot fetch {url}: its TLS certificate cannot be verified ({e});"
                    " nothing saved"
                ) from None
            problem = _connection_problem(e)
        except httpx.HTTPError as e:  # a bad redirect, a body that cannot be decoded
            raise FetchError(f"cannot fetch {url}: {e}; nothing saved") from None
        if attempt == attempts:
            break
        if asked is not None and asked > MAX_WAIT:
            raise FetchError(
                f"cannot fetch {url}: {problem}, and the server asks to wait {asked:.0f}s;"
                " nothing saved; try again later"
            )
        delay = retry_delay(attempt, backoff, jitter(), asked)
        log.debug("%s: %s; attempt %d of %d in %.2fs", url, problem, attempt + 1, attempts, delay)
        if wait(delay):
            raise FetchError(f"fetch of {url} stopped before it was done; nothing saved")
    raise FetchError(
        f"cannot fetch {url}: {problem} ({attempts} attempts); nothing saved;"
        " try again later, or check DIGEST_FETCH_URL"
    )


def _body(response: httpx.Response, max_bytes: int, url: str, deadline: float) -> bytes:
    """The body, read no further than `max_bytes` (DIGEST_MAX_DUMP_MB), so memory stays bounded
    whatever the server sends (decompressed size counts)."""
    too_big = FetchError(
        f"the answer of {url} is over the {max_bytes / 1e6:.0f} MB limit (DIGEST_MAX_DUMP_MB);"
        " nothing saved"
    )
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise too_big
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        if time.monotonic() > deadline:
            import httpx

            raise httpx.ReadTimeout("the answer took longer than DIGEST_FETCH_TIMEOUT")
        size += len(chunk)
        if size > max_bytes:
            raise too_big
        chunks.append(chunk)
    return b"".join(chunks)


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


def fetch_day(settings: Settings, day: date, wait: Callable[[float], bool] = _no_stop) -> Fetched:
    """Download the listing of `day` and save it into the inbox as `<day>.json`, unless the same
    content is there already or was read before. Raises DigestError saying what to do; nothing
    is written then."""
    import codecs

    from digest.channels.files import write_atomically

    folder = settings.require_inbox()
    url = day_url(settings.fetch_url, day)
    with client(settings) as http:
        got = download(
            http,
            url,
            attempts=settings.fetch_attempts,
            backoff=settings.fetch_backoff,
            max_bytes=settings.max_dump_mb * 1_000_000,
            wait=wait,
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
