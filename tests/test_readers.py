"""The readers file: readers read from real files, every mistake one line naming file, line, key."""

from __future__ import annotations

import datetime
import subprocess
import sys
from pathlib import Path

import pytest

from digest import config
from digest.config import Settings
from digest.errors import ConfigError
from digest.models import ReaderState
from digest.readers import (
    Reader,
    address_key,
    chosen,
    default_reader,
    effective,
    load,
    state_of,
)

ROOT = Path(__file__).resolve().parent.parent
KEYS = (
    "email, name, highlight, exclude, interests, order, max_papers, detail, min_score,"
    " schedule, timezone, format, paused, since, notify"
)

THREE = """\
# three readers
[[reader]]
email = "ann@example.org"
name = "Ann Lee"
highlight = ["diffusion", "video"]
exclude = ["survey"]
order = "upvotes"
max_papers = 30
schedule = "@weekly"
timezone = "Europe/Paris"
format = "text"
since = 2025-03-01

[[reader]]
email = "Bob@Example.org"
paused = true
notify = ["mailto://bob@example.org", "tgram://token/chat"]

[[reader]]
email = "carol@example.org"
interests = "graph neural networks"
max_papers = 0
"""


def write(tmp_path: Path, text: str, name: str = "readers.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_good_file_of_three_readers(tmp_path: Path) -> None:
    loaded = load(write(tmp_path, THREE))
    assert loaded.errors == ()
    assert loaded.readers == (
        Reader(
            email="ann@example.org",
            key="ann@example.org",
            line=2,
            name="Ann Lee",
            highlight="diffusion, video",
            exclude="survey",
            order="upvotes",
            max_papers=30,
            schedule="@weekly",
            timezone="Europe/Paris",
            format="text",
            since=datetime.date(2025, 3, 1),
        ),
        Reader(
            email="Bob@Example.org",
            key="bob@example.org",
            line=14,
            paused=True,
            notify=("mailto://bob@example.org", "tgram://token/chat"),
        ),
        Reader(
            email="carol@example.org",
            key="carol@example.org",
            line=19,
            interests="graph neural networks",
            max_papers=0,
        ),
    )
    assert str(loaded.readers[0].address()) == "Ann Lee <ann@example.org>"
    assert str(loaded.readers[1].address()) == "Bob@Example.org"


def test_a_bad_reader_costs_only_itself(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[reader]]\nemail = "ann@example.org"\n\n'
        '[[reader]]\nemail = "bob@example.org"\norder = "best"\n\n'
        '[[reader]]\nemail = "carol@example.org"\n',
    )
    loaded = load(path)
    assert [r.email for r in loaded.readers] == ["ann@example.org", "carol@example.org"]
    assert [r.line for r in loaded.readers] == [1, 8]
    assert loaded.errors == (
        f"{path}:6: reader 2 (bob@example.org): order: 'best' is not one of"
        " highlights, listing, upvotes, relevance",
    )


def test_a_second_reader_with_the_same_address_in_any_case_is_refused(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[reader]]\nemail = "ann@example.org"\n\n'
        '[[reader]]\nemail = "bob@example.org"\n\n'
        '[[reader]]\n# again\nemail = "ANN@Example.ORG"\nmax_papers = 3\n',
    )
    loaded = load(path)
    assert [r.key for r in loaded.readers] == ["ann@example.org", "bob@example.org"]
    assert loaded.readers[0].max_papers is None  # the first one stands
    assert loaded.errors == (
        f"{path}:9: reader 3 (ANN@Example.ORG): email: 'ANN@Example.ORG' is also the address of"
        " reader 1 (ann@example.org) at line 1; keep one [[reader]] table for them",
    )


