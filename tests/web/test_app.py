"""`digest web`: the archive of a real run, served by the real command on a loopback port and
fetched with httpx; pages, feed and types, the security headers, and paths that lead out."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import feedparser
import httpx
import pytest

from tests.conftest import ROOT
from tests.mailserver import free_port
from tests.processes import clean_env, digest_now

REAL = ROOT / "tests" / "fixtures" / "real"
SECRET = "the state beside the archive"
# Files in the archive folder that the archive did not write: never served.
FOREIGN = {
    ".env": f"DIGEST_SMTP_PASSWORD={SECRET}\n",
    "state.sqlite3": SECRET,
    "state.sqlite3-wal": SECRET,
    "digest-2025-03-19-0001.eml": SECRET,
    "notes.txt": SECRET,
    ".index.html1x2y3z.tmp": SECRET,
    "old/index.html": SECRET,
    "index.html.bak": SECRET,
    "2025-03-19-0001.html~": SECRET,
}


@dataclass
class Web:
    url: str
    port: int
    site: Path
    process: subprocess.Popen[str]


def start(
    site: Path, *args: str, port: int | None = None, stderr: IO[str] | int = subprocess.PIPE
) -> tuple[subprocess.Popen[str], int]:
    port = port or free_port()
    command = [sys.executable, "-m", "digest", "web", "--archive", str(site), "--port", str(port)]
    process = subprocess.Popen(
        [*command, *args],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    return process, port


def wait_until_up(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("digest web did not start listening")


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    """The archive of two real deliveries, served; a file beside it that must stay out."""
    root = tmp_path_factory.mktemp("web")
    inbox, site = root / "inbox", root / "site"
    inbox.mkdir()
    for day in ("2025-03-18", "2025-03-19"):
        shutil.copy(REAL / f"{day}.json", inbox)
    env = clean_env(DIGEST_ARCHIVE=str(site), DIGEST_OUT=str(root / "out"))
    subprocess.run(digest_now(inbox, root / "state.sqlite3"), env=env, check=True, timeout=120)
    (root / "secret.txt").write_text(SECRET)
    (site / "link-out.html").symlink_to(root / "secret.txt")
    for name, data in FOREIGN.items():  # what an operator may have left in the folder
        (site / name).parent.mkdir(exist_ok=True)
        (site / name).write_text(data)
    (site / "2025-03-19-0002.html").symlink_to(root / "secret.txt")  # named like a page
    os.mkfifo(site / "2025-03-19-0003.html")  # a pipe named like a page: never waited on
    process, port = start(site)
    try:
        wait_until_up(port, process)
        yield Web(f"http://127.0.0.1:{port}", port, site, process)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


def secure(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "frame-ancestors 'none'" in csp


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "file"), [("/", "index.html"), ("/2025-03-19-0001.html", "2025-03-19-0001.html")]
)
def test_the_index_and_each_page_are_served_as_written(web: Web, path: str, file: str) -> None:
    response = httpx.get(web.url + path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.content == (web.site / file).read_bytes()
    secure(response)


@pytest.mark.slow
def test_the_feed_is_served_as_atom_and_reads_as_one(web: Web) -> None:
    response = httpx.get(web.url + "/feed.xml")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(
        response.content,
        response_headers={**response.headers, "content-location": str(response.url)},
    )
    assert not parsed.bozo, parsed.get("bozo_exception")
    [entry] = parsed.entries
    assert entry.link == web.url + "/2025-03-19-0001.html"
    assert httpx.get(entry.link).status_code == 200  # its relative link, resolved, is served
    listed = httpx.get(web.url + "/digests.json")
    assert listed.headers["content-type"] == "application/json; charset=utf-8"
    assert listed.json()["digests"][0]["page"] == "2025-03-19-0001.html"


@pytest.mark.parametrize(
    "path",
    [
        "/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/link-out.html",  # a symbolic link that leads out of the folder
        "/nothing-here.html",
        *(f"/{name}" for name in FOREIGN),
        "/old/",
        "/old",
        "/2025-03-19-0002.html",
        "/2025-03-19-0003.html",
        "/index.html/",
        "/%2e%2e/site/index.html",
    ],
)
def test_nothing_but_what_the_archive_wrote_is_served(web: Web, path: str) -> None:
    response = httpx.get(web.url + path)
    assert response.status_code == 404
    assert SECRET not in response.text
    secure(response)


def test_a_raw_dot_dot_path_is_refused_too(web: Web) -> None:
    answer = raw(web.port, b"GET /../secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert answer.split(b"\r\n", 1)[0] in (b"HTTP/1.1 404 Not Found", b"HTTP/1.1 400 Bad Request")
    assert SECRET.encode() not in answer


def test_head_and_a_conditional_get_answer_from_the_file_as_written(web: Web) -> None:
    size = (web.site / "feed.xml").stat().st_size
    head = httpx.head(web.url + "/feed.xml")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(size)
    again = httpx.get(web.url + "/feed.xml", headers={"if-none-match": head.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    secure(again)
    changed = httpx.get(web.url + "/feed.xml", headers={"if-none-match": '"another"'})
    assert changed.status_code == 200 and len(changed.content) == size


def raw(port: int, request: bytes) -> bytes:
    """The whole answer to one request sent as these bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    return answer


