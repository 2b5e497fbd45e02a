"""Settings: precedence, conversion, validation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from digest.config import Settings, load
from digest.errors import ConfigError
from digest.render import subject


def test_precedence_flag_then_env_then_file_then_default(tmp_path: Path) -> None:
    env_file = tmp_path / "settings.env"
    env_file.write_text("DIGEST_FORMAT=markdown\nDIGEST_DELIVER=stdout\nDIGEST_INBOX=/from/file\n")
    environ = {"DIGEST_FORMAT": "json", "DIGEST_INBOX": "/from/env"}
    s = load({"inbox": Path("/from/flag")}, environ, env_file)
    assert s.inbox == Path("/from/flag")  # flag beats environment
    assert s.format == "json"  # environment beats file
    assert s.deliver == "stdout"  # file beats default
    assert s.max_dump_mb == Settings().max_dump_mb  # default


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DIGEST_DELIVER": "pigeon"}, "DIGEST_DELIVER='pigeon' is not one of"),
        ({"DIGEST_FORMAT": "pdf"}, "DIGEST_FORMAT='pdf' is not one of"),
        ({"DIGEST_SEND_EMPTY": "perhaps"}, "not a yes/no value"),
        ({"DIGEST_MAX_DUMP_MB": "ten"}, "not a whole number"),
        ({"DIGEST_MAX_DUMP_MB": "0"}, "DIGEST_MAX_DUMP_MB=0 is out of range: use 1 to 4096"),
        ({"DIGEST_POLL_SECONDS": "soon"}, "DIGEST_POLL_SECONDS='soon' is not a number"),
        ({"DIGEST_POLL_SECONDS": "0"}, "DIGEST_POLL_SECONDS=0 is out of range: use 0.1 to"),
        ({"DIGEST_POLL_SECONDS": "nan"}, "DIGEST_POLL_SECONDS=nan is out of range"),
        ({"DIGEST_PROCESSED": "delete"}, "DIGEST_PROCESSED='delete' is not one of leave, move"),
        ({"DIGEST_MIN_SCORE": "2"}, "DIGEST_MIN_SCORE=2 is out of range: use 0 to 1"),
        ({"DIGEST_MIN_SCORE": "high"}, "DIGEST_MIN_SCORE='high' is not a number"),
        ({"DIGEST_ORDER": "best"}, "DIGEST_ORDER='best' is not one of .*relevance"),
        ({"DIGEST_DETAIL": "long"}, "DIGEST_DETAIL='long' is not one of compact, full"),
    ],
)
def test_bad_values(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load({}, environ)


def test_relevance_settings() -> None:
    s = load({}, {"DIGEST_INTERESTS": "speech, audio", "DIGEST_MIN_SCORE": "0.1"})
    assert (s.interests, s.min_score, s.order) == ("speech, audio", 0.1, "")
    assert load({}, {"DIGEST_ORDER": "relevance"}).order == "relevance"


def test_missing_env_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load({}, {}, tmp_path / "nope.env")


def test_inbox_required_and_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="DIGEST_INBOX"):
        Settings().require_inbox()
    with pytest.raises(ConfigError, match="is not a folder"):
        Settings(inbox=tmp_path / "missing").require_inbox()


def test_booleans_and_home_expansion() -> None:
    s = load({}, {"DIGEST_SEND_EMPTY": "Yes", "DIGEST_OUT": "~/digests"})
    assert s.send_empty is True
    assert s.out == Path.home() / "digests"


def test_service_settings() -> None:
    s = load(
        {},
        {
            "DIGEST_POLL_SECONDS": "0.2",
            "DIGEST_PROCESSED": "move",
            "DIGEST_SCHEDULE": "every 1s",
            "DIGEST_TIMEZONE": "Europe/Paris",
        },
    )
    assert (s.poll_seconds, s.processed, s.schedule, s.timezone) == (
        0.2,
        "move",
        "every 1s",
        "Europe/Paris",
    )
    d = load({}, {})
    assert (d.poll_seconds, d.processed, d.schedule, d.timezone) == (
        60.0,
        "leave",
        "0 7 * * *",
        None,
    )


def test_env_file_holding_the_password_readable_by_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from digest.cli import main

    env_file = tmp_path / "secret.env"
    env_file.write_text("DIGEST_SMTP_PASSWORD=hunter2\n")
    env_file.chmod(0o644)
    main(["status", "--env-file", str(env_file), "--state", str(tmp_path / "s.db")])
    err = capsys.readouterr().err
    assert f"{env_file} holds DIGEST_SMTP_PASSWORD and other users can read it" in err
    assert "hunter2" not in err
    env_file.chmod(0o600)
    main(["status", "--env-file", str(env_file), "--state", str(tmp_path / "s.db")])
    assert "other users can read it" not in capsys.readouterr().err


def test_the_password_appears_in_no_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:

    from digest.cli import main
    from tests.mailserver import free_port

    secret = "s3cret-Pa55word"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    shutil.copy(sorted((Path(__file__).parent.parent / "seeds").glob("*.txt"))[0], inbox)
    for name, value in {
        "DIGEST_SMTP_HOST": "127.0.0.1",
        "DIGEST_SMTP_PORT": str(free_port()),  # nobody listens: the run fails, and says so
        "DIGEST_SMTP_USER": "me",
        "DIGEST_SMTP_PASSWORD": secret,
        "DIGEST_SMTP_SECURITY": "ssl",
        "DIGEST_FROM": "papers@example.org",
        "DIGEST_TO": "ann@example.org",
        "DIGEST_INBOX": str(inbox),
        "DIGEST_STATE": str(tmp_path / "s.db"),
    }.items():
        monkeypatch.setenv(name, value)
    outputs = []
    for argv in (["now", "-vv"], ["status", "-vv"], ["resend", "1", "-vv"]):
        main(argv)
        outputs.append(capsys.readouterr())
    for argv in (["--help"], ["now", "--help"], ["serve", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        outputs.append(capsys.readouterr())
    text = "".join(o.out + o.err for o in outputs)
    assert "not delivered yet" in text  # the failure was reported...
    assert secret not in text and "Traceback" not in text  # ...without the password


def test_empty_state_setting_means_the_default() -> None:
    assert load({}, {"DIGEST_STATE": ""}).state == Settings().state


def test_subject_template_with_a_bad_format_spec_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="DIGEST_SUBJECT"):
        load({}, {"DIGEST_SUBJECT": "{count} new ({date:d})"})


def test_subject_of_a_digest_uses_the_template() -> None:
    from datetime import UTC, datetime

    from digest.models import Digest, Paper

    d = Digest((Paper("A", "b"),), created=datetime(2025, 3, 12, tzinfo=UTC))
    assert subject(d, "{count} new\r\nBcc: x") == "1 new Bcc: x"  # one line, always
