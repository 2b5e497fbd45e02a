"""Chat channels through Apprise: its json:// target posting to a real HTTP server on loopback
that records what it gets, beside mail to a real SMTP server; a failing channel never holds
the mail back, and the secrets in the URLs are never shown."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from digest.channels import notify
from digest.errors import ConfigError
from tests.conftest import ROOT
from tests.mailserver import smtp_server
from tests.processes import clean_env, digest_now

REAL = ROOT / "tests" / "fixtures" / "real"
SECRET = "s3cretToken"
MAIL = {
    "DIGEST_FROM": "Daily Papers <papers@example.org>",
    "DIGEST_TO": "Ann <ann@example.org>",
}


class Recorder(BaseHTTPRequestHandler):
    """Answers a POST by the status its path names (/200, /500, /404; /503-200: 503 to the
    first POST there, 200 to every later one) and keeps it."""

    got: list[tuple[str, dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.got.append((self.path, dict(self.headers), body))
        statuses = self.path.strip("/").split("/")[0].split("-")
        posted = sum(path == self.path for path, _, _ in self.got)
        self.send_response(int(statuses[min(posted, len(statuses)) - 1]))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def chat() -> Iterator[Chat]:
    got: list[tuple[str, dict[str, str], bytes]] = []
    handler = type("Handler", (Recorder,), {"got": got})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], got
    finally:
        server.shutdown()
        server.server_close()


Chat = tuple[int, list[tuple[str, dict[str, str], bytes]]]


def now(inbox: Path, day: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`digest now` on the state beside the inbox, with a real day dropped into it."""
    shutil.copy(REAL / f"{day}.json", inbox)
    state = inbox.parent / "state.sqlite3"
    return subprocess.run(
        digest_now(inbox, state), env=env, capture_output=True, text=True, timeout=120
    )


def status(state: Path, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "digest", "status", "--state", str(state)],
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


@pytest.mark.slow
def test_a_chat_gets_the_counts_the_top_papers_and_the_page_and_a_failing_one_costs_nothing(
    chat: Chat, inbox: Path, tmp_path: Path
) -> None:
    port, got = chat
    state = tmp_path / "state.sqlite3"
    urls = f"json://bot:{SECRET}@127.0.0.1:{port}/200/hook, json://127.0.0.1:{port}/500/{SECRET}"
    with smtp_server() as server:
        env = clean_env(
            **MAIL,
            **server.environment(),
            DIGEST_NOTIFY=urls,
            DIGEST_ARCHIVE=str(tmp_path / "site"),
            DIGEST_ARCHIVE_URL="https://example.org/papers",
        )
        done = now(inbox, "2025-07-22", env)
        assert done.returncode == 0, done.stderr
        assert len(server.received) == 1  # the mail went, whatever the chats did
    assert [path for path, _, _ in got] == ["/200/hook", f"/500/{SECRET}"]
    _, headers, body = got[0]
    assert headers["Content-Type"].startswith("application/json")
    posted = json.loads(body)
    assert posted["title"] == "Daily papers: 16 new (Tue 22 Jul 2025)"
    lines = posted["message"].splitlines()
    assert lines[0] == "16 new of 16 listed"
    assert lines[2].startswith("1. [MiroMind-M1: An Open-Source Advancement in Mathematical")
    assert lines[2].endswith("](https://huggingface.co/papers/2507.14683)")
    assert [line[:3] for line in lines[2:7]] == ["1. ", "2. ", "3. ", "4. ", "5. "]
    assert lines[7] == "... and 11 more"
    page = "https://example.org/papers/2025-07-22-0001.html"
    assert lines[-1] == f"[The whole digest]({page})"
    assert (tmp_path / "site" / "2025-07-22-0001.html").is_file()  # there before the link went
    assert SECRET not in done.stderr
    assert "json://127.0.0.1:" in done.stderr and "(HTTP 500)" in done.stderr
    said = status(state, DIGEST_NOTIFY=urls)
    assert "sent: digest 1, 16 papers" in said
    assert "notify failed for now, not retried" in said and "(HTTP 500)" in said
    assert f"notify: json://bot:****@127.0.0.1:{port}/..., json://127.0.0.1:{port}/..." in said
    assert SECRET not in said