def test_one_mailbox_written_two_ways_is_one_reader(tmp_path: Path) -> None:
    """An international domain as written and as IDNA (what mail is sent to) is one mailbox:
    the second table is refused by one line naming both."""
    path = write(
        tmp_path,
        '[[reader]]\nemail = "bob@exämple.org"\n\n'
        '[[reader]]\nemail = "ann@example.org"\n\n'
        '[[reader]]\nemail = "bob@xn--exmple-cua.org"\n\n'
        '[[reader]]\nemail = "Bob@EXÄMPLE.org."\n',
    )
    loaded = load(path)
    assert [(r.email, r.key) for r in loaded.readers] == [
        ("bob@exämple.org", "bob@xn--exmple-cua.org"),
        ("ann@example.org", "ann@example.org"),
    ]
    assert loaded.errors == (
        f"{path}:8: reader 3 (bob@xn--exmple-cua.org): email: 'bob@xn--exmple-cua.org' is also"
        " the address of reader 1 (bob@exämple.org) at line 1; keep one [[reader]] table for them",
        f"{path}:11: reader 4 (Bob@EXÄMPLE.org.): email: 'Bob@EXÄMPLE.org.' is also"
        " the address of reader 1 (bob@exämple.org) at line 1; keep one [[reader]] table for them",
    )


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("ann@example.org", "ann@example.org"),
        ("  Ann@Example.ORG ", "ann@example.org"),
        ("bob@exämple.org", "bob@xn--exmple-cua.org"),
        ("bob@EXÄMPLE.ORG", "bob@xn--exmple-cua.org"),
        ("bob@XN--EXMPLE-CUA.ORG", "bob@xn--exmple-cua.org"),
        ("bob@xn--exmple-cua.org.", "bob@xn--exmple-cua.org"),
        ("cy@straße.de", "cy@strasse.de"),  # IDNA 2003, as the mail is sent
        ("cy@bücher.例え.jp", "cy@xn--bcher-kva.xn--r8jz45g.jp"),
        ("", ""),
    ],
)
def test_an_address_has_one_normal_form(written: str, key: str) -> None:
    assert address_key(written) == key


def test_a_duplicate_of_a_bad_reader_is_still_a_duplicate(tmp_path: Path) -> None:
    # Which of the two was meant is not ours to guess: neither is taken.
    path = write(
        tmp_path,
        '[[reader]]\nemail = "ann@example.org"\norder = "best"\n'
        '[[reader]]\nemail = "ann@example.org"\n',
    )
    loaded = load(path)
    assert loaded.readers == ()
    assert [e.split(": ")[0] for e in loaded.errors] == [f"{path}:3", f"{path}:5"]
    assert "also the address of reader 1 (ann@example.org) at line 1" in loaded.errors[1]


@pytest.mark.parametrize(
    "since", ["since = 2025-03-01", 'since = "2025-03-01"', "since = 2025-03-01 # a comment"]
)
def test_since_is_a_toml_date_or_a_string(tmp_path: Path, since: str) -> None:
    loaded = load(write(tmp_path, f'[[reader]]\nemail = "ann@example.org"\n{since}\n'))
    assert loaded.errors == ()
    assert loaded.readers[0].since == datetime.date(2025, 3, 1)


def test_highlight_as_a_string_with_commas_is_the_same_as_an_array(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[reader]]\nemail = "ann@example.org"\nhighlight = "diffusion,video ,  RL"\n'
        'exclude = "survey, "\n'
        '[[reader]]\nemail = "bob@example.org"\nhighlight = ["diffusion", "video", "RL"]\n'
        'exclude = ["survey"]\n',
    )
    ann, bob = load(path).readers
    assert ann.highlight == bob.highlight == "diffusion, video, RL"
    assert ann.exclude == bob.exclude == "survey"
    settings = Settings()
    assert effective(ann, settings).signature() == effective(bob, settings).signature()


