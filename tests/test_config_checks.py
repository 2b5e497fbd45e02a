"""Settings that are mistyped, half given or out of range: said in one line, by the real CLI."""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from digest import config
from tests.processes import run_digest

MAIL = {"DIGEST_FROM": "papers@example.org", "DIGEST_TO": "ann@example.org"}


digest = run_digest  # the real CLI in its own process, on tmp_path/s.sqlite3


def refused(run: subprocess.CompletedProcess[str], *needles: str) -> str:
    """The one error line of a refused run."""
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    errors = [line for line in run.stderr.splitlines() if "is not a setting" not in line]
    assert len(errors) == 1, run.stderr
    for needle in needles:
        assert needle in errors[0]
    return errors[0]


def test_a_mistyped_mail_server_is_named_and_nothing_is_delivered(
    tmp_path: Path, inbox: Path, seeds: list[Path]
) -> None:
    shutil.copy(seeds[0], inbox)
    env = {**MAIL, "DIGEST_SMTP_HSOT": "mail.example.org"}
    run = digest(tmp_path, "now", "--inbox", str(inbox), env=env)
    assert (
        "digest: DIGEST_SMTP_HSOT in the environment is not a setting and is ignored;"
        " did you mean DIGEST_SMTP_HOST?" in run.stderr
    )
    refused(run, "DIGEST_FROM and DIGEST_TO set but not DIGEST_SMTP_HOST", "DIGEST_DELIVER=files")
    assert not (tmp_path / "xdg-data").exists()  # no digest files written
    status = digest(tmp_path, "status")
    assert "papers seen: 0;" in status.stdout


def test_unknown_names_in_an_env_file_are_named_with_the_file(tmp_path: Path, inbox: Path) -> None:
    env_file = tmp_path / "digest.env"
    env_file.write_text(f"DIGEST_INBXO={inbox}\nDIGEST_WHATEVER=1\nOTHER_APP=2\n")
    run = digest(tmp_path, "status", "--env-file", str(env_file))
    assert run.returncode == 0, run.stderr
    assert (
        f"DIGEST_INBXO in {env_file} is not a setting and is ignored; did you mean DIGEST_INBOX?"
        in run.stderr
    )
    assert f"DIGEST_WHATEVER in {env_file} is not a setting and is ignored; see" in run.stderr
    assert "OTHER_APP" not in run.stderr


def test_every_numeric_setting_declares_its_range() -> None:
    numeric = [f for f in dataclasses.fields(config.Settings) if f.type in ("int", "float")]
    assert len(numeric) >= 10
    assert [f.name for f in numeric if "range" not in f.metadata] == []


def test_every_setting_is_known_and_documented_from_its_one_declaration() -> None:
    declared = [config.env_name(f.name) for f in dataclasses.fields(config.Settings)]
    assert config.known_names() == declared
    example = (Path(__file__).parent.parent / "config.example.env").read_text()
    documented = set(re.findall(r"^#?(DIGEST_[A-Z_]+)=", example, re.MULTILINE))
    assert documented == set(declared)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DIGEST_FROM": "papers@example.org"}, "DIGEST_FROM set but not DIGEST_SMTP_HOST"),
        ({"DIGEST_SMTP_HOST": "mail.example.org"}, "mail delivery needs DIGEST_FROM and DIGEST_TO"),
        (
            {"DIGEST_SMTP_HOST": "mail.example.org", "DIGEST_FROM": "papers@example.org"},
            "mail delivery needs DIGEST_TO",
        ),
    ],
)
def test_mail_settings_given_in_half_are_refused(
    tmp_path: Path, inbox: Path, env: dict[str, str], message: str
) -> None:
    refused(digest(tmp_path, "now", "--inbox", str(inbox), env=env), message)


def test_a_missing_templates_folder_is_refused(tmp_path: Path, inbox: Path) -> None:
    run = digest(tmp_path, "now", "--inbox", str(inbox), env={"DIGEST_TEMPLATES": "/no/such"})
    refused(run, "DIGEST_TEMPLATES='/no/such' is not a folder")


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "DIGEST_SMTP_TIMEOUT",
            "1e10",
            "DIGEST_SMTP_TIMEOUT=10000000000 is out of range: use 1 to",
        ),
        ("DIGEST_MAX_DUMP_MB", "1e13", "DIGEST_MAX_DUMP_MB=10000000000000 is out of range: use 1"),
        ("DIGEST_POLL_SECONDS", "1e300", "DIGEST_POLL_SECONDS=1e+300 is out of range: use 0.1 to"),
        ("DIGEST_POLL_SECONDS", "1e-9", "DIGEST_POLL_SECONDS=1e-09 is out of range: use 0.1 to"),
        ("DIGEST_POLL_SECONDS", "inf", "DIGEST_POLL_SECONDS=inf is out of range"),
        ("DIGEST_MAX_PAPERS", "9" * 30, "DIGEST_MAX_PAPERS=" + "9" * 30 + " is out of range"),
        ("DIGEST_SMTP_PORT", "-1", "DIGEST_SMTP_PORT=-1 is out of range: use 0 to 65535"),
        ("DIGEST_SMTP_TIMEOUT", "9" * 5000, "DIGEST_SMTP_TIMEOUT="),
        ("DIGEST_SUBJECT", "{count:>99999999999}", "a width or precision must be at most 200"),
        ("DIGEST_SUBJECT", "{date:.99999}", "a width or precision must be at most 200"),
    ],
)
def test_numbers_out_of_range_are_one_line_naming_the_setting_and_its_range(
    tmp_path: Path, inbox: Path, name: str, value: str, message: str
) -> None:
    refused(digest(tmp_path, "now", "--inbox", str(inbox), env={name: value}), message)


@pytest.mark.parametrize(
    "schedule", ["every 99999999999999999999h", "every 400000000000s", "every 9000d"]
)
def test_a_schedule_past_its_range_is_one_line(tmp_path: Path, inbox: Path, schedule: str) -> None:
    run = digest(tmp_path, "serve", "--inbox", str(inbox), env={"DIGEST_SCHEDULE": schedule})
    refused(run, f"DIGEST_SCHEDULE={schedule!r}")


def test_a_schedule_of_a_year_is_still_taken() -> None:
    from digest.service.schedule import parse_schedule

    assert parse_schedule("every 8784h", __import__("datetime").UTC) is not None


def test_an_env_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_bytes(b"DIGEST_SUBJECT=Caf\xe9 papers\n")
    refused(digest(tmp_path, "status"), f"env file {Path('.env')} is not UTF-8 text")


def test_an_unknown_time_zone_is_refused_by_every_command(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    env = {"DIGEST_TIMEZONE": "Mars/Base", "DIGEST_INBOX": "inbox"}
    for argv in (("now",), ("now", "--dry-run"), ("fetch",)):
        refused(digest(tmp_path, *argv, env=env), "DIGEST_TIMEZONE='Mars/Base'")
