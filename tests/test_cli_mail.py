"""Mail from the command line: smtp by default once a server is set, files with .eml,
previews, and settings errors that name the setting and never show the password."""

from __future__ import annotations

import re
import shutil
import ssl
from email import message_from_bytes, policy
from pathlib import Path

import pytest
import trustme
from markupsafe import escape as html_escape

from digest.cli import main
from digest.formats import parse
from digest.state import open as open_state
from tests.mailserver import smtp_server

ENV = {
    "DIGEST_FROM": "Daily Papers <papers@example.org>",
    "DIGEST_TO": "Ann <ann@example.org>",
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def unstamped(text: str) -> str:
    """Without the minute the digest was made, which two runs need not share."""
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d", "DATE", text)
    return re.sub(r"daily-papers-[\d-]+\.md", "ATTACHMENT", text)


def test_smtp_is_the_default_once_a_server_is_set_and_tls_is_verified(
    capsys: pytest.CaptureFixture[str],
    env: pytest.MonkeyPatch,
    inbox: Path,
    seeds: list[Path],
    tmp_path: Path,
) -> None:
    ca = trustme.CA()
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_tls)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    env.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # the trust store, as a user sets it
    shutil.copy(seeds[3], inbox)
    with smtp_server(tls_context=server_tls, starttls=True, auth=("me", "hunter2")) as server:
        for name, value in server.environment("starttls").items():
            env.setenv(name, value)
        env.setenv("DIGEST_SMTP_USER", "me")
        env.setenv("DIGEST_SMTP_PASSWORD", "hunter2")
        code, out, err = run(capsys, "now", "-vv", "--inbox", str(inbox))
    assert code == 0, err
    assert f"mailed to 1 recipient via 127.0.0.1:{server.port}" in err
    assert "hunter2" not in out + err
    [got] = server.received
    assert got.recipients == ["ann@example.org"]
    assert not (tmp_path / "xdg-data" / "digest" / "digests").exists()  # no files written


def test_files_delivery_writes_the_eml_next_to_the_other_files(
    capsys: pytest.CaptureFixture[str],
    env: pytest.MonkeyPatch,
    inbox: Path,
    seeds: list[Path],
    tmp_path: Path,
) -> None:
    shutil.copy(seeds[3], inbox)
    out_dir = tmp_path / "out"
    code, _, err = run(
        capsys, "now", "--inbox", str(inbox), "--out", str(out_dir), "--deliver", "files"
    )
    assert code == 0, err
    files = {p.suffix: p for p in out_dir.iterdir()}
    assert set(files) == {".html", ".txt", ".md", ".json", ".eml"}
    msg = message_from_bytes(files[".eml"].read_bytes(), policy=policy.default)
    html = msg.get_body(preferencelist=("html",))
    text = msg.get_body(preferencelist=("plain",))
    assert html is not None and text is not None
    assert msg["To"] == "Ann <ann@example.org>"
    # The mail keeps to its size budget; the files beside it hold the whole digest, every
    # abstract included, for reading in a browser or a pager.
    assert len(html.get_content().encode()) < 102_000
    papers = parse(seeds[3].read_bytes(), seeds[3].name).papers
    page, plain = files[".html"].read_text(), files[".txt"].read_text()
    for paper in papers:
        assert str(html_escape(paper.abstract[:60])) in page
        assert paper.abstract.split()[-1] in plain


def test_preview_writes_exactly_the_html_a_reader_gets(
    capsys: pytest.CaptureFixture[str],
    env: pytest.MonkeyPatch,
    inbox: Path,
    seeds: list[Path],
    tmp_path: Path,
) -> None:
    shutil.copy(seeds[3], inbox)
    with smtp_server() as server:
        for name, value in server.environment().items():
            env.setenv(name, value)
        code, out, err = run(
            capsys,
            "now",
            "--dry-run",
            "--format",
            "html",
            "--inbox",
            str(inbox),
            "--out",
            str(tmp_path / "preview"),
        )
        assert code == 0, err
        assert server.received == []  # a dry run sends nothing
        preview = Path(out.strip())
        assert preview.is_file() and preview.suffix == ".html"
        assert run(capsys, "now", "--inbox", str(inbox))[0] == 0
    html = server.received[0].message.get_body(preferencelist=("html",))
    assert html is not None
    mailed = html.get_content().replace("\r\n", "\n")
    assert unstamped(preview.read_text()) == unstamped(mailed)


@pytest.mark.parametrize(
    ("env_vars", "message"),
    [
        ({"DIGEST_DELIVER": "smtp"}, "mail delivery needs DIGEST_SMTP_HOST"),
        (
            {"DIGEST_SMTP_HOST": "mail.example.org", "DIGEST_TO": ""},
            "mail delivery needs DIGEST_TO",
        ),
        (
            {"DIGEST_TO": "ann@example.org, not-an-address"},
            "DIGEST_TO: 'not-an-address' is not an email address",
        ),
        ({"DIGEST_SMTP_SECURITY": "tls"}, "DIGEST_SMTP_SECURITY='tls' is not one of"),
        (
            {
                "DIGEST_SMTP_HOST": "mail.example.org",
                "DIGEST_SMTP_SECURITY": "none",
                "DIGEST_SMTP_PASSWORD": "hunter2",
            },
            "would send the SMTP password unencrypted",
        ),
        (
            {"DIGEST_SUBJECT": "{count} new {papers}"},
            "only {count}, {date} and {matches} can be used",
        ),
    ],
)
def test_bad_mail_settings_are_one_line_naming_the_setting(
    capsys: pytest.CaptureFixture[str],
    env: pytest.MonkeyPatch,
    inbox: Path,
    env_vars: dict[str, str],
    message: str,
) -> None:
    for name, value in env_vars.items():
        env.setenv(name, value)
    code, out, err = run(capsys, "now", "--inbox", str(inbox))
    assert code == 1
    assert message in err and len(err.strip().splitlines()) == 1
    assert "hunter2" not in out + err and "Traceback" not in err


def test_resend_to_needs_mail_delivery(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(
        capsys, "resend", "1", "--to", "ann@example.org", "--state", str(tmp_path / "s.db")
    )
    assert code == 1 and "--to needs mail delivery" in err


def test_a_digest_refused_for_now_is_retried_after_digest_retry_seconds(
    capsys: pytest.CaptureFixture[str],
    env: pytest.MonkeyPatch,
    inbox: Path,
    seeds: list[Path],
    tmp_path: Path,
) -> None:
    from datetime import datetime, timedelta

    from tests.mailserver import Handler

    shutil.copy(seeds[3], inbox)
    env.setenv("DIGEST_RETRY_SECONDS", "20")
    with smtp_server(Handler(data_reply="451 4.3.0 Try again later")) as server:
        for name, value in server.environment().items():
            env.setenv(name, value)
        before = datetime.now().astimezone()
        code, _, err = run(capsys, "now", "--inbox", str(inbox), "--state", "s.sqlite3")
    assert code == 1 and "will retry" in err
    with open_state(tmp_path / "s.sqlite3") as store:
        [pending] = store.outgoing(status="pending")
    assert pending.next_attempt is not None
    wait = pending.next_attempt - before
    assert timedelta(seconds=18) <= wait <= timedelta(seconds=22), wait
