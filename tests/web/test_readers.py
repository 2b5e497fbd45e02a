"""Each reader's pages of `digest web`, for real: a `digest now` with a readers file delivers
to a real SMTP server, each reader's token is taken from their List-Unsubscribe header, and
the real `digest web` serves their pages on a loopback port, driven with httpx and with
Debian's Chromium. What a reader changes there is what the next `digest now` does."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import feedparser
import httpx
import pytest

from digest.state import open as open_state
from tests.mailserver import Received, Server, free_port, smtp_server
from tests.processes import clean_env
from tests.test_archive import valid_atom
from tests.web.test_app import wait_until_up

ROOT = Path(__file__).resolve().parent.parent.parent
REAL = ROOT / "tests" / "fixtures" / "real"
DAYS = ["2025-03-18.json", "2025-03-19.json", "2025-07-22.json"]
READERS = """
[[reader]]
email = "ann@example.org"
name = "Ann Lee"
highlight = ["video"]

[[reader]]
email = "bob@example.org"

[[reader]]
email = "cy@example.org"
"""
EMAILS = ("ann@example.org", "bob@example.org", "cy@example.org")
CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')
PAPER_LINK = re.compile(r'href="(https://huggingface\.co/papers/[^"]+)"')
MARKED = '<b class="hl" style="border-bottom:2px solid">Goose</b>'
# Every reader the state knows (the one of DIGEST_TO too, "") with nothing of their own.
UNCHANGED: dict[str, dict[str, object]] = {k: {} for k in ("", *EMAILS)}
SHOTS = ROOT / "test-output" / "web-readers"


@dataclass
class Site:
    url: str
    root: Path
    env: dict[str, str]
    smtp: Server
    tokens: dict[str, str]  # by address
    mails: dict[str, list[Received]] = field(default_factory=dict)  # every day's, by address

    def run_next_day(self, day: int) -> dict[str, list[Received]]:
        """Drop the day's listing into the inbox, run `digest now`, and what each got."""
        self.smtp.handler.received.clear()
        shutil.copy(REAL / DAYS[day], self.root / "inbox")
        done = subprocess.run(
            [sys.executable, "-m", "digest", "now"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.root,
        )
        assert done.returncode == 0, done.stderr
        got: dict[str, list[Received]] = {}
        for message in self.smtp.received:
            [to] = message.recipients
            got.setdefault(to, []).append(message)
            self.mails.setdefault(to, []).append(message)
        return got

    def prefs(self) -> dict[str, dict[str, object]]:
        with open_state(self.env["DIGEST_STATE"]) as store:
            return {r.key: dict(r.prefs) for r in store.all_readers()}

    def page(self, path: str, email: str) -> httpx.Response:
        return httpx.get(f"{self.url}/{path}/{self.tokens[email]}")

    def csrf(self, path: str, email: str) -> str:
        found = CSRF.search(self.page(path, email).text)
        assert found is not None
        return found[1]


def html_of(message: Received) -> str:
    for part in message.message.walk():
        if part.get_content_type() == "text/html":
            return str(part.get_content())
    raise AssertionError("no HTML part")


def start_web(env: dict[str, str], root: Path) -> tuple[subprocess.Popen[str], str]:
    """The real `digest web` on a free loopback port, once it answers: it and its URL."""
    port = free_port()
    web = subprocess.Popen(
        [sys.executable, "-m", "digest", "web", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=root,
    )
    try:
        wait_until_up(port, web)
    except BaseException:
        web.kill()
        web.communicate()
        raise
    return web, f"http://127.0.0.1:{port}"


@contextmanager
def site(root: Path, state: str) -> Iterator[Site]:
    """A first day delivered to three readers, and `digest web` serving their pages."""
    inbox = root / "inbox"
    inbox.mkdir()
    (root / "readers.toml").write_text(READERS)
    with smtp_server() as smtp:
        env = clean_env(
            DIGEST_INBOX=str(inbox),
            DIGEST_STATE=state,
            DIGEST_READERS=str(root / "readers.toml"),
            DIGEST_FROM="Papers <papers@example.org>",
            DIGEST_DELIVER="smtp",
            DIGEST_UNSUBSCRIBE="https://papers.example.org/unsubscribe/{token}",
            DIGEST_ARCHIVE=str(root / "site"),
            **smtp.environment(),
        )
        here = Site("", root, env, smtp, {})
        first = here.run_next_day(0)
        assert sorted(first) == list(EMAILS)
        for email, [message] in first.items():
            link = message.message["List-Unsubscribe"].strip().strip("<>")
            assert link.startswith("https://papers.example.org/unsubscribe/")
            here.tokens[email] = link.rpartition("/")[2]
            assert MARKED not in html_of(message)
            # The footer links to the reader's preferences page beside the unsubscribe link.
            prefs = f"https://papers.example.org/preferences/{here.tokens[email]}"
            assert f'href="{prefs}"' in html_of(message)
        web, here.url = start_web(env, root)
        try:
            yield here
        finally:
            web.send_signal(signal.SIGTERM)
            _, err = web.communicate(timeout=30)
            assert "Traceback" not in err, err
            for token in here.tokens.values():
                assert token not in err  # tokens are never logged


@pytest.fixture
def sqlite_site(tmp_path: Path) -> Iterator[Site]:
    with site(tmp_path, str(tmp_path / "state.sqlite3")) as opened:
        yield opened


@pytest.fixture(params=["sqlite", "postgresql"])
def any_site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    state = str(tmp_path / "state.sqlite3")
    if request.param == "postgresql":
        state = request.getfixturevalue("postgres")
    with site(tmp_path, state) as opened:
        yield opened


def private(response: httpx.Response) -> None:
    """Not cached, and the site's security headers kept: no script, no framing."""
    assert response.headers["cache-control"] == "no-store"
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "form-action 'self'" in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "<script" not in response.text


def only_own_address(response: httpx.Response, email: str) -> None:
    assert email in response.text
    for other in EMAILS:
        if other != email:
            assert other not in response.text


@pytest.mark.slow
def test_one_click_unsubscribes_a_get_changes_nothing_and_the_next_digest_skips_them(
    any_site: Site,
) -> None:
    """RFC 8058: the mail client's POST unsubscribes at once; the link's GET (a scanner's)
    shows a button and changes nothing. On SQLite and on PostgreSQL beside the workers."""
    before = any_site.prefs()
    asked = any_site.page("unsubscribe", "ann@example.org")
    assert asked.status_code == 200
    assert "<button" in asked.text and 'action="/unsubscribe/' in asked.text
    # It names what the reader leaves: the list and who sends it.
    assert "Stop sending the Daily papers digest from Papers &lt;papers@example.org&gt; to" in (
        asked.text
    )
    only_own_address(asked, "ann@example.org")
    private(asked)
    assert any_site.prefs() == before  # a GET alone changes nothing

    done = httpx.post(
        f"{any_site.url}/unsubscribe/{any_site.tokens['ann@example.org']}",
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200 and "unsubscribed" in done.text
    assert "No more digests of the Daily papers digest from Papers" in done.text
    only_own_address(done, "ann@example.org")
    private(done)
    assert any_site.prefs()["ann@example.org"] == {"unsubscribed": True}

    got = any_site.run_next_day(1)
    assert sorted(got) == ["bob@example.org", "cy@example.org"]

    # Subscribed again on her preferences page: the next digest is hers again.
    again = {
        "csrf": any_site.csrf("preferences", "ann@example.org"),
        "delivery": "send",
        "schedule": "",
        "highlight": "video",  # the readers file's, as the page shows it
        "exclude": "",
        "interests": "",
    }
    assert 'value="unsubscribe" checked' in any_site.page("preferences", "ann@example.org").text
    saved = httpx.post(
        f"{any_site.url}/preferences/{any_site.tokens['ann@example.org']}", data=again
    )
    assert saved.status_code == 200
    assert any_site.prefs()["ann@example.org"] == {}  # nothing of her own left
    assert sorted(any_site.run_next_day(2)) == list(EMAILS)


@pytest.mark.slow
def test_a_one_click_post_sent_as_multipart_form_data_counts_too(sqlite_site: Site) -> None:
    done = httpx.post(
        f"{sqlite_site.url}/unsubscribe/{sqlite_site.tokens['bob@example.org']}",
        files={"List-Unsubscribe": (None, "One-Click")},
    )
    assert done.status_code == 200
    assert sqlite_site.prefs()["bob@example.org"] == {"unsubscribed": True}


@pytest.mark.slow
def test_preferences_saved_on_the_page_are_what_the_next_digest_uses(sqlite_site: Site) -> None:
    bob, cy = "bob@example.org", "cy@example.org"
    shown = sqlite_site.page("preferences", bob)
    assert shown.status_code == 200
    only_own_address(shown, bob)
    private(shown)
    assert 'value="send" checked' in shown.text
    form = {
        "csrf": sqlite_site.csrf("preferences", bob),
        "delivery": "send",
        "schedule": "",
        "highlight": "Goose",
        "exclude": "",
        "interests": "language models",
    }
    saved = httpx.post(f"{sqlite_site.url}/preferences/{sqlite_site.tokens[bob]}", data=form)
    assert saved.status_code == 200 and "Saved" in saved.text
    assert 'value="Goose"' in saved.text
    private(saved)
    paused = {**form, "csrf": sqlite_site.csrf("preferences", cy), "delivery": "pause"}
    paused["highlight"] = ""
    assert httpx.post(f"{sqlite_site.url}/preferences/{sqlite_site.tokens[cy]}", data=paused)
    prefs = sqlite_site.prefs()
    assert prefs[bob] == {"highlight": "Goose", "interests": "language models"}
    assert prefs[cy] == {"paused": True, "interests": "language models"}
    assert prefs["ann@example.org"] == {}

    got = sqlite_site.run_next_day(1)
    assert sorted(got) == ["ann@example.org", bob]  # cy paused
    assert MARKED in html_of(got[bob][0])  # bob's new highlight, marked in his digest
    assert MARKED not in html_of(got["ann@example.org"][0])

    # Resumed: cy gets what came meanwhile and the next day's papers, in the next digest.
    resumed = {**paused, "csrf": sqlite_site.csrf("preferences", cy), "delivery": "send"}
    assert httpx.post(f"{sqlite_site.url}/preferences/{sqlite_site.tokens[cy]}", data=resumed)
    assert sqlite_site.prefs()[cy] == {"interests": "language models"}
    assert sorted(sqlite_site.run_next_day(2)) == list(EMAILS)


def refused(site: Site, reader: str, **fields: str) -> httpx.Response:
    """The answer to a preferences form that must be refused (400), the other fields empty."""
    form = {"csrf": site.csrf("preferences", reader), "schedule": "", "highlight": "",
            "exclude": "", "interests": "", **fields}  # fmt: skip
    answer = httpx.post(f"{site.url}/preferences/{site.tokens[reader]}", data=form)
    assert answer.status_code == 400
    return answer


@pytest.mark.slow
def test_a_bad_schedule_or_pattern_is_said_on_the_page_and_nothing_is_saved(
    sqlite_site: Site,
) -> None:
    bob = "bob@example.org"
    answer = refused(
        sqlite_site, bob, delivery="pause", schedule="sometimes", highlight="(unclosed"
    )
    assert "Nothing was saved" in answer.text
    assert "schedule=&#x27;sometimes&#x27; is not a schedule" in answer.text
    assert "highlight: &#x27;(unclosed&#x27; is not a valid regular expression" in answer.text
    assert 'value="sometimes"' in answer.text  # what was sent, shown again to correct
    assert sqlite_site.prefs()[bob] == {}


@pytest.mark.parametrize("schedule", ["every 1s", "* * * * *", "*/5 * * * *", "0,45 7 * * *"])
@pytest.mark.slow
def test_a_subscriber_cannot_ask_for_a_digest_more_than_hourly(
    sqlite_site: Site, schedule: str
) -> None:
    bob = "bob@example.org"
    answer = refused(sqlite_site, bob, delivery="send", schedule=schedule)
    assert "comes too often" in answer.text
    assert sqlite_site.prefs()[bob] == {}


@pytest.mark.slow
def test_another_readers_token_or_a_forged_form_changes_nothing(sqlite_site: Site) -> None:
    ann, bob = "ann@example.org", "bob@example.org"
    bobs = f"{sqlite_site.url}/preferences/{sqlite_site.tokens[bob]}"
    form = {"delivery": "unsubscribe", "schedule": "", "highlight": "x", "exclude": "."}
    tries = [
        (bobs, {**form, "csrf": sqlite_site.csrf("preferences", ann)}),  # ann's form, bob's link
        (bobs, form),  # no CSRF field
        (bobs, {**form, "csrf": "0" * 64}),
        (bobs, {**form, "csrf": sqlite_site.csrf("unsubscribe", bob)}),  # another purpose
        (f"{sqlite_site.url}/unsubscribe/{sqlite_site.tokens[bob]}", {"csrf": "1" * 64}),
        (f"{sqlite_site.url}/like/{sqlite_site.tokens[bob]}", {"paper": "1", "value": "1"}),
    ]
    for url, data in tries:
        refused = httpx.post(url, data=data)
        assert refused.status_code == 403, url
        assert "Nothing was changed" in refused.text
        private(refused)
    assert sqlite_site.prefs() == UNCHANGED
    with open_state(sqlite_site.env["DIGEST_STATE"]) as store:
        assert all(store.likes(r.id) == [] for r in store.all_readers())
    # Ann's own, on her own link, works: what was refused was the forgery.
    ok = httpx.post(
        f"{sqlite_site.url}/unsubscribe/{sqlite_site.tokens[ann]}",
        data={"csrf": sqlite_site.csrf("unsubscribe", ann)},
    )
    assert ok.status_code == 200
    assert sqlite_site.prefs()[ann] == {"unsubscribed": True}
    assert sqlite_site.prefs()[bob] == {}


@pytest.mark.slow
def test_every_bad_token_gets_the_same_plain_page_and_changes_nothing(sqlite_site: Site) -> None:
    good = sqlite_site.tokens["ann@example.org"]
    bad = [
        "0" * 32,  # well-formed, nobody's
        good[:-1] + ("0" if good[-1] != "0" else "1"),  # one character off
        good.upper(),
        good + "0",
        good[:-1],
        "x",
        "%00",
        "..%2f..%2fetc",
        "a" * 500,
    ]
    answers = []
    for token in bad:
        for path in ("unsubscribe", "preferences", "like"):
            url = f"{sqlite_site.url}/{path}/{token}"
            answers.append(httpx.get(url))
            answers.append(httpx.post(url, content=b"List-Unsubscribe=One-Click"))
    assert {a.status_code for a in answers} == {404}
    assert len({a.text for a in answers}) == 1
    assert "not valid" in answers[0].text
    assert not re.search(r"[\w.+-]+@[\w-]+\.", answers[0].text)  # no address of anyone
    for answer in answers:
        private(answer)
    for token in bad:  # a reader's feed too
        answers.append(httpx.get(f"{sqlite_site.url}/feed/{token}"))
    assert {a.status_code for a in answers} == {404} and len({a.text for a in answers}) == 1
    # The public archive of the readers file is there, with no reader's address.
    public = httpx.get(sqlite_site.url + "/")
    assert public.status_code == 200 and not any(email in public.text for email in EMAILS)
    assert sqlite_site.prefs() == UNCHANGED


@pytest.mark.slow
def test_a_like_is_recorded_from_its_page_and_a_get_records_nothing(sqlite_site: Site) -> None:
    bob = "bob@example.org"
    with open_state(sqlite_site.env["DIGEST_STATE"]) as store:
        [(paper, title)] = list(store.titles([1]).items())
        reader = next(r for r in store.all_readers() if r.key == bob)
    url = f"{sqlite_site.url}/like/{sqlite_site.tokens[bob]}"
    asked = httpx.get(url, params={"paper": str(paper), "value": "1"})
    assert asked.status_code == 200 and "<button" in asked.text
    assert title.split(":")[0] in asked.text
    private(asked)
    assert httpx.get(url, params={"paper": "999999", "value": "1"}).status_code == 400
    assert httpx.get(url, params={"paper": str(paper), "value": "2"}).status_code == 400
    csrf = CSRF.search(asked.text)
    assert csrf is not None
    with open_state(sqlite_site.env["DIGEST_STATE"]) as store:
        assert store.likes(reader.id) == []
    done = httpx.post(url, data={"paper": str(paper), "value": "-1", "csrf": csrf[1]})
    assert done.status_code == 200 and "You dislike" in done.text
    with open_state(sqlite_site.env["DIGEST_STATE"]) as store:
        assert [(p, v) for p, _, v in store.likes(reader.id)] == [(paper, -1)]
    forgot = httpx.post(url, data={"paper": str(paper), "value": "0", "csrf": csrf[1]})
    assert forgot.status_code == 200
    with open_state(sqlite_site.env["DIGEST_STATE"]) as store:
        assert store.likes(reader.id) == []


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.slow
@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's Chromium (/usr/bin/chromium) is not installed"
)
def test_in_a_browser_the_button_unsubscribes_and_the_form_saves(sqlite_site: Site) -> None:
    """Debian's Chromium clicks the unsubscribe button and saves the preferences form, no
    script needed; every page fits a phone's width and is screenshot at 375 and 1280 px
    into test-output/web-readers/ (or $SCREENSHOTS)."""
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    shots = Path(os.environ.get("SCREENSHOTS") or SHOTS)
    shots.mkdir(parents=True, exist_ok=True)
    ann, bob = "ann@example.org", "bob@example.org"
    base = sqlite_site.url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(java_script_enabled=False)
            blocked: list[str] = []
            page.on("console", lambda m: blocked.append(m.text) if "Policy" in m.text else None)

            def shoot(name: str) -> None:
                for width in (375, 1280):
                    page.set_viewport_size({"width": width, "height": 800})
                    assert page.evaluate("document.documentElement.scrollWidth") <= width, name
                    path = shots / f"{name}-{width}.png"
                    page.screenshot(path=str(path), full_page=True)
                    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
                    print(f"screenshot: {path}")

            page.goto(f"{base}/unsubscribe/{sqlite_site.tokens[ann]}")
            shoot("unsubscribe")
            page.click("button:has-text('Unsubscribe')")
            assert page.locator("h1").inner_text() == "You are unsubscribed"
            shoot("unsubscribed")
            assert sqlite_site.prefs()[ann] == {"unsubscribed": True}

            page.goto(f"{base}/preferences/{sqlite_site.tokens[bob]}")
            shoot("preferences")
            page.fill("#f-highlight", "Goose, agents")
            page.fill("#f-schedule", "0 7 * * 1-5")
            page.check("input[value=pause]")
            page.click("button:has-text('Save')")
            assert "Saved" in page.locator(".note").inner_text()
            shoot("preferences-saved")
            assert sqlite_site.prefs()[bob] == {
                "highlight": "Goose, agents",
                "schedule": "0 7 * * 1-5",
                "paused": True,
            }
            page.fill("#f-schedule", "now and then")
            page.click("button:has-text('Save')")
            assert "is not a schedule" in page.locator(".error").inner_text()
            shoot("preferences-error")

            page.goto(f"{base}/like/{sqlite_site.tokens[bob]}?paper=1&value=1")
            shoot("like")
            page.click("button:has-text('Like')")
            assert page.locator("h1").inner_text() == "Noted"

            page.goto(f"{base}/preferences/{'0' * 32}")
            shoot("not-found")
        finally:
            browser.close()
    assert blocked == []  # nothing refused by the Content-Security-Policy


@pytest.mark.slow
def test_without_an_archive_folder_web_serves_the_readers_pages_alone(sqlite_site: Site) -> None:
    env = {k: v for k, v in sqlite_site.env.items() if k != "DIGEST_ARCHIVE"}
    web, url = start_web(env, sqlite_site.root)
    try:
        mine = httpx.get(f"{url}/preferences/{sqlite_site.tokens['bob@example.org']}")
        assert mine.status_code == 200 and 'value="send" checked' in mine.text
        assert httpx.get(f"{url}/").status_code == 404  # no archive to show
        assert httpx.get(f"{url}/feed.xml").status_code == 404
    finally:
        web.send_signal(signal.SIGTERM)
        _, err = web.communicate(timeout=30)
    assert "the readers' pages only (no DIGEST_ARCHIVE)" in err
    assert "Traceback" not in err


def titles_of(message: Received) -> list[str]:
    """The paper titles of a message's HTML part, in order."""
    return re.findall(r'<a class="plink" href="[^"]*">(.*?)</a>', html_of(message), flags=re.S)


@pytest.mark.slow
def test_less_like_this_from_the_mail_is_asked_recorded_and_shapes_the_next_digest(
    sqlite_site: Site,
) -> None:
    bob, cy = "bob@example.org", "cy@example.org"
    [mail] = [m for m in sqlite_site.smtp.received if m.recipients == [bob]]
    text = str(mail.message.get_body(("plain",)).get_content())  # type: ignore[union-attr]
    links = re.findall(r"Less like this: (https://papers\.example\.org/like/\S+)", text)
    assert links and all(sqlite_site.tokens[bob] in link for link in links)  # theirs alone
    link = links[0].replace("https://papers.example.org", sqlite_site.url)
    with open_state(sqlite_site.env["DIGEST_STATE"]) as store:
        reader = next(r for r in store.all_readers() if r.key == bob)
    asked = httpx.get(link)  # what a mail scanner following every link does: nothing more
    assert asked.status_code == 200 and "<button" in asked.text
    with open_state(sqlite_site.env["DIGEST_STATE"]) as store:
        assert store.likes(reader.id) == []
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', asked.text))
    done = httpx.post(link.partition("?")[0], data=fields)
    assert done.status_code == 200 and "You dislike" in done.text
    with open_state(sqlite_site.env["DIGEST_STATE"]) as store:
        assert [v for _, _, v in store.likes(reader.id)] == [-1]

    # His preferences page lists it, with a button that takes it back.
    page = httpx.get(f"{sqlite_site.url}/preferences/{sqlite_site.tokens[bob]}")
    assert "Papers you liked or disliked" in page.text and "Disliked: " in page.text
    assert 'name="value" value="0"' in page.text and ">Undo</button>" in page.text

    got = sqlite_site.run_next_day(1)
    # bob and cy chose the same; bob's top papers are no longer cy's, now ranked by his taste.
    assert titles_of(got[bob][0]) != titles_of(got[cy][0])
    assert got[bob][0].message["Subject"] == got[cy][0].message["Subject"]  # the same papers

    # Taken back on that page: the next digest is ranked as cy's again.
    page = httpx.get(f"{sqlite_site.url}/preferences/{sqlite_site.tokens[bob]}")
    undo = dict(re.findall(r'name="(\w+)" value="([^"]*)"', page.text.partition("tastes")[2]))
    assert undo["value"] == "0"
    assert httpx.post(link.partition("?")[0], data=undo).status_code == 200
    with open_state(sqlite_site.env["DIGEST_STATE"]) as store:
        assert store.likes(reader.id) == []
    again = sqlite_site.run_next_day(2)
    assert titles_of(again[bob][0]) == titles_of(again[cy][0])


def entries(response: httpx.Response) -> dict[str, feedparser.FeedParserDict]:
    """A reader's feed, once it reads as Atom: its entries by the Message-ID each names."""
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    private(response)
    valid_atom(response.content)
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.bozo_exception
    return {f"<{unquote(e.id.removeprefix('mid:'))}>": e for e in parsed.entries}


@pytest.mark.slow
def test_each_reader_has_a_private_feed_of_their_own_digests_as_delivered(
    any_site: Site,
) -> None:
    """On SQLite and PostgreSQL: the feed behind a reader's token lists the digests delivered
    to them and no one else's, each as they received it; any other token gets the one 404."""
    any_site.run_next_day(1)
    ann, bob = "ann@example.org", "bob@example.org"
    feeds = {email: entries(any_site.page("feed", email)) for email in (ann, bob)}
    for email, feed in feeds.items():
        mails = {m.message["Message-ID"]: m for m in any_site.mails[email]}
        assert len(mails) == 2 and sorted(feed) == sorted(mails)
        for message_id, entry in feed.items():
            assert entry.title == mails[message_id].message["Subject"]
            html = entry.content[0].value
            # Their digest whole: every paper their mail links to, and no other's token.
            papers = set(PAPER_LINK.findall(html_of(mails[message_id])))
            assert papers and papers <= set(PAPER_LINK.findall(html))
            others = [t for e, t in any_site.tokens.items() if e != email]
            assert not any(token in html for token in others)
    assert all("match video" in e.title for e in feeds[ann].values())  # her highlight
    assert not any("match" in e.title for e in feeds[bob].values())

    # Any token that is not a reader's: the same 404 as every other failure, saying nothing.
    ann_token = any_site.tokens[ann]
    refused = [
        httpx.get(f"{any_site.url}/feed/{token}")
        for token in ("0" * 32, ann_token[:-1] + ("0" if ann_token[-1] != "0" else "1"), "x")
    ]
    assert [r.status_code for r in refused] == [404, 404, 404]
    assert len({r.text for r in refused}) == 1
    assert refused[0].text == httpx.get(f"{any_site.url}/preferences/{'0' * 32}").text

    # The preferences page gives the feed's whole address.
    feed_link = f"https://papers.example.org/feed/{ann_token}"
    assert f'href="{feed_link}"' in any_site.page("preferences", ann).text

    # The public archive beside them holds a digest a day, with no reader's address or token.
    site = any_site.root / "site"
    assert len(list(site.glob("2*.html"))) == 2
    published = "".join(p.read_text() for p in site.iterdir())
    assert not any(t in published for t in [*EMAILS, *any_site.tokens.values()])