@pytest.mark.slow
def test_a_channel_that_refuses_for_good_is_noted_as_failed_and_the_mail_still_goes(
    chat: Chat, inbox: Path, tmp_path: Path
) -> None:
    port, got = chat
    with smtp_server() as server:
        env = clean_env(
            **MAIL, **server.environment(), DIGEST_NOTIFY=f"json://127.0.0.1:{port}/404"
        )
        done = now(inbox, "2025-03-18", env)
        assert done.returncode == 0, done.stderr
        assert len(server.received) == 1
    assert len(got) == 1
    said = status(tmp_path / "state.sqlite3")
    assert "notify failed: json://127.0.0.1:" in said and "refused the message (HTTP 404)" in said
    assert "failed for now" not in said
    assert "[The whole digest]" not in json.loads(got[0][2])["message"]  # no archive address


@pytest.mark.slow
def test_a_mail_that_fails_sends_no_chat_until_it_is_delivered(
    chat: Chat, inbox: Path, tmp_path: Path
) -> None:
    from tests.mailserver import free_port

    port, got = chat
    settings = {**MAIL, "DIGEST_NOTIFY": f"json://127.0.0.1:{port}/200"}
    mail_port = free_port()
    nobody = clean_env(
        **settings,
        DIGEST_SMTP_HOST="127.0.0.1",
        DIGEST_SMTP_PORT=str(mail_port),
        DIGEST_SMTP_SECURITY="none",
    )
    done = now(inbox, "2025-03-18", nobody)
    assert done.returncode == 1 and got == []  # kept pending: the chat waits for the mail
    with smtp_server(port=mail_port) as server:
        done = now(inbox, "2025-03-18", nobody)
        assert done.returncode == 0, done.stderr
        assert len(server.received) == 1
    assert len(got) == 1


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("json://a/b", ["json://a/b"]),
        (
            "json://a/b, ntfy://topic  slack://x/y/z",
            ["json://a/b", "ntfy://topic", "slack://x/y/z"],
        ),
        (
            "mailto://u:p@example.org?to=a@x.org,b@x.org",
            ["mailto://u:p@example.org?to=a@x.org,b@x.org"],
        ),
        (" , ", []),
    ],
)
def test_urls_split_on_commas_and_spaces_before_a_scheme(raw: str, expected: list[str]) -> None:
    assert notify.urls(raw) == expected