# Each rule: the lines of one reader (its header is line 1) and the one error it makes.
BAD = [
    ('naem = "Ann"', 3, "'naem' is not a known key; did you mean 'name'?"),
    ('"max papers" = 3', 3, "'max papers' is not a known key; did you mean 'max_papers'?"),
    ("colour = 1", 3, f"'colour' is not a known key; the keys are {KEYS}"),
    ("name = 3", 3, "name: expected a string, got a whole number"),
    ('name = "Ann\\nLee"', 3, "name: must be printable text on one line"),
    ("highlight = 3", 3, "highlight: expected a string or an array of strings, got a whole"),
    ('highlight = ["a", 1.5]', 3, "highlight: expected a string or an array of strings, got an"),
    ("highlight = [\"diffusion\", '(unclosed']", 3, "highlight: '(unclosed' is not a valid"),
    ('exclude = "survey, a*"', 3, "exclude: 'a*' matches empty text, so it would match anything"),
    (
        "interests = { a = 1 }",
        3,
        "interests: expected a string or an array of strings, got a table",
    ),
    ('order = "best"', 3, "order: 'best' is not one of highlights, listing, upvotes"),
    ("order = true", 3, "order: expected a string, got true/false"),
    ("max_papers = -1", 3, "max_papers: -1 is out of range: use 0 to 1,000,000 papers"),
    ("max_papers = 1_000_001", 3, "max_papers: 1000001 is out of range"),
    ('max_papers = "30"', 3, "max_papers: expected a whole number, got a string"),
    ("max_papers = true", 3, "max_papers: expected a whole number, got true/false"),
    ("max_papers = 3.0", 3, "max_papers: expected a whole number, got a number"),
    ('schedule = "@fortnightly"', 3, "schedule: '@fortnightly' is not a schedule; use a crontab"),
    ('schedule = "every 0m"', 3, "schedule: 'every 0m': write `every N` with a unit s, m or h"),
    ('schedule = "0 25 * * *"', 3, "schedule"),
    # A reader's digest comes at most once an hour, however the schedule is written.
    ('schedule = "every 1s"', 3, "schedule: 'every 1s' comes too often: a reader's digest"),
    ('schedule = "every 59m"', 3, "schedule: 'every 59m' comes too often"),
    ('schedule = "* * * * *"', 3, "schedule: '* * * * *' comes too often"),
    ('schedule = "0,30 7 * * *"', 3, "schedule: '0,30 7 * * *' comes too often"),
    ('timezone = "Mars/Olympus"', 3, "timezone: 'Mars/Olympus' is not a known time zone"),
    ('timezone = ""', 3, "timezone: '' is not a known time zone"),
    ('format = "pdf"', 3, "format: 'pdf' is not one of html, text"),
    ('detail = "long"', 3, "detail: 'long' is not one of compact, full"),
    ('paused = "no"', 3, "paused: expected true or false, got a string"),
    ("since = 2025-03-01T07:00:00", 3, "since: expected a date like 2025-03-01, got a date and"),
    ("since = 07:00:00", 3, "since: expected a date like 2025-03-01, got a time"),
    ('since = "2025-02-30"', 3, "since: '2025-02-30' is not a date; write YYYY-MM-DD"),
    ('since = "1st March"', 3, "since: expected a date like 2025-03-01, got '1st March'"),
    ('notify = "mailto:ann"', 3, "notify: 'mailto:ann' is not a notification URL"),
    ('notify = ["", "tgram://t/c"]', 3, "notify: '' is not a notification URL"),
    ('notify = ["://x"]', 3, "notify: '://x' is not a notification URL"),
    ("notify = [1]", 3, "notify: expected a string or an array of strings, got an array"),
]


@pytest.mark.parametrize(("lines", "line", "why"), BAD)
def test_each_mistake_is_one_line_naming_the_file_line_reader_and_key(
    tmp_path: Path, lines: str, line: int, why: str
) -> None:
    path = write(tmp_path, f'[[reader]]\nemail = "ann@example.org"\n{lines}\n')
    loaded = load(path)
    assert loaded.readers == ()
    assert len(loaded.errors) == 1
    assert loaded.errors[0].startswith(f"{path}:{line}: reader 1 (ann@example.org): {why}")
    assert "\n" not in loaded.errors[0]


