"""Mail against a real SMTP server on loopback: non-ASCII logins, and a server's size limit."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.mailserver import Handler, smtp_server
from tests.processes import run_digest

PASSWORD = "Zürich-Paßwort-ü"
SECRET_BITS = ("Zürich", "Paßwort", "ü", "ß", "\\xfc", "\\xdf", "=C3=BC")
MAIL = {
    "DIGEST_FROM": "Daily Papers <papers@example.org>",
    "DIGEST_TO": "Ann <ann@example.org>",
}


def digest(tmp_path: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in its own process, on tmp_path/s.sqlite3, with the mail settings."""
    return run_digest(tmp_path, *argv, env={**MAIL, **env})


def no_secret(*outputs: str) -> None:
    text = "".join(outputs)
    assert "Traceback" not in text
    for bit in SECRET_BITS:
        assert bit not in text, f"{bit!r} of the password shown"


# aiosmtpd warns of a login without TLS; on loopback that is what is wanted here.
NO_TLS = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@NO_TLS
def test_a_non_ascii_password_logs_in_as_utf8(
    tmp_path: Path, inbox: Path, seeds: list[Path]
) -> None:
    shutil.copy(seeds[0], inbox)
    handler = Handler()
    with smtp_server(handler, auth=("mé", PASSWORD)) as server:
        env = {**server.environment(), "DIGEST_SMTP_USER": "mé", "DIGEST_SMTP_PASSWORD": PASSWORD}
        done = digest(tmp_path, "now", "--inbox", str(inbox), **env)
    assert done.returncode == 0, done.stderr
    assert handler.logins == [("mé", PASSWORD)]
    assert len(server.received) == 1
    no_secret(done.stdout, done.stderr)


@pytest.mark.slow
@NO_TLS
def test_a_wrong_non_ascii_password_is_recorded_shows_nothing_and_can_be_fixed(
    tmp_path: Path, inbox: Path, seeds: list[Path]
) -> None:
    shutil.copy(seeds[0], inbox)
    with smtp_server(auth=("me", "the-right-one")) as server:
        env = {**server.environment(), "DIGEST_SMTP_USER": "me", "DIGEST_SMTP_PASSWORD": PASSWORD}
        failed = digest(tmp_path, "now", "--inbox", str(inbox), "-v", **env)
        status = digest(tmp_path, "status", **env)
        assert failed.returncode == 1
        assert "refused the login of 'me'" in failed.stderr
        assert "pending: digest 1 " in status.stdout and ", 1 attempts;" in status.stdout
        assert "refused the login" in status.stdout
        no_secret(failed.stdout, failed.stderr, status.stdout, status.stderr)
        assert server.received == []
        # Fixed in the settings, the same digest goes out by itself.
        fixed = digest(
            tmp_path,
            "now",
            "--inbox",
            str(inbox),
            **{**env, "DIGEST_SMTP_PASSWORD": "the-right-one"},
        )
    assert fixed.returncode == 0, fixed.stderr
    assert len(server.received) == 1


def many_papers(inbox: Path, count: int) -> None:
    """A text dump of `count` papers with long, distinct abstracts."""
    import random

    rng = random.Random(7)
    vocabulary = ["".join(rng.choices("bcdfghjklmnprstvz", k=3)) + "ion" for _ in range(5000)]
    blocks = []
    for i in range(count):
        title = " ".join(rng.choices(vocabulary, k=6)).title()
        abstract = " ".join(rng.choices(vocabulary, k=220))
        blocks.append(f"Synthetic Paper {i}: {title}\n\n{abstract}.")
    (inbox / "big.txt").write_text("Daily Papers\n\n" + "\n\n".join(blocks) + "\n")


@pytest.mark.slow
def test_a_mail_over_the_servers_size_goes_without_its_attachment_and_says_so(
    tmp_path: Path, inbox: Path
) -> None:
    many_papers(inbox, 600)
    limit = 400_000
    with smtp_server(size_limit=limit) as server:
        # With every abstract asked for, the attachment (the whole digest) is the bulk.
        env = {**server.environment(), "DIGEST_DETAIL": "full"}
        done = digest(tmp_path, "now", "--inbox", str(inbox), **env)
    assert done.returncode == 0, done.stderr
    assert "mailed without its attachment" in done.stderr
    [got] = server.received
    assert len(got.data) <= limit
    message = got.message
    assert [p.get_filename() for p in message.iter_attachments()] == []
    note = [p for p in message.iter_parts() if p.get_content_type() == "text/plain"]
    assert "is not attached: the mail server accepts messages of at most" in str(
        note[0].get_content()
    )
    assert "digest resend 1 --deliver files" in str(note[0].get_content())


@pytest.mark.slow
def test_a_mail_that_cannot_fit_fails_with_what_to_do_and_resend_says_the_same(
    tmp_path: Path, inbox: Path
) -> None:
    many_papers(inbox, 600)
    with smtp_server(size_limit=30_000) as server:
        env = server.environment()
        first = digest(tmp_path, "now", "--inbox", str(inbox), **env)
        again = digest(tmp_path, "resend", "1", **env)
        status = digest(tmp_path, "status", **env)
    assert server.received == []
    for run in (first, again):
        assert run.returncode == 1
        assert "Traceback" not in run.stderr
        [line] = [line for line in run.stderr.splitlines() if "too big" in line]
        assert "is too big for 127.0.0.1" in line and "at most 29 KB" in line
        assert "digest resend 1 --deliver files" in line and "DIGEST_MAX_PAPERS" in line
    assert "failed: digest 1 " in status.stdout
    # And the files way does deliver it whole.
    files = digest(tmp_path, "resend", "1", "--deliver", "files", "--out", str(tmp_path / "o"))
    assert files.returncode == 0, files.stderr
    assert (
        "Synthetic Paper 599"
        in (tmp_path / "o")
        .joinpath(next(p.name for p in (tmp_path / "o").glob("*.md")))
        .read_text()
    )


@pytest.mark.parametrize("size", [0, None])
def test_a_server_without_a_limit_gets_the_message_as_stored(
    tmp_path: Path, inbox: Path, seeds: list[Path], size: int | None
) -> None:
    shutil.copy(seeds[0], inbox)
    with smtp_server(size_limit=size) as server:
        done = digest(tmp_path, "now", "--inbox", str(inbox), **server.environment())
    assert done.returncode == 0, done.stderr
    assert "without its attachment" not in done.stderr
    assert len(server.received) == 1