@pytest.mark.slow
def test_a_url_apprise_cannot_use_is_refused_naming_its_place_not_its_secret(
    inbox: Path, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as e:
        notify.targets(f"json://127.0.0.1/ok nosuchservice://{SECRET}@host")
    assert str(e.value).startswith("DIGEST_NOTIFY: URL 2 (nosuchservice://...) is not one")
    assert SECRET not in str(e.value)
    done = subprocess.run(
        digest_now(inbox, tmp_path / "state.sqlite3"),
        env=clean_env(DIGEST_NOTIFY=f"nosuchservice://{SECRET}@host"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and "DIGEST_NOTIFY: URL 1" in done.stderr
    assert SECRET not in done.stderr


def test_masked_urls_hide_passwords_and_tokens() -> None:
    shown = notify.masked(f"json://bot:{SECRET}@127.0.0.1/x, discord://1234/{SECRET}")
    assert shown[0] == "json://bot:****@127.0.0.1/..."  # a webhook's path may be its secret
    assert shown[1].startswith("discord://") and SECRET not in shown[1]
    assert notify.shown("ntfy://ntfy.sh/") == "ntfy://ntfy.sh/"
    assert notify.shown("json://host") == "json://host"


def test_an_env_file_with_chat_urls_that_others_can_read_is_warned_about(
    tmp_path: Path, inbox: Path
) -> None:
    env_file = tmp_path / "digest.env"
    env_file.write_text(f"DIGEST_NOTIFY=json://bot:{SECRET}@127.0.0.1/x\n")
    env_file.chmod(0o644)
    done = subprocess.run(
        [sys.executable, "-m", "digest", "status", "--env-file", str(env_file)],
        env=clean_env(DIGEST_STATE=str(tmp_path / "state.sqlite3")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert f"{env_file} holds DIGEST_NOTIFY and other users can read it" in done.stderr
    assert SECRET not in done.stdout + done.stderr
    assert "notify: json://bot:****@127.0.0.1/..." in done.stdout


def readers_env(readers: Path, mail: dict[str, str]) -> dict[str, str]:
    """The settings of a run for the readers of this file, by mail to this server."""
    return clean_env(
        DIGEST_FROM="papers@example.org", DIGEST_READERS=str(readers), DIGEST_DELIVER="smtp", **mail
    )


@pytest.mark.slow
def test_each_reader_gets_their_own_chat_message_once_their_digest_is_delivered(
    chat: Chat, inbox: Path, tmp_path: Path
) -> None:
    """A reader's `notify` in the readers file: their digest's counts and top papers, posted
    to their own URLs once their mail is delivered; another reader's chat never gets it; a
    chat that fails costs only that message, and its secret is never shown."""
    port, got = chat
    readers = tmp_path / "readers.toml"
    readers.write_text(
        '[[reader]]\nemail = "ann@example.org"\nhighlight = ["video"]\n'
        f'notify = "json://bot:{SECRET}@127.0.0.1:{port}/200/ann"\n\n'
        '[[reader]]\nemail = "bob@example.org"\n\n'
        '[[reader]]\nemail = "cy@example.org"\nmax_papers = 2\n'
        f'notify = ["json://127.0.0.1:{port}/500/{SECRET}", "json://127.0.0.1:{port}/200/cy"]\n'
    )
    with smtp_server() as server:
        done = now(inbox, "2025-07-22", readers_env(readers, server.environment()))
        assert done.returncode == 0, done.stderr
        subjects = {m.recipients[0]: m.message["Subject"] for m in server.received}
    assert sorted(subjects) == ["ann@example.org", "bob@example.org", "cy@example.org"]
    assert sorted(path for path, _, _ in got) == ["/200/ann", "/200/cy", f"/500/{SECRET}"]
    posted = {path: json.loads(body) for path, _, body in got}
    ann, cy = posted["/200/ann"], posted["/200/cy"]
    assert ann["title"] == subjects["ann@example.org"]
    assert cy["title"] == subjects["cy@example.org"]
    lines = ann["message"].splitlines()
    assert lines[0].startswith("16 new of 16 listed; ")  # and what matched for ann
    assert lines[2].startswith("1. [") and lines[2].endswith(")")
    assert lines[7] == "... and 11 more"
    assert "[The whole digest]" not in ann["message"]  # a reader's digest has no public page
    # Each message is of the reader's own digest: hers has her highlights first.
    assert "Video" in lines[2] and "Video" in lines[3]
    assert cy["message"].splitlines()[2].startswith("1. [MiroMind-M1: An Open-Source")
    assert "json://127.0.0.1:" in done.stderr and "(HTTP 500)" in done.stderr
    assert "reader cy@example.org: notify" in done.stderr
    assert SECRET not in done.stderr


@pytest.mark.slow
def test_a_reader_notify_url_apprise_cannot_use_is_one_line_and_the_mail_still_goes(
    inbox: Path, tmp_path: Path
) -> None:
    readers = tmp_path / "readers.toml"
    readers.write_text(
        f'[[reader]]\nemail = "ann@example.org"\nnotify = "nosuchservice://{SECRET}@host"\n'
    )
    with smtp_server() as server:
        done = now(inbox, "2025-03-18", readers_env(readers, server.environment()))
        assert done.returncode == 0, done.stderr
        assert [m.recipients for m in server.received] == [["ann@example.org"]]
    [line] = [line for line in done.stderr.splitlines() if "notify" in line]
    assert f"{readers}:1: reader ann@example.org: notify: URL 1 (nosuchservice://...)" in line
    assert SECRET not in done.stderr