@pytest.mark.parametrize(
    ("email", "why"),
    [
        ('"ann"', "email: 'ann' is not an email address; write name@example.org"),
        ('"Ann <ann@example.org>"', "email: 'Ann <ann@example.org>' is not an email address"),
        ('"ann@example.org, bob@example.org"', "holds 2 addresses; give each its own [[reader]]"),
        ('"ann@exa mple.org"', "email: 'ann@exa mple.org' is not an email address"),
        ('"ann@example.org (Ann)"', "email: 'ann@example.org (Ann)' is not an email address"),
        ('"\\"ann\\"@example.org"', "is not an email address"),
        ('""', "email: '' is not an email address"),
        ('["ann@example.org"]', "email: expected a string, got an array"),
    ],
)
def test_a_bad_email_is_refused(tmp_path: Path, email: str, why: str) -> None:
    path = write(tmp_path, f'[[reader]]\nname = "Ann"\nemail = {email}\n')
    loaded = load(path)
    assert loaded.readers == ()
    assert len(loaded.errors) == 1
    assert loaded.errors[0].startswith(f"{path}:3: reader 1")
    assert why in loaded.errors[0]


def test_a_reader_without_email_is_named_at_its_header(tmp_path: Path) -> None:
    path = write(tmp_path, '[[reader]]\nemail = "ann@example.org"\n\n[[reader]]\nname = "Bob"\n')
    loaded = load(path)
    assert [r.email for r in loaded.readers] == ["ann@example.org"]
    assert loaded.errors == (f'{path}:4: reader 2: email: missing; add email = "name@example.org"',)


def test_every_mistake_of_one_reader_is_named(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[reader]]\nemail = "ann@example.org"\norder = "best"\nformat = "pdf"\nfoo = 1\n',
    )
    assert [e.split(": ", 3)[0] + " " + e.split(": ", 3)[2] for e in load(path).errors] == [
        f"{path}:3 order",
        f"{path}:4 format",
        f"{path}:5 'foo' is not a known key; the keys are {KEYS}",
    ]


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ('title = "Our list"\n', "1: 'title' is not allowed at the top level; the file holds"),
        ("[settings]\nx = 1\n", "1: 'settings' is not allowed at the top level"),
        (
            '[[readers]]\nemail = "b@example.org"\n',
            "1: 'readers' is not allowed at the top level;"
            " the file holds only [[reader]] tables; did you mean [[reader]]?",
        ),
        (
            '[reader]\nemail = "b@example.org"\n',
            "1: reader: write each reader as a [[reader]] table",
        ),
        ('reader = "b@example.org"\n', "1: reader: write each reader as a [[reader]] table"),
        ("reader = [1]\n", "1: reader 1: expected a table, got a whole number"),
    ],
)
def test_the_top_level_holds_only_reader_tables(tmp_path: Path, text: str, why: str) -> None:
    path = write(tmp_path, text)
    loaded = load(path)
    assert loaded.readers == ()
    assert len(loaded.errors) == 1
    assert loaded.errors[0].startswith(f"{path}:{why}")


def test_the_top_level_mistake_does_not_cost_the_readers(tmp_path: Path) -> None:
    path = write(tmp_path, 'version = 2\n\n[[reader]]\nemail = "ann@example.org"\n[extra]\n')
    loaded = load(path)
    assert [r.line for r in loaded.readers] == [3]
    assert [e.split(": ")[0] for e in loaded.errors] == [f"{path}:1", f"{path}:5"]


def test_readers_as_an_inline_array_are_named_at_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '# inline\nreader = [\n  { email = "ann@example.org" },\n  { email = "bob" },\n]\n',
    )
    loaded = load(path)
    assert [r.email for r in loaded.readers] == ["ann@example.org"]
    assert loaded.readers[0].line == 2
    assert loaded.errors == (
        f"{path}:2: reader 2 (bob): email: 'bob' is not an email address; write"
        " name@example.org (and the name in name = ...)",
    )


