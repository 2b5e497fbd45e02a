"""Secrets never reach a line digest shows, whatever their shape: the helper itself, then the
real commands' errors, logs, `digest status` and `digest readers check`, and the refusal of a
state location that is neither a path nor a URL."""

from __future__ import annotations

import json
import logging
import socket
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from digest import cli
from digest.errors import ConfigError
from digest.redact import keep_secret, redact
from digest.state import StateUrl, location
from tests.test_printable import digest

# A password may hold anything but white space; none of these may need encoding to be typed.
PASSWORD = st.text(
    alphabet=string.ascii_letters + string.digits + "/#?@:%!$&'()*+,;=~._-[]",
    min_size=6,
    max_size=24,
).map(lambda s: "Pw9" + s)  # unmistakable in any output
# A chat service's token: letters, digits, - and _ (Telegram, Slack, Discord, webhooks).
TOKEN = st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=17, max_size=40).map(
    lambda s: "Tk7" + s
)
FEW = settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))

# Where a password sits: in a URL's userinfo (as typed, not percent-encoded), a query, a libpq
# keyword string, a line of settings, JSON, an HTTP header; and a URL whose scheme is lost.
PASSWORD_SHAPES = [
    "state postgresql://ann:{s}@db.example.org:5432/digest cannot be opened",
    "state 'postgres://ann:{s}@127.0.0.1/digest': refused",
    "redis://:{s}@cache.example.org:6379/0",
    "json://bot:{s}@example.org/hooks",
    "https://ann:{s}@example.org/path (said the server)",
    "ann:{s}@db.example.org:5432/digest",
    "host=db user=ann password={s} dbname=digest",
    "host=db password='{s} x' dbname=digest",
    "DIGEST_SMTP_PASSWORD={s}",
    'got {{"password": "{s}", "user": "ann"}}',
]
# Where a token sits: Apprise's URLs, mistyped too, webhooks, queries, headers.
TOKEN_SHAPES = [
    *PASSWORD_SHAPES,
    "tgram://{s}/123456789",
    "tgram//{s}/123456789",  # the :// mistyped
    "tgram:/{s}/123456789",
    "tgram:{s}",
    "slack://T1JJ3T3L2/A1BRTD4JD/{s}/#general",
    "discord://4174216298/{s}",
    "pover://{s}@uQiRzpo4DXghDmr9QzzfQu27cmVRsG",
    "ntfy://ntfy.sh/{s}",
    "https://hooks.slack.com/services/T00000000/B00000000/{s}",
    "https://discord.com/api/webhooks/4174216298/{s}",
    "https://example.org/notify?token={s}&x=1",
    "https://example.org/api/{s}/send",
    "notify: '{s}'".replace("{s}", "tgram://{s}/1"),
    "Authorization: Bearer {s}",
]
# Lines digest writes that hold no secret: left as they are.
PLAIN = [
    "state file: /home/ann/.local/share/digest/state.sqlite3",
    "state file: sqlite:///srv/digest/state.sqlite3",
    "papers seen: 9; awaiting delivery: 0; dumps ingested: 1",
    "sent: digest 1, 9 papers, at 2026-12-05 10:42 UTC; wrote out/digest-2026-12-05-0001.html",
    "read 000_47ca144c9a573f93.txt: 56 papers (text)",
    "serving /srv/papers on http://127.0.0.1:8080/",
    "https://huggingface.co/api/daily_papers?date=2025-03-18 answered 404",
    "readers.toml:14: reader 2 (ann@example.org): order: 'best' is not one of highlights",
    "notify: json://bot:****@127.0.0.1:8025/..., json://127.0.0.1:8025/...",
    "started 2026-11-25T06:00:02+01:00, schedule 0 7 * * * (Europe/Paris)",
    "DIGEST_UNSUBSCRIBE=mailto:leave@example.org?subject=unsubscribe",
    "postgresql://ann@db.example.org:5432/digest",
    "https://papers.example.org/2025-07-22-0031.html",
]


@given(secret=TOKEN, shape=st.sampled_from(TOKEN_SHAPES))
def test_a_token_is_hidden_whatever_its_shape(secret: str, shape: str) -> None:
    shown = redact(shape.format(s=secret))
    assert secret not in shown
    assert redact(shown) == shown  # already hidden: unchanged


@given(secret=PASSWORD, shape=st.sampled_from(PASSWORD_SHAPES))
def test_a_password_is_hidden_whatever_it_holds(secret: str, shape: str) -> None:
    if "'" in secret and "'" in shape:
        secret = secret.replace("'", "")  # a quoted value cannot hold its quote
    shown = redact(shape.format(s=secret))
    assert secret not in shown
    assert redact(shown) == shown


