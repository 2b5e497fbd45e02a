"""`digest web`: the archive of a real run, served by the real command on a loopback port and
fetched with httpx; pages, feed and types, the security headers, and paths that lead out."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import feedparser
import httpx
import pytest
from conftest import ROOT
from mailserver import free_port
from processes import clean_env, digest_now

REAL = ROOT / "tests" / "fixtures" / "real"
SECRET = "the state beside the archive"


@dataclass
class Web:
    url: str
    port: int
    site: Path
    process: subprocess.Popen[str]


def start(site: Path, *args: str, port: int | None = None) -> tuple[subprocess.Popen[str], int]:
    port = port or free_port()
    command = [sys.executable, "-m", "digest", "web", "--archive", str(site), "--port", str(port)]
    process = subprocess.Popen(
        [*command, *args],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
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


@pytest.mark.parametrize(
    ("path", "file"), [("/", "index.html"), ("/2025-03-19-0001.html", "2025-03-19-0001.html")]
)
def test_the_index_and_each_page_are_served_as_written(web: Web, path: str, file: str) -> None:
    response = httpx.get(web.url + path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.content == (web.site / file).read_bytes()
    secure(response)


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
    ],
)
def test_nothing_outside_the_archive_is_served(web: Web, path: str) -> None:
    response = httpx.get(web.url + path)
    assert response.status_code == 404
    assert SECRET not in response.text
    secure(response)


def test_a_raw_dot_dot_path_is_refused_too(web: Web) -> None:
    with socket.create_connection(("127.0.0.1", web.port), timeout=10) as conn:
        conn.sendall(b"GET /../secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert answer.split(b"\r\n", 1)[0] in (b"HTTP/1.1 404 Not Found", b"HTTP/1.1 400 Bad Request")
    assert SECRET.encode() not in answer


def test_only_reading_is_allowed(web: Web) -> None:
    response = httpx.post(web.url + "/", content=b"x")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
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
        process, _ = start(tmp_path, port=taken.getsockname()[1])
        _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert err.splitlines()[-1].startswith("digest: cannot listen on 127.0.0.1:")
    assert "set DIGEST_WEB_BIND and DIGEST_WEB_PORT" in err
    assert "Traceback" not in err


def test_sigterm_stops_it_cleanly(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>hi</p>")
    process, port = start(tmp_path)
    wait_until_up(port, process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert err.startswith(f"digest: serving {tmp_path} on http://127.0.0.1:{port}/")


CHROMIUM = Path("/usr/bin/chromium")


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
            page.click("text=Daily papers: 35 new")  # the index links to the page
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