# Everything that can make a line mean something else than it looks: strings holding [[reader]]
# and `key =`, brackets in comments and strings, arrays and strings over several lines, quoted
# and dotted keys, sub-tables, CRLF line ends.
TRICKY = """\
# [[reader]] in a comment
[[reader]] # ann
email = "ann@example.org" # order = "x"
name = "O'Brien [x]"
highlight = [ # ] a bracket in a comment
  "diffu]sion", # "
  '''video
[[reader]]
''',
  "a\\"]b", [
  ]
]
interests = \"\"\"
order = "best"
[[reader]]
email = "x@example.org"
\"\"\"
  "order" = "best"

[[ "reader" ]]
email = "bob@example.org"
exclude.x = "survey"
'hightlight' = { a = "}[", b = [1, 2] }
max_papers = [
  1,
  2,
]

[[reader]]
email = "carol@example.org"
[reader.extra]
order = "best"
[[reader]]
email = "dan@example.org"
"""


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_lines_are_found_in_a_tricky_file(tmp_path: Path, newline: str) -> None:
    path = tmp_path / "readers.toml"
    path.write_bytes(TRICKY.replace("\n", newline).encode())
    loaded = load(path)
    assert [(r.email, r.line) for r in loaded.readers] == [("dan@example.org", 33)]
    assert [e.removeprefix(f"{path}:") for e in loaded.errors] == [
        "5: reader 1 (ann@example.org): highlight: expected a string or an array of strings,"
        " got an array holding an array",
        "18: reader 1 (ann@example.org): order: 'best' is not one of highlights, listing,"
        " upvotes, relevance",
        "22: reader 2 (bob@example.org): exclude: expected a string or an array of strings,"
        " got a table",
        "23: reader 2 (bob@example.org): 'hightlight' is not a known key; did you mean"
        " 'highlight'?",
        "24: reader 2 (bob@example.org): max_papers: expected a whole number, got an array",
        f"31: reader 3 (carol@example.org): 'extra' is not a known key; the keys are {KEYS}",
    ]


def test_text_in_errors_is_printable(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[reader]]\nemail = "ann\u202e@example.org"\n'
        '[[reader]]\nemail = "bob@example.org"\n"x\\u001b[2J" = 1\n',
        "r\u202eeaders.toml",
    )
    loaded = load(path)
    assert loaded.readers == ()
    assert len(loaded.errors) == 2
    for error in loaded.errors:
        assert "\u202e" not in error and "\x1b" not in error
    assert loaded.errors[0].startswith(f"{tmp_path}/r\\u202eeaders.toml:2: reader 1 (ann")
    assert r"ann\u202e@example.org" in loaded.errors[0]
    assert r"'x\x1b[2J' is not a known key" in loaded.errors[1]


def test_a_file_that_is_not_toml_is_refused_naming_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[[reader]]\nemail = "ann@example.org"\nname = Ann\n')
    with pytest.raises(ConfigError) as e:
        load(path)
    assert str(e.value).startswith(f"{path}:3: not valid TOML: Invalid value at column 8;")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda p: None, "cannot read the readers file {}: No such file or directory"),
        (lambda p: p.mkdir(), "cannot read the readers file {}: Is a directory"),
        (
            lambda p: p.write_bytes(b'[[reader]]\nname = "\xe9"\n'),
            "readers file {} is not UTF-8 text (byte 20)",
        ),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_naming_it(
    tmp_path: Path, make: object, why: str
) -> None:
    path = tmp_path / "readers.toml"
    make(path)  # type: ignore[operator]
    with pytest.raises(ConfigError) as e:
        load(path)
    assert str(e.value).startswith(why.format(path))


def test_an_empty_file_has_no_readers_and_no_errors(tmp_path: Path) -> None:
    loaded = load(write(tmp_path, "# nobody yet\n"))
    assert (loaded.readers, loaded.errors) == ((), ())


def test_the_example_file_loads(tmp_path: Path) -> None:
    loaded = load(ROOT / "readers.example.toml")
    assert loaded.errors == ()
    assert [r.email for r in loaded.readers] == [
        "ann@example.org",
        "bob@example.org",
        "carol@example.org",
    ]


