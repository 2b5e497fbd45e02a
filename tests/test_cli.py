"""The command line, end to end: day-by-day digests, formats, exit codes, manners."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path

import pytest

from digest.cli import main
from digest.formats import parse
from digest.identity.keys import title_key
from tests.mailserver import smtp_server
from tests.processes import clean_env, digest_now


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_day_by_day_each_digest_holds_exactly_the_papers_never_seen(
    capsys: pytest.CaptureFixture[str], inbox: Path, seeds: list[Path], tmp_path: Path
) -> None:
    state = str(tmp_path / "state.sqlite3")
    shown: set[str] = set()
    for day, seed in enumerate(seeds):
        shutil.copy(seed, inbox)
        expected: list[str] = []
        for paper in parse(seed.read_bytes(), seed.name).papers:
            key = title_key(paper.title)
            if key not in shown:
                shown.add(key)
                expected.append(paper.title)
        out_dir = tmp_path / f"day{day}"
        code, _, _ = run(
            capsys, "now", "--inbox", str(inbox), "--state", state, "--out", str(out_dir)
        )
        assert code == 0
        if not expected:
            assert not out_dir.exists()
            continue
        files = {p.suffix: p.read_text() for p in out_dir.iterdir()}
        data = json.loads(files[".json"])
        assert [p["title"] for p in data["papers"]] == expected
        for suffix in (".txt", ".md", ".html"):
            body = files[suffix]
            assert body.count("arxiv.org/search") == len(expected), suffix
        assert f"{len(expected)} new of " in files[".txt"]

    code, out, err = run(
        capsys,
        "now",
        "--inbox",
        str(inbox),
        "--state",
        state,
        "--deliver",
        "stdout",
        "--format",
        "json",
    )
    assert code == 0 and "nothing new" in err
    empty = json.loads(out)  # a document for `| jq`, even with nothing new
    assert empty["papers"] == [] and empty["stats"]["new"] == 0


def test_stdout_json_contract(
    capsys: pytest.CaptureFixture[str], inbox: Path, seeds: list[Path]
) -> None:
    shutil.copy(seeds[3], inbox)
    (inbox / "bad.txt").write_bytes(b"\x00\x01\x02" * 100)
    code, out, _ = run(
        capsys, "now", "--inbox", str(inbox), "--deliver", "stdout", "--format", "json"
    )
    assert code == 1  # delivered, and a dump could not be read: as `check` says of it
    data = json.loads(out)
    assert len(data["papers"]) == 56
    assert data["rejected"] == [{"file": "bad.txt", "reason": "not a listing: binary content"}]
    assert data["stats"]["new"] == 56


def test_dry_run_writes_a_preview_and_changes_nothing(
    capsys: pytest.CaptureFixture[str], inbox: Path, seeds: list[Path], tmp_path: Path
) -> None:
    shutil.copy(seeds[0], inbox)
    state = tmp_path / "s.db"
    for _ in range(2):
        code, out, _ = run(
            capsys,
            "now",
            "--inbox",
            str(inbox),
            "--state",
            str(state),
            "--out",
            str(tmp_path / "o"),
            "--dry-run",
            "--format",
            "html",
        )
        assert code == 0
        preview = Path(out.strip())
        assert preview.name == "preview.html" and "<table" in preview.read_text()
    code, out, _ = run(capsys, "status", "--state", str(state))
    assert code == 0 and "papers seen: 0; awaiting delivery: 0; dumps ingested: 0" in out


def written(path: Path) -> None:
    """The file as written in March 2025: a text listing's "Mar 11" is then of 2025."""
    when = datetime(2025, 3, 20, 12, 0, tzinfo=UTC).timestamp()
    os.utime(path, (when, when))