HOSTILE = "evil.example"


@pytest.mark.parametrize(
    "target",
    [
        "/old",  # a folder of the archive folder
        "/unsubscribe",
        "/preferences/",
        "/like",
        "/index.html/",
        "//evil.example/x",
        "/nothing-here/",
        f"http://{HOSTILE}/old",
    ],
)
def test_no_answer_carries_the_host_it_was_asked_for(web: Web, target: str) -> None:
    """A redirect built from the request's Host would send a reader wherever the request
    said (a poisoned cache, a link in a mail): no answer names it, none redirects."""
    answer = raw(
        web.port,
        f"GET {target} HTTP/1.1\r\nHost: {HOSTILE}\r\nConnection: close\r\n\r\n".encode(),
    )
    head, _, _ = answer.partition(b"\r\n\r\n")
    assert HOSTILE.encode() not in head.lower()
    assert b"\r\nlocation:" not in head.lower()
    assert head.split(b"\r\n", 1)[0] == b"HTTP/1.1 404 Not Found"


def test_only_reading_is_allowed(web: Web) -> None:
    response = httpx.post(web.url + "/", content=b"x")
    assert response.status_code == 405
    assert sorted(response.headers["allow"].split(", ")) == ["GET", "HEAD"]
    secure(response)


def test_it_listens_on_loopback_only_by_default(web: Web) -> None:
    hex_port = f"{web.port:04X}"
    listening = [
        line.split()[1]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if line.split()[1].endswith(":" + hex_port) and line.split()[3] == "0A"
    ]
    assert listening == [f"0100007F:{hex_port}"]