def test_the_default_reader_is_digest_to_with_the_settings(tmp_path: Path) -> None:
    settings = config.load(
        {},
        {
            "DIGEST_TO": "Ann <ann@example.org>, bob@example.org",
            "DIGEST_HIGHLIGHT": "diffusion,video",
            "DIGEST_EXCLUDE": "survey",
            "DIGEST_ORDER": "upvotes",
            "DIGEST_MAX_PAPERS": "12",
            "DIGEST_SCHEDULE": "@weekly",
            "DIGEST_TIMEZONE": "Asia/Tokyo",
            "DIGEST_DELIVER": "files",
        },
    )
    reader = default_reader(settings)
    assert (reader.key, reader.email) == ("", "Ann <ann@example.org>, bob@example.org")
    assert str(reader.address()) == "Ann <ann@example.org>"
    resolved = effective(reader, settings)
    assert (
        resolved.highlight,
        resolved.exclude,
        resolved.interests,
        resolved.order,
        resolved.max_papers,
        resolved.schedule,
        resolved.timezone,
        resolved.format,
        resolved.paused,
    ) == ("diffusion, video", "survey", "", "upvotes", 12, "@weekly", "Asia/Tokyo", "html", False)


def test_the_default_reader_without_digest_to_has_no_address() -> None:
    with pytest.raises(ConfigError, match=r"^the reader has no address; set DIGEST_TO or"):
        default_reader(Settings()).address()


def test_a_reader_s_own_values_win_and_the_rest_fall_back(tmp_path: Path) -> None:
    settings = Settings(
        highlight="diffusion", exclude="survey", order="upvotes", max_papers=12, timezone="UTC"
    )
    path = write(
        tmp_path,
        '[[reader]]\nemail = "ann@example.org"\nhighlight = []\nmax_papers = 0\n'
        'schedule = "every 6h"\n'
        '[[reader]]\nemail = "bob@example.org"\norder = "listing"\ntimezone = "Europe/Paris"\n',
    )
    ann, bob = (effective(r, settings) for r in load(path).readers)
    # An empty array and 0 are values of their own, not "not given".
    assert (ann.highlight, ann.exclude, ann.order, ann.max_papers) == ("", "survey", "upvotes", 0)
    assert (ann.schedule, ann.timezone) == ("every 6h", "UTC")
    assert (bob.highlight, bob.order, bob.max_papers) == ("diffusion", "listing", 12)
    assert (bob.schedule, bob.timezone) == (Settings().schedule, "Europe/Paris")
    assert ann.signature() != bob.signature()


def test_the_signature_follows_what_the_digest_looks_like(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[reader]]\nemail = "a@example.org"\nschedule = "@weekly"\ntimezone = "UTC"\n'
        '[[reader]]\nemail = "b@example.org"\npaused = true\n'
        '[[reader]]\nemail = "c@example.org"\nformat = "text"\n'
        '[[reader]]\nemail = "d@example.org"\nmax_papers = 5\n',
    )
    a, b, c, d = (effective(r, Settings()).signature() for r in load(path).readers)
    assert a == b  # schedules and pausing change when, not what
    assert len({a, c, d}) == 3


def test_settings_name_the_readers_file(tmp_path: Path) -> None:
    settings = config.load({}, {"DIGEST_READERS": "~/lists/readers.toml"})
    assert settings.readers == Path("~/lists/readers.toml").expanduser()
    assert config.load({}, {"DIGEST_READERS": ""}).readers is None
    assert Settings().readers is None


@pytest.mark.slow
def test_ten_thousand_readers_load(tmp_path: Path) -> None:
    orders = ("highlights", "listing", "upvotes")
    blocks = [
        f'[[reader]]\nemail = "reader{i}@example.org"\nname = "Reader {i}"\n'
        f'highlight = ["term{i % 50}", "diffusion"]\nexclude = "survey{i % 7}"\n'
        f'order = "{orders[i % 3]}"\nmax_papers = {i % 40}\n'
        f'schedule = "{"@weekly" if i % 10 == 0 else "0 7 * * *"}"\ntimezone = "Europe/Paris"\n'
        f'format = "{"text" if i % 4 == 0 else "html"}"\nsince = 2025-03-01\n'
        for i in range(10_000)
    ]
    blocks.append('[[reader]]\nemail = "last@example.org"\norder = "best"\n')
    path = write(tmp_path, "\n".join(blocks))
    loaded = load(path)
    assert len(loaded.readers) == 10_000
    assert loaded.readers[-1].line == 12 * 9_999 + 1
    assert loaded.errors == (
        f"{path}:{12 * 10_000 + 3}: reader 10001 (last@example.org): order: 'best' is not one"
        " of highlights, listing, upvotes, relevance",
    )