def test_env_file_and_environment(
    capsys: pytest.CaptureFixture[str],
    inbox: Path,
    seeds: list[Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    shutil.copy(seeds[3], inbox)
    written(inbox / seeds[3].name)
    (tmp_path / ".env").write_text(f"DIGEST_INBOX={inbox}\nDIGEST_DELIVER=stdout\n")
    monkeypatch.setenv("DIGEST_FORMAT", "markdown")
    code, out, _ = run(capsys, "now", "--dry-run")  # ./.env is read by default
    assert code == 0 and out.startswith("# Daily papers: 56 new (Tue 11 Mar 2025)")


def test_check(capsys: pytest.CaptureFixture[str], seeds: list[Path], tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"")
    code, out, _ = run(capsys, "check", str(seeds[0]), str(bad), str(tmp_path / "missing.txt"))
    assert code == 1
    lines = out.splitlines()
    assert lines[0].endswith("text dump, utf-8, 63 papers, Jul 29")
    assert (
        lines[1] == "  - Prediction of speech intelligibility with DNN-based performance measures"
    )
    assert f"{bad}: cannot be read: file is empty" in lines
    assert any("missing.txt: cannot be read: No such file" in line for line in lines)


def test_expected_failures_are_one_line_without_traceback(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "now", "--inbox", str(tmp_path / "nowhere"))
    assert code == 1
    assert err.strip().count("\n") == 0 and "set DIGEST_INBOX or pass --inbox" in err
    assert "Traceback" not in err


def test_status_and_resend(
    capsys: pytest.CaptureFixture[str], inbox: Path, seeds: list[Path], tmp_path: Path
) -> None:
    shutil.copy(seeds[0], inbox)
    state, out_dir = str(tmp_path / "s.db"), tmp_path / "o"
    run(capsys, "now", "--inbox", str(inbox), "--state", state, "--out", str(out_dir))
    code, out, _ = run(capsys, "status", "--state", state)
    assert code == 0 and "papers seen: 63" in out and "sent: digest 1, 63 papers" in out
    shutil.rmtree(out_dir)
    code, _, _ = run(capsys, "resend", "1", "--state", state, "--out", str(out_dir))
    assert code == 0 and len(list(out_dir.glob("digest-*.html"))) == 1
    code, _, err = run(capsys, "resend", "9", "--state", state)
    assert code == 1 and "no digest 9" in err


def _digest(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_process_manners(tmp_path: Path) -> None:
    assert _digest("--version", cwd=tmp_path).stdout.startswith("digest ")
    for command in ("now", "check", "status", "resend", "fetch"):
        result = _digest(command, "--help", cwd=tmp_path)
        assert result.returncode == 0 and "Example:" in result.stdout, command
    usage = _digest("now", "--deliver", "pigeon", cwd=tmp_path)
    assert usage.returncode == 2 and "invalid choice" in usage.stderr
    assert _digest(cwd=tmp_path).returncode == 2


USAGE = "usage: digest [-h] [--version] COMMAND ...\n"


def test_usage_errors_and_help_name_every_command(tmp_path: Path) -> None:
    from digest.cli import COMMANDS

    unknown = _digest("nosuch", cwd=tmp_path)
    listed = ", ".join(f"'{name}'" for name in COMMANDS)
    assert (unknown.returncode, unknown.stderr) == (
        2,
        f"{USAGE}digest: error: argument COMMAND: invalid choice: 'nosuch'"
        f" (choose from {listed})\n",
    )
    bogus = _digest("now", "--bogus", cwd=tmp_path)
    assert (bogus.returncode, bogus.stderr) == (
        2,
        f"{USAGE}digest: error: unrecognized arguments: --bogus\n",
    )
    after = _digest("--verbose", "now", cwd=tmp_path)  # the command's options come after it
    assert (after.returncode, after.stderr) == (
        2,
        f"{USAGE}digest: error: unrecognized arguments: --verbose\n",
    )
    helped = _digest("--help", cwd=tmp_path)
    assert helped.returncode == 0
    commands = helped.stdout.split("commands:\n  COMMAND\n")[1].split("\n\n")[0]
    named = [line.split()[0] for line in commands.splitlines() if line[4] != " "]
    assert named == list(COMMANDS)
    now = _digest("now", "--help", cwd=tmp_path)
    assert now.returncode == 0 and now.stdout.startswith("usage: digest now [-h] [--env-file FILE]")


def _help(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("columns", ["80", "200"])
def test_help_lists_each_command_with_the_whole_first_paragraph_of_its_own_help(
    columns: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`digest --help` gives each command in whole sentences: what its own --help opens with."""
    from digest.cli import COMMANDS

    monkeypatch.setenv("COLUMNS", columns)
    listing = _help(capsys).split("commands:\n  COMMAND\n")[1].split("\n\n")[0]
    said: dict[str, str] = {}
    for line in listing.splitlines():
        if line[4] != " ":
            name, _, line = line.strip().partition(" ")
        said[name] = f"{said.get(name, '')} {line.strip()}".strip()
    assert list(said) == list(COMMANDS)
    for name, summary in said.items():
        description = _help(capsys, name).split("\n\n")[1]  # after the usage
        assert summary == " ".join(description.split()), name
        assert summary.endswith("."), name
        assert not description.startswith(" ") and "\n    " not in description, name


def test_a_command_is_one_declaration(capsys: pytest.CaptureFixture[str]) -> None:
    """Declared once, with its arguments and help: the parser, --help and dispatch follow."""
    import argparse

    from digest.command import COMMANDS, Arg, command

    def echo(args: argparse.Namespace) -> int:
        """Say the words back. Changes nothing.

        Example:
          digest echo hello there
        """
        print(("!" if args.loud else "").join(args.words))
        return 3

    command("echo", Arg("words", nargs="+"), Arg("--loud", action="store_true"))(echo)
    try:
        assert list(COMMANDS)[-1] == "echo"
        assert run(capsys, "echo", "a", "b", "--loud") == (3, "a!b\n", "")
        assert "  echo      Say the words back. Changes nothing.\n" in _help(capsys)
        own = _help(capsys, "echo")
        assert own.startswith("usage: digest echo [-h] [--env-file FILE] [--state FILE] [-v]")
        assert "Example:\n  digest echo hello there\n" in own
    finally:
        del COMMANDS["echo"]


@pytest.mark.parametrize("argv", [["--help"], ["--bogus"], ["--deliver", "pigeon"], []])
def test_each_command_alone_parses_as_among_all_the_others(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """A command named first gets a parser of its own only: the same help, errors and values."""
    from digest.cli import COMMANDS, build_parser

    for name in COMMANDS:
        said = []
        for parser in (build_parser(), build_parser(name)):
            try:
                parsed = vars(parser.parse_known_args([name, *argv])[0])
                code = None
            except SystemExit as e:
                parsed, code = {}, e.code
            said.append((code, parsed, capsys.readouterr()))
        assert said[0] == said[1], name


def test_a_run_with_nothing_to_read_does_not_load_the_heavy_parts(
    inbox: Path, tmp_path: Path
) -> None:
    """Cron pays start-up on every run: with nothing new, no matcher, templates or mail, nor
    typing (the deliverer protocol's)."""
    state = tmp_path / "s.db"
    code = (
        "import sys; from digest.cli import main; main(sys.argv[1:]);"
        " heavy = [m for m in ('numpy', 'rapidfuzz', 'jinja2', 'email.mime', 'css_inline',"
        " 'bs4', 'apscheduler', 'digest.identity', 'digest.render', 'httpx', 'digest.fetch',"
        " 'digest.formats', 'digest.interests', 'digest.service.service', 'asyncio', 'ssl',"
        " 'typing', 'digest.channels.base')"
        " if m in sys.modules];"
        " print(heavy)"
    )
    args = ["now", "--inbox", str(inbox), "--state", str(state), "-q"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    for _ in range(2):  # a new state file, then an existing one
        done = subprocess.run(
            [sys.executable, "-c", code, *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "[]"


REAL = Path(__file__).resolve().parent / "fixtures" / "real"


def _deep_files(folder: Path) -> list[Path]:
    files = {
        "deep.json": b"[" * 1_000 + b"]" * 1_000,
        "cut.json": b'[{"paper": {"id": "2501.00001", "title": "T"}}, ' + b'{"a": [' * 2_000,
        "deep.html": b'<html><div data-props="{&quot;dailyPapers&quot;: '
        + b"[" * 2_000
        + b'"></div></html>',
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return [folder / name for name in files]


@pytest.mark.slow
def test_deeply_nested_files_cost_only_themselves_in_check_ingest_and_now(
    inbox: Path, tmp_path: Path
) -> None:
    deep = _deep_files(inbox)
    good = REAL / "2025-03-18.json"
    shutil.copy(good, inbox)

    checked = _digest("check", *map(str, deep), str(good), cwd=tmp_path)
    assert checked.returncode == 1
    assert "Traceback" not in checked.stdout + checked.stderr
    lines = checked.stdout.splitlines()
    for path in deep:
        (line,) = [x for x in lines if x.startswith(f"{path}: cannot be read: ")]
        assert "levels deep, more than the 64 digest reads" in line
    assert f"{good}: json dump, utf-8, 17 papers, Tue 18 Mar 2025" in lines

    ingested = _digest(
        "ingest", "--state", str(tmp_path / "i.db"), *map(str, deep), str(good), cwd=tmp_path
    )
    assert "Traceback" not in ingested.stderr
    assert "17 papers recorded as seen from 1 files" in ingested.stderr
    assert ingested.stderr.count("levels deep") == 3

    now = _digest(
        "now", "--inbox", str(inbox), "--state", str(tmp_path / "n.db"),
        "--deliver", "stdout", "--format", "json", cwd=tmp_path,
    )  # fmt: skip
    assert now.returncode == 1 and "Traceback" not in now.stderr  # unreadable dumps: exit 1
    data = json.loads(now.stdout)
    assert data["stats"]["new"] == 17
    assert sorted(r["file"] for r in data["rejected"]) == ["cut.json", "deep.html", "deep.json"]
    assert all("levels deep" in r["reason"] for r in data["rejected"])


def test_check_names_each_item_it_skips(tmp_path: Path) -> None:
    items = json.loads((REAL / "2024-12-20.json").read_text())
    items[2] = "{'paper': {'id': '2412.00001', 'title': 'cut"
    items[5] = "{'paper': " + "[" * 100 + "]" * 100 + "}"
    dump = tmp_path / "strings.json"
    dump.write_text(json.dumps(items))
    ingested = _digest("ingest", "--state", str(tmp_path / "s.db"), str(dump), cwd=tmp_path)
    assert "strings.json: item 3: a string that is not a readable Python dict" in (ingested.stderr)
    checked = _digest("check", str(dump), cwd=tmp_path)
    assert checked.returncode == 0
    assert "14 papers" in checked.stdout
    assert "  warning: item 3: a string that is not a readable Python dict; skipped" in (
        checked.stdout.splitlines()
    )
    assert "  warning: item 6: a paper stored as a string nested 101 levels deep; skipped" in (
        checked.stdout.splitlines()
    )


def test_status_does_not_load_the_scheduler_or_mail(tmp_path: Path) -> None:
    """`digest status` reads the state file: no scheduler, event loop, mail or TLS."""
    state = tmp_path / "s.db"
    code = (
        "import sys; from digest.cli import main; main(sys.argv[1:]);"
        " heavy = [m for m in ('apscheduler', 'asyncio', 'email.message', 'ssl',"
        " 'digest.service.service', 'digest.formats', 'rapidfuzz') if m in sys.modules];"
        " print(heavy)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGEST_")}
    for _ in range(2):  # a new state file, then an existing one
        done = subprocess.run(
            [sys.executable, "-c", code, "status", "--state", str(state)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_subject_counts_every_new_paper_and_follows_the_setting(
    inbox: Path, seeds: list[Path], tmp_path: Path
) -> None:
    shutil.copy(seeds[3], inbox)
    written(inbox / seeds[3].name)
    env = clean_env(DIGEST_SUBJECT="Papers: {count} ({date})", DIGEST_MAX_PAPERS="5")
    done = subprocess.run(
        digest_now(inbox, tmp_path / "s.db", "--out", str(tmp_path / "o")),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    md = next((tmp_path / "o").glob("*.md")).read_text()
    eml = next((tmp_path / "o").glob("*.eml")).read_text()
    assert md.startswith("# Papers: 56 (Tue 11 Mar 2025)")  # "Mar 11", the file's year
    assert "Subject: Papers: 56 (Tue 11 Mar 2025)" in eml


ABSTRACT = "An abstract long enough to count as one, about safety and escaping. " * 4


HOSTILE_TITLES = [
    "<script>alert('x')</script><img src=x onerror=alert(1)> Attention",
    "{{ 7*7 }} and {% for x in range(3) %}loop{% endfor %} Templates",
    "# Heading? *bold* _em_ [click](javascript:alert(1)) ![i](http://x/i.png) | table |",
    "Bcc: victim@example.org\r\nSubject: injected",
    "Bidi \u202eevil\u202c override and \x1b[31mANSI\x1b[0m and \x07bell",
    "Emoji 🧠🔥 and right-to-left \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "Long " + "Transformer " * 400,
]


CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.handlers: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.handlers += [name for name, _ in attrs if name.startswith("on")]


def test_hostile_content_in_every_format_and_in_the_mail(
    inbox: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    blocks = "\n\n".join(f"{t}\n\n{ABSTRACT} {t}" for t in HOSTILE_TITLES)
    (inbox / "evil <b>name&lt;\x1b.txt").write_text("Daily Papers\n\n" + blocks + "\n")
    out = tmp_path / "out"
    with smtp_server() as server:
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("DIGEST_FROM", "Papers <papers@example.org>")
        monkeypatch.setenv("DIGEST_TO", "Ann <ann@example.org>")
        assert main(["now", "--inbox", str(inbox), "--state", str(tmp_path / "s.db")]) == 0
        monkeypatch.setenv("DIGEST_DELIVER", "files")
        assert (
            main(
                ["now", "--inbox", str(inbox), "--state", str(tmp_path / "f.db"), "--out", str(out)]
            )
            == 0
        )
    capsys.readouterr()
    [received] = server.received
    message = received.message
    assert received.recipients == ["ann@example.org"]  # no Bcc smuggled in
    assert message["Subject"] == "Daily papers: 7 new (" + message["Subject"].split("(")[1]
    assert message["Bcc"] is None and "injected" not in str(message["Subject"])
    for line in received.data.split(b"\r\n"):
        assert len(line) <= 78

    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert isinstance(html_part, EmailMessage) and isinstance(text_part, EmailMessage)
    files = {p.suffix: p.read_text() for p in out.iterdir()}
    for html in (html_part.get_content(), files[".html"]):
        parsed = Tags()
        parsed.feed(html)
        assert not {"script", "img"} & parsed.tags and parsed.handlers == []
        assert not re.search(r"""(href|src)\s*=\s*["']?\s*javascript""", html, re.I)
        assert "{{ 7*7 }} and {% for x in range(3) %}loop{% endfor %}" in html
        assert not CONTROL.search(html)
    for text in (text_part.get_content(), files[".txt"]):
        assert "{{ 7*7 }}" in text and not CONTROL.search(text)
    md = files[".md"]
    assert "{{ 7\\*7 }}" in md and not CONTROL.search(md)  # shows as {{ 7*7 }}
    assert "\\[click\\](javascript:alert(1))" in md and "&lt;script&gt;" in md
    assert not re.search(r"^#+ .*\[click\]\(", md, re.M)
    data = json.loads(files[".json"])
    assert {p["title"].split()[0] for p in data["papers"]} >= {"<script>alert('x')</script><img"}
    assert all(not CONTROL.search(p["title"]) for p in data["papers"])
    assert all(p["source"] == "evil <b>name&lt;\\x1b.txt" for p in data["papers"])
