"""The readers file key by key: each key's bounds and the whole line its mistakes make, what a
reader takes from the DIGEST_* settings, what tells two digests apart, one reader for every
spelling of an address, and what `digest readers check` counts."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from digest import config
from digest.errors import ConfigError
from digest.models import ReaderState
from digest.readers import (
    Reader,
    Resolved,
    address_key,
    checked,
    default_reader,
    effective,
    listed,
    load,
    respelled,
)

HEADER = '[[reader]]\nemail = "ann@example.org"\n'
LABEL = "reader 1 (ann@example.org)"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "readers.toml"
    path.write_text(text, encoding="utf-8")
    return path


def one(tmp_path: Path, line: str) -> tuple[Reader | None, tuple[str, ...], Path]:
    """A file of one reader, Ann, with `line` as its third line."""
    path = write(tmp_path, f"{HEADER}{line}\n")
    loaded = load(path)
    return (loaded.readers[0] if loaded.readers else None), loaded.errors, path


# Each key at its bounds: a value taken as what, or refused with exactly what line.
TAKEN = [
    ("max_papers = 0", "max_papers", 0),
    ("max_papers = 1", "max_papers", 1),
    ("max_papers = 1_000_000", "max_papers", 1_000_000),
    ('name = "Ann Lee-O\'Brien"', "name", "Ann Lee-O'Brien"),
    ('name = ""', "name", ""),
    ('highlight = "a,b ,, c"', "highlight", "a, b, c"),
    ('highlight = ["a", " b ", ""]', "highlight", "a, b"),
    ("highlight = []", "highlight", ""),
    ('exclude = "survey"', "exclude", "survey"),
    ('interests = "  robots that grasp  "', "interests", "robots that grasp"),
    ('interests = ["robots ", "", "  ", "speech, audio"]', "interests", "robots, speech, audio"),
    ('interests = ""', "interests", ""),
    ("interests = []", "interests", ""),
    ('order = "relevance"', "order", "relevance"),
    ('order = "listing"', "order", "listing"),
    ('format = "text"', "format", "text"),
    ('schedule = "every 1h"', "schedule", "every 1h"),
    ('schedule = "every 60m"', "schedule", "every 60m"),
    ('schedule = "30 6 * * 1-5"', "schedule", "30 6 * * 1-5"),
    ('timezone = "UTC"', "timezone", "UTC"),
    ('timezone = "America/Argentina/Buenos_Aires"', "timezone", "America/Argentina/Buenos_Aires"),
    ("paused = false", "paused", False),
    ("since = 2024-02-29", "since", datetime.date(2024, 2, 29)),
    ('since = "2024-02-29"', "since", datetime.date(2024, 2, 29)),
    ('notify = "tgram://t/c"', "notify", ("tgram://t/c",)),
    ('notify = ["a://b", "mailto://c@example.org"]', "notify", ("a://b", "mailto://c@example.org")),
    ("notify = []", "notify", ()),
]


@pytest.mark.parametrize(("line", "key", "value"), TAKEN)
def test_each_key_takes_its_values_up_to_its_bounds(
    tmp_path: Path, line: str, key: str, value: object
) -> None:
    reader, errors, _ = one(tmp_path, line)
    assert errors == ()
    assert reader is not None and getattr(reader, key) == value


REFUSED = [
    ("max_papers = -1", "max_papers: -1 is out of range: use 0 to 1,000,000 papers"),
    ("max_papers = 1_000_001", "max_papers: 1000001 is out of range: use 0 to 1,000,000 papers"),
    ("max_papers = 1.5", "max_papers: expected a whole number, got a number"),
    ("max_papers = false", "max_papers: expected a whole number, got true/false"),
    ("name = []", "name: expected a string, got an array"),
    ('name = "Ann\\u0007"', "name: must be printable text on one line"),
    ("highlight = {}", "highlight: expected a string or an array of strings, got a table"),
    (
        'highlight = ["a", 2024-01-01]',
        "highlight: expected a string or an array of strings, got an array holding a date",
    ),
    ("interests = 3", "interests: expected a string or an array of strings, got a whole number"),
    ('order = "Listing"', "order: 'Listing' is not one of highlights, listing, upvotes, relevance"),
    ('order = ""', "order: '' is not one of highlights, listing, upvotes, relevance"),
    ('format = "markdown"', "format: 'markdown' is not one of html, text"),
    ("format = 1", "format: expected a string, got a whole number"),
    ("schedule = 7", "schedule: expected a string, got a whole number"),
    ("timezone = 1", "timezone: expected a string, got a whole number"),
    (
        'timezone = "utc/paris"',
        "timezone: 'utc/paris' is not a known time zone; use an IANA name such as Europe/Paris"
        " or UTC, or leave it out for DIGEST_TIMEZONE",
    ),
    ("paused = 1", "paused: expected true or false, got a whole number"),
    ('since = "2023-02-29"', "since: '2023-02-29' is not a date; write YYYY-MM-DD"),
    ('since = "2025-3-1"', "since: expected a date like 2025-03-01, got '2025-3-1'"),
    ("since = 20250301", "since: expected a date like 2025-03-01, got a whole number"),
    (
        'notify = "tgram:/t"',
        "notify: 'tgram:/t' is not a notification URL like tgram://token/chat",
    ),
    (
        'notify = ["a://b", "://c"]',
        "notify: '://c' is not a notification URL like tgram://token/chat",
    ),
    (
        "notify = [true]",
        "notify: expected a string or an array of strings, got an array holding true/false",
    ),
]


@pytest.mark.parametrize(("line", "why"), REFUSED)
def test_each_key_refuses_past_its_bounds_with_one_whole_line(
    tmp_path: Path, line: str, why: str
) -> None:
    reader, errors, path = one(tmp_path, line)
    assert reader is None
    assert errors == (f"{path}:3: {LABEL}: {why}",)


@pytest.mark.parametrize(
    ("email", "why"),
    [
        (
            "ann@example.org, bob@example.org",
            "'ann@example.org, bob@example.org' holds 2 addresses; give each its own [[reader]]",
        ),
        (
            "a@example.org, b@example.org, c@example.org",
            "'a@example.org, b@example.org, c@example.org' holds 3 addresses; give each its own"
            " [[reader]]",
        ),
        (
            "Ann <ann@example.org>",
            "'Ann <ann@example.org>' is not an email address; write name@example.org (and the"
            " name in name = ...)",
        ),
        (
            "ann@localhost",
            "'ann@localhost' is not an email address; write name@example.org (and the name in"
            " name = ...)",
        ),
    ],
)
def test_an_email_is_one_plain_address(tmp_path: Path, email: str, why: str) -> None:
    path = write(tmp_path, f'[[reader]]\nemail = "{email}"\n')
    loaded = load(path)
    label = f"reader 1 ({email})"
    assert loaded.errors == (f"{path}:2: {label}: email: {why}",)


def test_an_email_is_kept_as_written_and_known_by_its_key(tmp_path: Path) -> None:
    (reader,) = load(write(tmp_path, '[[reader]]\nemail = "  Ann@EXAMPLE.org  "\n')).readers
    assert (reader.email, reader.key) == ("Ann@EXAMPLE.org", "ann@example.org")


# -- what a reader takes from the settings -------------------------------------------------------

ENVIRONMENT = {
    "DIGEST_HIGHLIGHT": "diffusion , video",
    "DIGEST_EXCLUDE": "survey",
    "DIGEST_INTERESTS": "robots that grasp",
    "DIGEST_ORDER": "upvotes",
    "DIGEST_MAX_PAPERS": "12",
    "DIGEST_SCHEDULE": "@weekly",
    "DIGEST_TIMEZONE": "Asia/Tokyo",
    "DIGEST_MIN_SCORE": "0.25",
    "DIGEST_FORMAT": "markdown",
}

# A reader's own value for each key, and what the key resolves to for a reader who has none.
OWN = [
    ("highlight", 'highlight = "speech,  audio"', "speech, audio", "diffusion, video"),
    ("highlight", "highlight = []", "", "diffusion, video"),
    ("exclude", 'exclude = ["benchmark"]', "benchmark", "survey"),
    ("exclude", 'exclude = ""', "", "survey"),
    ("interests", 'interests = "speech"', "speech", "robots that grasp"),
    ("interests", 'interests = ""', "", "robots that grasp"),
    ("order", 'order = "listing"', "listing", "upvotes"),
    ("max_papers", "max_papers = 3", 3, 12),
    ("max_papers", "max_papers = 0", 0, 12),
    ("schedule", 'schedule = "every 6h"', "every 6h", "@weekly"),
    ("timezone", 'timezone = "Europe/Paris"', "Europe/Paris", "Asia/Tokyo"),
    # The file's format is the reader's: html unless they say text, whatever DIGEST_FORMAT.
    ("format", 'format = "text"', "text", "html"),
    ("paused", "paused = true", True, False),
]


@pytest.mark.parametrize(("key", "line", "own", "usual"), OWN)
def test_a_reader_s_own_value_wins_and_without_one_the_setting_applies(
    tmp_path: Path, key: str, line: str, own: object, usual: object
) -> None:
    settings = config.load({}, ENVIRONMENT, delivering=False)
    path = write(tmp_path, f'{HEADER}{line}\n[[reader]]\nemail = "bob@example.org"\n')
    ann, bob = load(path).readers
    assert getattr(effective(ann, settings), key) == own
    assert getattr(effective(bob, settings), key) == usual
    # Every reader takes the minimum score of the settings.
    assert effective(ann, settings).min_score == effective(bob, settings).min_score == 0.25


def test_without_settings_a_reader_takes_the_defaults(tmp_path: Path) -> None:
    (ann,) = load(write(tmp_path, HEADER)).readers
    assert effective(ann, config.load({}, {}, delivering=False)) == Resolved(
        highlight="",
        exclude="",
        interests="",
        order="",
        max_papers=0,
        schedule="0 7 * * *",
        timezone=None,
        format="html",
        paused=False,
        min_score=0.0,
    )


@pytest.mark.parametrize(
    ("line", "differs"),
    [
        ('highlight = "speech"', True),
        ('exclude = "speech"', True),
        ('interests = "speech"', True),
        ('order = "listing"', True),
        ("max_papers = 3", True),
        ('format = "text"', True),
        # When and whether, not what: one rendering serves both.
        ('schedule = "@weekly"', False),
        ('timezone = "Europe/Paris"', False),
        ("paused = true", False),
        ('name = "Ann"', False),
        ("since = 2025-01-01", False),
        ('notify = "tgram://t/c"', False),
        # The same values written another way.
        ('highlight = " diffusion,video "', False),
    ],
)
def test_the_signature_changes_with_what_the_digest_shows(
    tmp_path: Path, line: str, differs: bool
) -> None:
    settings = config.load({}, {"DIGEST_HIGHLIGHT": "diffusion, video"}, delivering=False)
    path = write(tmp_path, f'{HEADER}{line}\n[[reader]]\nemail = "bob@example.org"\n')
    ann, bob = (effective(r, settings).signature() for r in load(path).readers)
    assert (ann != bob) is differs


def test_the_minimum_score_tells_digests_apart() -> None:
    reader = Reader("ann@example.org", "ann@example.org")
    low = effective(reader, config.load({}, {"DIGEST_MIN_SCORE": "0.1"}, delivering=False))
    high = effective(reader, config.load({}, {"DIGEST_MIN_SCORE": "0.2"}, delivering=False))
    assert (low.min_score, high.min_score) == (0.1, 0.2)
    assert low.signature() != high.signature()


def test_a_reader_s_name_is_their_display_name() -> None:
    settings = config.load({}, {"DIGEST_TO": "Ann <ann@example.org>"}, delivering=False)
    assert str(default_reader(settings).address()) == "Ann <ann@example.org>"
    named = Reader("Ann <ann@example.org>", "ann@example.org", name="Ann Lee")
    assert str(named.address()) == "Ann Lee <ann@example.org>"


# -- the readers waiting for their table to be fixed ----------------------------------------------


def test_a_table_left_out_keeps_its_reader_waiting_from_when_it_joins(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '[[reader]]\nemail = "ann@example.org"\norder = "best"\n'
        '[[reader]]\nemail = "bob@example.org"\nformat = "pdf"\nsince = 2025-03-01\n'
        '[[reader]]\nemail = "cy@example.org"\nsince = "soon"\n',
    )
    loaded = load(path)
    assert loaded.readers == ()
    assert loaded.waiting() == {
        "ann@example.org": None,
        "bob@example.org": datetime.date(2025, 3, 1),
    }
    assert [r.key for r in loaded.rejected] == ["ann@example.org", "bob@example.org", None]


# -- what `digest readers check` says --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "0 readers ok (0 paused), 0 with errors"),
        (HEADER, "1 reader ok (0 paused), 0 with errors"),
        (f"{HEADER}paused = true\n", "1 reader ok (1 paused), 0 with errors"),
        (
            f'{HEADER}paused = true\n[[reader]]\nemail = "b@example.org"\n'
            '[[reader]]\nemail = "c@example.org"\npaused = false\n'
            '[[reader]]\nemail = "d@example.org"\norder = "x"\nformat = "y"\n',
            "3 readers ok (1 paused), 1 with errors",
        ),
        (
            f'a = 1\nb = 2\n{HEADER}order = "x"\n',
            "0 readers ok (0 paused), 1 with errors, and 2 mistakes outside the [[reader]] tables",
        ),
        (
            f"a = 1\n{HEADER}",
            "1 reader ok (0 paused), 0 with errors, and 1 mistake outside the [[reader]] tables",
        ),
    ],
)
def test_check_counts_readers_paused_and_tables_with_errors(
    tmp_path: Path, text: str, said: str
) -> None:
    assert checked(load(write(tmp_path, text))) == said


def test_a_table_with_one_mistake_says_so_and_with_more_counts_them(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f'{HEADER}order = "x"\n[[reader]]\nemail = "b@example.org"\norder = "x"\nformat = "y"\n'
        "paused = 1\n",
    )
    first, second = (r.text for r in load(path).rejected)
    assert "highlights, listing, upvotes, relevance; this reader gets nothing" in first
    assert "highlights, listing, upvotes, relevance (and 2 more mistakes); this reader" in second


# -- one reader for every spelling of an address -----------------------------------------------


def state(id: int, key: str, upto: int, token: str | None = None, **prefs: object) -> ReaderState:
    added = datetime.datetime(2025, 3, id, tzinfo=datetime.UTC)
    return ReaderState(id, key, upto, added, token, prefs)


def test_the_spellings_of_one_address_are_one_reader_the_first_added() -> None:
    found = [
        state(1, "", 50),  # DIGEST_TO's reader: never merged
        state(2, "ann@example.org", 40, "t2"),  # already in its one form: left as it is
        state(5, "Bob@Exämple.org.", 90, None, highlight="late", paused=True),
        state(3, "bob@exämple.org", 20, "t3", highlight="early", interests="robots"),
        state(4, "BOB@XN--EXMPLE-CUA.ORG", 70, "t4", unsubscribed=True),
    ]
    ((merged, others),) = respelled(found)
    assert others == [4, 5]
    assert (merged.id, merged.key, merged.upto, merged.token) == (
        3,
        "bob@xn--exmple-cua.org",
        90,  # as far on as the furthest: every digest went to the one mailbox
        "t3",
    )
    assert merged.added == found[3].added
    assert merged.prefs == {
        "highlight": "early",  # the first added's own preferences first
        "interests": "robots",
        "paused": True,
        "unsubscribed": True,  # no other spelling undoes an unsubscribe
    }


def test_a_first_spelling_without_a_token_takes_the_next_one_s() -> None:
    ((merged, others),) = respelled(
        [state(1, "Cy@Example.org", 5), state(2, "cy@example.org.", 9, "t")]
    )
    assert (merged.key, merged.token, merged.upto, others) == ("cy@example.org", "t", 9, [2])


def test_paused_under_any_spelling_stays_paused_whatever_the_first_says() -> None:
    found = [
        state(1, "Dee@Example.org", 3, "t", paused=False),
        state(2, "dee@example.org", 4, paused=True),
    ]
    ((merged, _),) = respelled(found)
    assert merged.prefs == {"paused": True}


@pytest.mark.parametrize("flag", ["paused", "unsubscribed"])
def test_a_flag_set_under_a_later_spelling_wins_over_the_first_s_own_no(flag: str) -> None:
    found = [
        state(1, "Eve@Example.org", 3, "t", **{flag: False}),
        state(2, "eve@example.org", 4, **{flag: True}),
    ]
    ((merged, _),) = respelled(found)
    assert merged.prefs == {flag: True}


def test_spellings_none_of_which_has_a_token_are_one_reader_without_one() -> None:
    ((merged, others),) = respelled(
        [state(1, "Flo@Example.org", 5), state(2, "flo@example.org", 2)]
    )
    assert (merged.key, merged.token, merged.upto, others) == ("flo@example.org", None, 5, [2])


def test_addresses_in_their_one_form_are_not_merged() -> None:
    assert respelled([state(1, "ann@example.org", 1), state(2, "bob@example.org", 2)]) == []


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("Ann@Example.ORG.", "ann@example.org"),
        ("Ann@Mail.BOX.", "ann@mail.box"),  # only the final dot goes
        ("ann", "ann"),
        ("  ANN  ", "ann"),
        ("a@b@Example.org", "a@b@example.org"),  # the domain is after the last @
        ("a@b@Exämple.org", "a@b@xn--exmple-cua.org"),
        ("ann@exa_mple..org", "ann@exa_mple..org"),  # no IDNA form: as written, lower case
    ],
)
def test_an_address_key_is_lower_case_without_a_final_dot(written: str, key: str) -> None:
    assert address_key(written) == key


# -- `digest readers`: a reader in one line ------------------------------------------------------

ANN = Reader(email="ann@example.org", key="ann@example.org")
SENT = {"last_sent": "2026-03-09T07:00:12+00:00", "pending": 2, "failed": 1}


def at(upto: int, **prefs: object) -> ReaderState:
    return state(7, "ann@example.org", upto, "t", **prefs)


# The reader, what the state keeps of them, their outbox, and their line with 40 papers
# offered: what differs from the DIGEST_* settings, what they chose themselves marked so.
LINES: list[tuple[Reader, ReaderState | None, dict[str, object], str]] = [
    (ANN, None, {}, "ann@example.org: 0 7 * * *; no digest yet (joins at the next run)"),
    (
        ANN,
        at(30),
        {},
        "ann@example.org: 0 7 * * *; last delivered: never; 10 new papers waiting;"
        " pending: 0; failed: 0",
    ),
    (
        Reader(
            email="ann@example.org",
            key="ann@example.org",
            highlight="robots",
            timezone="Europe/Paris",
            paused=True,
        ),
        at(40),
        SENT,
        "ann@example.org: 0 7 * * * (Europe/Paris), highlight: robots, paused; last delivered:"
        " 2026-03-09 07:00; 0 new papers waiting; pending: 2; failed: 1",
    ),
    (
        Reader(email="ann@example.org", key="ann@example.org", highlight="diffusion"),
        at(30),
        {},
        "ann@example.org: 0 7 * * *; last delivered: never; 10 new papers waiting;"
        " pending: 0; failed: 0",  # the settings' own highlight: nothing to say
    ),
    (
        ANN,
        at(30, highlight="agents", schedule="@weekly", paused=True),
        {"pending": 1},
        "ann@example.org: @weekly (theirs), highlight: agents (theirs), paused (theirs);"
        " last delivered: never; 10 new papers waiting; pending: 1; failed: 0",
    ),
    (
        ANN,
        at(30, unsubscribed=True),
        {"failed": 3},
        "ann@example.org: 0 7 * * *, unsubscribed (theirs); last delivered: never;"
        " pending: 0; failed: 3",  # nothing waits for them: nothing will be sent
    ),
    (
        ANN,
        at(30, exclude=""),
        {},
        "ann@example.org: 0 7 * * *, exclude: none (theirs); last delivered: never;"
        " 10 new papers waiting; pending: 0; failed: 0",
    ),
]


@pytest.mark.parametrize(("reader", "known", "outbox", "line"), LINES)
def test_a_reader_s_line_in_digest_readers(
    reader: Reader, known: ReaderState | None, outbox: dict[str, object], line: str
) -> None:
    settings = config.load({}, {"DIGEST_HIGHLIGHT": "diffusion"}, delivering=False)
    assert listed(reader, settings, known, outbox, 40) == line


@pytest.mark.parametrize(
    ("reader", "said"),
    [
        (Reader(email="not an address", key="x@example.org"), "email: 'not' is not"),
        (Reader(email="not an address", key=""), "DIGEST_TO: 'not' is not"),
    ],
)
def test_a_reader_s_bad_address_is_named_as_they_gave_it(reader: Reader, said: str) -> None:
    with pytest.raises(ConfigError) as e:
        reader.address()
    assert str(e.value).startswith(said)


def test_a_reader_s_address_keeps_their_name_or_the_address_s_own() -> None:
    assert str(Reader(email="Ann Lee <ann@example.org>", key="a").address()) == (
        "Ann Lee <ann@example.org>"
    )
    named = Reader(email="Ann Lee <ann@example.org>", key="a", name="Dr Lee")
    assert str(named.address()) == "Dr Lee <ann@example.org>"