@pytest.mark.parametrize("line", PLAIN)
def test_lines_without_secrets_are_left_as_they_are(line: str) -> None:
    assert redact(line) == line


@given(secret=PASSWORD.filter(lambda s: len(s) >= 4))
def test_a_known_secret_is_hidden_wherever_it_appears(secret: str) -> None:
    keep_secret(secret)
    assert secret not in redact(f"order: {secret!r} is not one of highlights ({secret})")


def test_a_state_url_is_shown_without_its_password_however_it_is_written() -> None:
    for url in (
        "postgresql://ann:pa#ss?wd@db.example.org/digest",  # libpq takes these as they are
        "postgres://ann:hunter2@db.example.org/digest?password=hunter2",
        "postgresql://ann:p%40ss@db.example.org/digest",
    ):
        found = location(url)
        assert isinstance(found, StateUrl)
        shown = f"{found} {found!r}"
        assert "hunter2" not in shown and "pa#ss" not in shown and "p%40ss" not in shown
        assert "ann:***@db.example.org" in shown


@pytest.mark.parametrize(
    ("given", "refused"),
    [
        ("host=db user=ann password=hunter2", "libpq keyword string"),
        ("  dbname=digest", "libpq keyword string"),
        ("ann:hunter2@db.example.org:5432/digest", "neither a path nor a URL"),
        ("postgresql:/db.example.org/digest", "neither a path nor a URL"),
        ("mysql://ann:hunter2@db/digest", "no backend for mysql://"),
        ("postgresql://ann:hun/ter2@db/digest", "percent-encoded"),  # libpq: host "ann"
        ("postgresql://ann:hun@ter2@db/digest", "percent-encoded"),  # libpq: host "ter2@db"
        ("", "empty"),
    ],
)
def test_a_state_location_that_is_no_path_nor_url_is_refused(given: str, refused: str) -> None:
    with pytest.raises(ConfigError, match=refused) as caught:
        location(given)
    assert "hunter2" not in str(caught.value) and "ter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("given", "path"),
    [
        ("state.sqlite3", "state.sqlite3"),
        ("/srv/digest/state.sqlite3", "/srv/digest/state.sqlite3"),
        ("sqlite:///srv/digest/state.sqlite3", "/srv/digest/state.sqlite3"),
        ("./a=b/state.sqlite3", "a=b/state.sqlite3"),  # a path, said so
        ("notes v2/state.sqlite3", "notes v2/state.sqlite3"),
    ],
)
def test_a_path_is_a_state_file(given: str, path: str) -> None:
    assert location(given) == Path(path)


# -- the real commands -----------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again on leaving: nothing listens there


@pytest.mark.slow
@FEW
@given(password=PASSWORD.filter(lambda s: not s.endswith(("'", '"'))))
@example(password="Pw9000%A0")  # a %-escape of a byte that is no UTF-8: libpq cannot decode it
def test_a_state_url_password_never_reaches_the_error_line(tmp_path: Path, password: str) -> None:
    """However the password is written (a / # ? @ in it as is), the command says one line,
    without it: refused before libpq reads another host in it, or the server's failure."""
    url = f"postgresql://ann:{password}@127.0.0.1:{_closed_port()}/digest"
    for how in ({"DIGEST_STATE": url}, {}):
        argv = ("status", "-v") if how else ("status", "-v", "--state", url)
        run = digest(*argv, cwd=tmp_path, **how)
        assert run.returncode == 1
        (line,) = run.stderr.splitlines()
        assert password not in run.stdout + run.stderr
        assert "ann:***@127.0.0.1" in line
    assert list(tmp_path.iterdir()) == []  # and no file was made of it


@FEW
@given(password=PASSWORD)
@pytest.mark.slow
def test_a_libpq_keyword_string_is_refused_and_never_becomes_a_file(
    tmp_path: Path, password: str
) -> None:
    password = password.replace("'", "")  # quoted: it cannot hold its quote
    given = f"host=127.0.0.1 port=1 user=ann password='{password}'"
    for how in ({"DIGEST_STATE": given}, {}):
        argv = ("status",) if how else ("status", "--state", given)
        run = digest(*argv, cwd=tmp_path, **how)
        assert run.returncode == 1
        (line,) = run.stderr.splitlines()
        assert "use a postgresql:// URL" in line
        assert password not in run.stdout + run.stderr
    assert list(tmp_path.iterdir()) == []


MISTYPED = [  # each missing its :// somehow, so that `readers check` quotes it back
    "tgram//{s}/123456789",
    "tgram:/{s}/123456789",
    "tgram:{s}",
    "slack:T1JJ3T3L2/A1BRTD4JD/{s}",
    "discord//4174216298/{s}",
    "https//hooks.slack.com/services/T00000000/B00000000/{s}",
    "json:/bot:{s}@example.org/hooks",
]


