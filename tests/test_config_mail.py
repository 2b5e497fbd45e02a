"""Mail settings: addresses with display names, subject template, security, secrets."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from digest import config
from digest.errors import ConfigError
from tests.processes import clean_env


def load(**env: str) -> config.Settings:
    return config.load({}, env)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ann@example.org", [("", "ann@example.org")]),
        ("Ann Reader <ann@example.org>", [("Ann Reader", "ann@example.org")]),
        (
            '"Doe, Jane" <jane@example.org>, bob@example.org',
            [("Doe, Jane", "jane@example.org"), ("", "bob@example.org")],
        ),
        ("Zoë <zoe@example.org>,", [("Zoë", "zoe@example.org")]),
        ("björn@example.org", None),
        ("ann@bücher.example", [("", "ann@xn--bcher-kva.example")]),
        ("ann", None),
        ("ann@localhost", None),
        ("a b@example.org", None),
        ("ann@example.org\r\nBcc: eve@example.org", None),
    ],
)
def test_addresses(raw: str, expected: list[tuple[str, str]] | None) -> None:
    if expected is None:
        with pytest.raises(ConfigError, match="DIGEST_TO"):
            config.addresses(raw, "DIGEST_TO")
    else:
        found = config.addresses(raw, "DIGEST_TO")
        assert [(a.display_name, a.addr_spec) for a in found] == expected


def test_a_mail_server_makes_smtp_the_default_delivery() -> None:
    env = {"DIGEST_FROM": "p@example.org", "DIGEST_TO": "a@example.org"}
    assert load(**env, DIGEST_DELIVER="files").deliver == "files"
    assert load(**env, DIGEST_SMTP_HOST="mail.example.org").deliver == "smtp"
    chosen = load(**env, DIGEST_SMTP_HOST="mail.example.org", DIGEST_DELIVER="files")
    assert chosen.deliver == "files"


@pytest.mark.parametrize(("security", "port"), [("starttls", 587), ("ssl", 465), ("none", 25)])
def test_the_port_follows_the_security(security: str, port: int) -> None:
    assert load(DIGEST_SMTP_SECURITY=security).port == port
    assert load(DIGEST_SMTP_SECURITY=security, DIGEST_SMTP_PORT="2525").port == 2525


def test_the_password_is_in_no_repr() -> None:
    settings = load(
        DIGEST_SMTP_PASSWORD="hunter2",
        DIGEST_SMTP_HOST="mail.example.org",
        DIGEST_FROM="p@example.org",
        DIGEST_TO="a@example.org",
    )
    assert settings.smtp_password == "hunter2"
    assert "hunter2" not in repr(settings) and "hunter2" not in str(settings)


def test_a_password_over_loopback_without_tls_is_allowed() -> None:
    assert (
        load(
            DIGEST_SMTP_PASSWORD="x",
            DIGEST_SMTP_HOST="localhost",
            DIGEST_SMTP_SECURITY="none",
            DIGEST_FROM="p@example.org",
            DIGEST_TO="a@example.org",
        ).smtp_security
        == "none"
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DIGEST_FROM": "a@example.org, b@example.org"}, "DIGEST_FROM must be a single"),
        ({"DIGEST_SUBJECT": "{count.__class__}"}, "only {count}, {date} and {matches}"),
        ({"DIGEST_SUBJECT": "{count"}, "not a valid template"),
        ({"DIGEST_UNSUBSCRIBE": "http://example.org/u"}, "mailto: address or an https://"),
        ({"DIGEST_UNSUBSCRIBE": "https://example.org/a b"}, "single address or URL"),
        ({"DIGEST_LIST_ID": "not a list id"}, "not a list identifier"),
        ({"DIGEST_SMTP_TIMEOUT": "0"}, "DIGEST_SMTP_TIMEOUT=0 is out of range: use 1 to 3600"),
        ({"DIGEST_SMTP_PORT": "70000"}, "DIGEST_SMTP_PORT=70000 is out of range: use 0 to 65535"),
        ({"DIGEST_SMTP_HOST": "mail example"}, "must not contain spaces"),
    ],
)
def test_bad_mail_settings(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load(**env)


def test_subject_line_is_one_line() -> None:
    assert config.subject_line("{count} new ({date})", 3, "Mar 12\r\n Bcc: x") == (
        "3 new (Mar 12 Bcc: x)"
    )


def test_a_plain_http_unsubscribe_is_taken_to_this_machine_only_and_said(
    caplog: pytest.LogCaptureFixture,
) -> None:
    local = "http://127.0.0.1:8080/unsubscribe/{token}"
    with caplog.at_level("WARNING"):
        assert load(DIGEST_UNSUBSCRIBE=local).unsubscribe == local
    assert "plain http:// to this machine: for a test only" in caplog.text
    for elsewhere in ("http://papers.example.org/u/{token}", "http://127.0.0.1.example.org/u"):
        with pytest.raises(ConfigError, match="plain http:// only to this machine"):
            load(DIGEST_UNSUBSCRIBE=elsewhere)


def test_a_mail_setting_stops_only_what_mails(tmp_path: Path) -> None:
    """`digest status` and `digest readers` do not mail: a mail setting that cannot be used
    does not stop them; `digest now` it stops, in one line naming it."""
    env = clean_env(
        DIGEST_STATE=str(tmp_path / "state.sqlite3"),
        DIGEST_UNSUBSCRIBE="http://papers.example.org/u/{token}",
        DIGEST_INBOX=str(tmp_path),
    )
    run = [sys.executable, "-m", "digest"]
    status = subprocess.run([*run, "status"], env=env, capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    now = subprocess.run([*run, "now"], env=env, capture_output=True, text=True, timeout=60)
    assert now.returncode == 1
    (line,) = now.stderr.splitlines()
    assert "DIGEST_UNSUBSCRIBE=" in line