def test_reading_a_file_without_schedules_leaves_the_scheduler_unloaded(tmp_path: Path) -> None:
    path = write(tmp_path, '[[reader]]\nemail = "ann@example.org"\nhighlight = "x"\n')
    code = (
        "import sys; from pathlib import Path; from digest.readers import load;"
        f" assert len(load(Path({str(path)!r})).readers) == 1;"
        " assert 'apscheduler' not in sys.modules, 'apscheduler loaded'"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


def test_each_table_left_out_is_one_line_and_its_reader_keeps_their_place(tmp_path: Path) -> None:
    """For a run: one line a table left out (however many mistakes it has), saying what
    becomes of the reader; those whose address could be read are waiting, with their since."""
    path = write(
        tmp_path,
        'colour = "blue"\n'
        '[[reader]]\nemail = "ann@example.org"\n'
        '[[reader]]\nemail = "bob@example.org"\norder = "best"\nformat = "pdf"\n'
        "since = 2025-03-01\n"
        '[[reader]]\nname = "Cy"\n'
        '[[reader]]\nemail = "dee@example.org"\nsince = "yesterday"\n'
        '[[reader]]\nemail = "Bob@Example.org"\n',
    )
    loaded = load(path)
    assert [r.email for r in loaded.readers] == ["ann@example.org"]
    check = f"(`digest readers check {path}` lists every mistake)"
    assert [r.text for r in loaded.rejected] == [
        f"{path}:1: 'colour' is not allowed at the top level; the file holds only [[reader]]"
        " tables; it is ignored",
        f"{path}:6: reader 2 (bob@example.org): order: 'best' is not one of highlights, listing,"
        " upvotes, relevance (and 1 more mistake); this reader gets nothing until it is fixed,"
        f" and misses nothing {check}",
        f'{path}:9: reader 3: email: missing; add email = "name@example.org"; this reader is'
        f" left out {check}",
        f"{path}:13: reader 4 (dee@example.org): since: expected a date like 2025-03-01, got"
        f" 'yesterday'; this reader is left out {check}",
        f"{path}:15: reader 5 (Bob@Example.org): email: 'Bob@Example.org' is also the address of"
        f" reader 2 (bob@example.org) at line 4; keep one [[reader]] table for them; this"
        f" reader is left out {check}",
    ]
    assert len(loaded.errors) == 6  # every mistake, for `digest readers check`
    # Bob's address could be read: he keeps his place from his since. Dee's since could not:
    # once it can, it says where she starts.
    assert loaded.waiting() == {"bob@example.org": datetime.date(2025, 3, 1)}


def _state(n: int, email: str, upto: int = 0, **prefs: object) -> ReaderState:
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    return ReaderState(n, address_key(email), upto, when, prefs=prefs)


def test_readers_named_on_the_command_line_are_taken_from_the_file(tmp_path: Path) -> None:
    loaded = load(write(tmp_path, THREE))
    settings = Settings(readers=tmp_path / "readers.toml")
    taken, paused = chosen(loaded, ["CAROL@example.org", "bob@example.org"], settings, "r.toml")
    assert [r.email for r in taken] == ["carol@example.org"]
    assert paused == ["bob@example.org"]  # as written
    with pytest.raises(ConfigError) as caught:
        chosen(loaded, ["ann@example.org", "dan@example.org"], settings, "r.toml")
    assert str(caught.value) == "--reader dan@example.org: no such reader in r.toml"


def test_a_reader_of_the_state_is_found_however_their_address_is_written() -> None:
    states = [_state(1, ""), _state(2, "ann@example.org"), _state(3, "bob@bücher.example")]
    assert state_of(states, "") is states[0]  # the reader of DIGEST_TO
    assert state_of(states, "Ann@Example.ORG") is states[1]
    assert state_of(states, "bob@xn--bcher-kva.example.") is states[2]
    assert state_of(states, "carol@example.org") is None