@pytest.mark.slow
@FEW
@given(tokens=st.lists(TOKEN, min_size=len(MISTYPED), max_size=len(MISTYPED), unique=True))
def test_a_readers_notify_url_is_never_echoed_with_its_token(
    tmp_path: Path, tokens: list[str]
) -> None:
    readers = tmp_path / "readers.toml"
    readers.write_text(
        "".join(
            f'[[reader]]\nemail = "r{n}@example.org"\nnotify = {json.dumps(shape.format(s=t))}\n'
            for n, (shape, t) in enumerate(zip(MISTYPED, tokens, strict=True))
        )
    )
    (tmp_path / "inbox").mkdir(exist_ok=True)
    checked = digest("readers", "check", str(readers), cwd=tmp_path)
    ran = digest(
        "now", "--inbox", "inbox", "--readers", str(readers), "--state", "s.sqlite3", cwd=tmp_path
    )
    assert checked.returncode == 1 and checked.stderr.count("notify:") == len(MISTYPED)
    assert ran.stderr.count("notify:") == len(MISTYPED)
    said = checked.stdout + checked.stderr + ran.stdout + ran.stderr
    assert not [t for t in tokens if t in said]


def test_a_known_secret_is_hidden_from_a_command_that_quotes_it(tmp_path: Path) -> None:
    secret = "my-SMTP-password"
    readers = tmp_path / "readers.toml"
    readers.write_text(f'[[reader]]\nemail = "ann@example.org"\norder = "{secret}"\n')
    run = digest("readers", "check", str(readers), cwd=tmp_path, DIGEST_SMTP_PASSWORD=secret)
    assert run.returncode == 1 and "order: '***' is not one of" in run.stderr
    assert secret not in run.stdout + run.stderr


def test_status_shows_no_token_of_the_chat_urls(tmp_path: Path) -> None:
    token = "Tk7AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    run = digest(
        "status",
        "--state",
        "s.sqlite3",
        cwd=tmp_path,
        DIGEST_NOTIFY=f"tgram://123456789:{token}/987654, json://example.org/hooks/{token}",
    )
    assert "notify:" in run.stdout
    assert token not in run.stdout + run.stderr


def test_a_logged_error_and_its_details_never_show_a_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With -v an unexpected error is logged with its traceback, which quotes its message."""
    password, token = "Pw9cor/re#ct-horse", "Tk7AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    cli.configure_logging(logging.DEBUG)
    try:
        raise RuntimeError(f"postgresql://ann:{password}@db/x failed; tgram://{token}/1 too")
    except RuntimeError:
        cli.log.error("failed: %s", f"password={password}")
        cli.log.debug("the error in detail", exc_info=True)
    said = capsys.readouterr().err
    assert "Traceback" in said and "RuntimeError" in said
    assert password not in said and token not in said


def test_a_usage_error_does_not_quote_a_secret_back(tmp_path: Path) -> None:
    run = digest(
        "now", "--deliver", "tgram://Tk7AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/1", cwd=tmp_path
    )
    assert run.returncode == 2 and "invalid choice" in run.stderr
    assert "Tk7AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw" not in run.stderr


def test_the_web_pages_errors_show_no_secret() -> None:
    from digest.web import pages

    token = "Tk7AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    shown = pages.Shown("send", "@daily", "", "", "")
    page = pages.preferences(
        "ann@example.org",
        "/preferences/x",
        {"csrf": "c"},
        shown,
        errors=[f"schedule: 'tgram://{token}/1' is not a schedule"],
    )
    assert "Nothing was saved" in page.html and token not in page.html


# What a stranger may put in a logged line (a request's path, a file's name), shaped to make
# a pattern backtrack or recurse.
HOSTILE = [
    "a:" * 50_000,
    "http://a:" * 20_000,
    "http://x/" * 20_000,
    "p://u:" * 30_000,
    "password=" + "'" * 100_000,
    "tgram://" + "a/" * 50_000,
]


@pytest.mark.parametrize("line", HOSTILE, ids=lambda line: line[:9])
def test_a_hostile_line_costs_little_and_never_fails(line: str) -> None:
    import time

    started = time.process_time()
    shown = redact(line)
    assert time.process_time() - started < 0.5
    assert len(shown) < 2_100  # cut to its first 2,000 characters


def test_a_url_nested_in_urls_is_still_hidden() -> None:
    line = "see https://a.org/x?next=https://b.org/y?next=https://u:hunter2@c.org/z ok"
    assert redact(line) == "see https://a.org/x?next=https://b.org/y?next=https://u:***@c.org/z ok"
    deep = "https://a.org/?u=" * 6 + "https://u:hunter2@c.org/"
    assert "hunter2" not in redact(deep)