def test_a_port_in_use_is_one_line_naming_the_settings(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        process, _ = start(tmp_path / "site", port=taken.getsockname()[1])
        _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert err.splitlines()[-1].startswith("digest: cannot listen on 127.0.0.1:")
    assert "set DIGEST_WEB_BIND and DIGEST_WEB_PORT" in err
    assert "Traceback" not in err


def test_sigterm_stops_it_cleanly(tmp_path: Path) -> None:
    site = tmp_path / "site"  # beside the state, not around it
    site.mkdir()
    (site / "index.html").write_text("<p>hi</p>")
    process, port = start(site)
    wait_until_up(port, process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert err.startswith(f"digest: serving {site} on http://127.0.0.1:{port}/")


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.slow
@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is not installed"
)
@pytest.mark.parametrize("width", [375, 1280])
def test_the_pages_read_well_in_a_browser_at_phone_and_desktop_widths(
    web: Web, width: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Screenshots of the index and a digest page, served and from file://, into
    $SCREENSHOTS (a temporary folder unless set); no page is wider than the window, and the
    inline styles apply under the Content-Security-Policy."""
    import os

    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    shots = Path(os.environ.get("SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    shots.mkdir(parents=True, exist_ok=True)
    pages = {
        "index": web.url + "/",
        "digest": web.url + "/2025-03-19-0001.html",
        "index-file": (web.site / "index.html").as_uri(),
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            blocked: list[str] = []
            missing: list[str] = []
            page.on("console", lambda m: blocked.append(m.text) if "Policy" in m.text else None)
            page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
            for name, url in pages.items():
                page.goto(url)
                assert page.evaluate("document.documentElement.scrollWidth") <= width, name
                background = page.evaluate("getComputedStyle(document.body).backgroundColor")
                assert background == "rgb(243, 242, 238)", name  # the inline styles applied
                path = shots / f"{name}-{width}.png"
                page.screenshot(path=str(path), full_page=True)
                assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            page.goto(pages["index"])
            page.click("text=35 new papers")  # the index links to the page
            assert page.url == pages["digest"]
            page.click("text=All digests")  # and the page back to the index
            assert page.url == web.url + "/index.html"
        finally:
            browser.close()
    assert blocked == []  # nothing refused by the Content-Security-Policy
    assert [url for url in missing if not url.endswith("/favicon.ico")] == []


@pytest.mark.parametrize("archive", [False, True])
def test_a_run_with_nothing_new_loads_none_of_the_web_feed_or_chat_libraries(
    tmp_path: Path, inbox: Path, archive: bool
) -> None:
    settings = {"DIGEST_ARCHIVE": str(tmp_path / "site")} if archive else {}
    code = (
        "import sys; from digest.cli import main;"
        f" code = main(['now', '--inbox', {str(inbox)!r}, '-q']);"
        " print(code, [m for m in ('feedgen', 'lxml', 'apprise', 'starlette', 'uvicorn')"
        " if m in sys.modules])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=clean_env(**settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout == "0 []\n", done.stderr


@contextmanager
def serving(site: Path) -> Iterator[tuple[str, list[str]]]:
    """`digest web` on `site`, its address, and afterwards what it wrote to its stderr
    (into a file: a pipe nobody reads while it runs would stop it once full)."""
    said: list[str] = []
    with tempfile.TemporaryFile("w+") as err:
        process, port = start(site, stderr=err)
        try:
            wait_until_up(port, process)
            yield f"http://127.0.0.1:{port}", said
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)
            err.seek(0)
            said += err.read().splitlines()


def beyond_starting(said: list[str]) -> list[str]:
    return [line for line in said if not line.startswith("digest: serving ")]


@pytest.mark.slow
def test_pages_rewritten_while_served_are_each_sent_whole_as_one_version(
    web: Web, tmp_path: Path
) -> None:
    """A writer rewrites the archive over and over (as each delivery does) while clients
    fetch it: every answer is complete, its length the one it declared, and its body one
    version the writer wrote; the server says nothing (no traceback)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from digest import state
    from digest.archive import Archive

    site = tmp_path / "site"
    paths = {"/": "index.html", "/feed.xml": "feed.xml", "/2025-03-19-0001.html": None}
    versions: dict[str, set[bytes]] = {name: set() for name in paths.values() if name}
    stop = threading.Event()

    def written() -> None:
        for name, seen in versions.items():
            seen.add((site / name).read_bytes())

    def rewrite() -> None:
        with state.open(web.site.parent / "state.sqlite3") as store:
            n = 0
            while not stop.is_set():  # each title a different length: index, feed resized
                Archive(site, title="Daily papers" + " +" * (n % 40)).build(store)
                written()
                n += 1

    def fetch(worker: int) -> list[tuple[str, int | str, str, bytes]]:
        got: list[tuple[str, int | str, str, bytes]] = []
        with httpx.Client(base_url=url, timeout=30) as client:
            for n in range(300):
                path = list(paths)[(worker + n) % len(paths)]
                try:
                    response = client.get(path)
                except httpx.HTTPError as e:
                    got.append((path, f"{type(e).__name__}: {e}", "", b""))
                    continue
                declared = response.headers.get("content-length", "")
                got.append((path, response.status_code, declared, response.content))
        return got

    with state.open(web.site.parent / "state.sqlite3") as store:
        Archive(site).build(store)
    written()
    with serving(site) as (url, said):
        writer = threading.Thread(target=rewrite)
        writer.start()
        try:
            with ThreadPoolExecutor(6) as pool:
                answers = [answer for got in pool.map(fetch, range(6)) for answer in got]
        finally:
            stop.set()
            writer.join()
    wrong = []
    page = (site / "2025-03-19-0001.html").read_bytes()
    for path, status, declared, body in answers:
        name = paths[path]
        if status != 200 or declared != str(len(body)):
            wrong.append(f"{path}: {status}, {len(body)} bytes of {declared}")
        elif body not in (versions[name] if name else {page}):
            wrong.append(f"{path}: {len(body)} bytes, not one version written")
    assert wrong == []
    assert len(answers) == 1800
    assert beyond_starting(said) == []


@pytest.mark.slow
def test_a_client_that_leaves_mid_request_costs_only_itself(web: Web, tmp_path: Path) -> None:
    """A form cut off by its client, a request cut off in its headers: the server answers
    the next request as usual and logs nothing about them (no traceback)."""
    site = tmp_path / "site"
    site.mkdir()
    for name in ("index.html", "feed.xml"):
        shutil.copy(web.site / name, site)
    token = "0123456789abcdef" * 2
    with serving(site) as (url, said):
        port = int(url.rpartition(":")[2])
        for cut in (
            f"POST /unsubscribe/{token} HTTP/1.1\r\nHost: x\r\nContent-Length: 9000\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n\r\nList-Unsub",
            f"POST /preferences/{token} HTTP/1.1\r\nHost: x\r\nContent-Le",
            "GET /feed.xml HTTP/1.1\r\nHost: x\r\n\r\n",  # gone before the answer is read
        ):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                conn.sendall(cut.encode())
                time.sleep(0.2)
        assert httpx.get(url + "/").status_code == 200
    assert beyond_starting(said) == []


def test_a_failure_is_answered_500_and_logged_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A page that fails (a route of the application's own, passed in) is a plain 500 with
    the security headers, and one log line that names neither the address nor the error's
    words (an address holds a reader's token): no traceback."""
    import asyncio

    from starlette.requests import Request
    from starlette.routing import Route

    from digest.web.app import make_app

    async def fails(request: Request) -> None:
        raise RuntimeError(f"failed on {request.url.path}")

    async def ask() -> httpx.Response:
        app = make_app(tmp_path, [Route("/fails/{token}", fails)])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            return await client.get("/fails/0123456789abcdef")

    response = asyncio.run(ask())
    assert response.status_code == 500
    assert "failed" not in response.text
    secure(response)
    [record] = [r for r in caplog.records if r.levelname != "DEBUG"]
    assert record.getMessage() == "a request could not be answered: unexpected error (RuntimeError)"
    assert record.exc_info is None


READERS = '[[reader]]\nemail = "ann@example.org"\n'


@pytest.mark.parametrize(
    ("layout", "setting"),
    [
        ("state", "DIGEST_STATE"),
        ("state through a link", "DIGEST_STATE"),
        ("archive through a link", "DIGEST_STATE"),
        ("out", "DIGEST_OUT"),
        ("out is the archive", "DIGEST_OUT"),
        ("readers", "DIGEST_READERS"),
        ("env file", "the env file"),
    ],
)
def test_web_refuses_an_archive_folder_that_holds_what_is_private(
    tmp_path: Path, layout: str, setting: str
) -> None:
    """The state (its secret makes every reader's token), the digests written for readers,
    the readers file or the settings in the archive folder: one line naming the settings,
    and nothing served, even by the first request."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>hi</p>")
    settings = {
        "DIGEST_ARCHIVE": str(site),
        "DIGEST_STATE": str(tmp_path / "state.sqlite3"),
        "DIGEST_OUT": str(tmp_path / "out"),
    }
    if layout == "state":
        settings["DIGEST_STATE"] = str(site / "state.sqlite3")
    elif layout == "state through a link":  # a folder of its own, it seems
        (tmp_path / "private").symlink_to(site)
        settings["DIGEST_STATE"] = str(tmp_path / "private" / "state.sqlite3")
    elif layout == "archive through a link":  # the state's folder, published
        (tmp_path / "public").symlink_to(tmp_path)
        settings["DIGEST_ARCHIVE"] = str(tmp_path / "public")
    elif layout == "out":
        settings["DIGEST_OUT"] = str(site / "digests")
    elif layout == "out is the archive":
        settings["DIGEST_OUT"] = str(site)
    elif layout == "readers":
        (site / "readers.toml").write_text(READERS)
        settings["DIGEST_READERS"] = str(site / "readers.toml")
    else:  # the .env of the folder it is started in
        (site / ".env").write_text(f"DIGEST_ARCHIVE={site}\n")
        del settings["DIGEST_ARCHIVE"]
    done = subprocess.run(
        [sys.executable, "-m", "digest", "web", "--port", str(free_port())],
        env=clean_env(**settings),
        cwd=site,
        capture_output=True,
        text=True,
        timeout=30,  # a server that starts would run until then
    )
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(f"digest: {setting}{'=' if setting[0] == 'D' else ' .env '}"), line
    assert " lies in the archive folder DIGEST_ARCHIVE=" in line
    assert line.endswith(f"give the archive a folder of its own, or move {setting} out of it")


def test_web_serves_an_archive_beside_the_state_and_inside_the_digests_folder(
    tmp_path: Path,
) -> None:
    """Only what lies in the archive folder counts: a folder around it is no harm."""
    site = tmp_path / "out" / "site"
    site.mkdir(parents=True)
    (site / "index.html").write_text("<p>hi</p>")
    port = free_port()
    env = clean_env(DIGEST_STATE=str(tmp_path / "state.sqlite3"), DIGEST_OUT=str(tmp_path / "out"))
    process = subprocess.Popen(
        [sys.executable, "-m", "digest", "web", "--archive", str(site), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_up(port, process)
        assert httpx.get(f"http://127.0.0.1:{port}/").text == "<p>hi</p>"
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


@pytest.mark.parametrize(
    ("location", "sent"),
    [
        ("{base}/index.html", "/index.html"),  # built from the request's Host
        ("https://elsewhere.example/x?y=1", "/x?y=1"),
        ("//elsewhere.example/x", "/x"),
        ("/\\elsewhere.example/x", "/elsewhere.example/x"),
        ("/\t/elsewhere.example", "/"),  # what a browser reads as //elsewhere.example
        ("preferences/0123", "/preferences/0123"),
    ],
)
def test_a_redirect_of_any_page_stays_on_this_site(location: str, sent: str) -> None:
    """Whatever a page of the application (passed in) answers as its Location, it goes out
    as a path of this site: never to the host the request named, nor to another."""
    import asyncio

    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from digest.web.app import make_app

    async def moved(request: Request) -> Response:
        base = str(request.base_url).rstrip("/")
        return Response(status_code=303, headers={"location": location.replace("{base}", base)})

    async def ask() -> httpx.Response:
        app = make_app(Path("nothing-here"), [Route("/moved", moved)])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
            return await client.get("/moved", headers={"host": HOSTILE})

    response = asyncio.run(ask())
    assert response.status_code == 303
    assert response.headers["location"] == sent
    secure(response)
