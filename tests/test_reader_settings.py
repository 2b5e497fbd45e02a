"""Each reader setting declared in digest.reader_settings, taken through every surface derived
from its declaration: the readers file, its DIGEST_* default, `digest readers`, the
preferences form, the rendering key, and README's readers table."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest

from digest import config, patterns
from digest.channels import BESIDE, CHANNELS, channel, checks
from digest.reader_settings import (
    BY_NAME,
    RESOLVED,
    SETTINGS,
    WEB,
    Reader,
    ReaderSetting,
    Resolved,
    effective,
)
from digest.readers import listed, load
from digest.web import pages
from digest.web.readers import chosen, shown

ROOT = Path(__file__).resolve().parent.parent
EMAIL = "bob@example.org"
BY_DECLARATION = pytest.mark.parametrize("setting", SETTINGS, ids=[s.name for s in SETTINGS])


def toml(value: object) -> str:
    """A value as the readers file writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml(v) for v in value) + "]"
    return repr(value) if isinstance(value, int | float) else f'"{value}"'


def read(setting: ReaderSetting) -> object:
    """The example as the readers file gives it to a run."""
    parsed = tomllib.loads(f"v = {toml(setting.example)}")["v"]
    return setting.read(setting.name, parsed, {})


def text(value: object) -> str:
    """The example as typed in a form or an environment variable."""
    return ", ".join(value) if isinstance(value, list) else str(value)


def reader_with(tmp_path: Path, setting: ReaderSetting) -> Reader:
    """The one reader of a readers file holding the setting's example."""
    line = "" if setting.name == "email" else f"{setting.name} = {toml(setting.example)}\n"
    email = setting.example if setting.name == "email" else EMAIL
    path = tmp_path / "readers.toml"
    path.write_text(f'[[reader]]\nemail = "{email}"\n{line}', encoding="utf-8")
    loaded = load(path)
    assert loaded.errors == ()
    (reader,) = loaded.readers
    return reader


@BY_DECLARATION
def test_the_readers_file_reads_each_declared_setting(
    tmp_path: Path, setting: ReaderSetting
) -> None:
    reader = reader_with(tmp_path, setting)
    assert getattr(reader, setting.name) == read(setting)
    # Not given, a setting with a DIGEST_* default is None (it falls back), the rest fixed.
    bare = Reader(EMAIL, EMAIL)
    if setting.name != "email":
        assert getattr(bare, setting.name) == (None if setting.env else setting.fixed)


@BY_DECLARATION
def test_each_setting_with_a_default_takes_it_from_its_digest_setting(
    setting: ReaderSetting,
) -> None:
    if not setting.env:
        assert setting.setting == ""
        return
    assert setting.name in {f.name for f in dataclasses.fields(config.Settings)}
    variable = config.env_name(setting.name)
    assert variable in config.known_names()
    settings = config.load({}, {variable: text(setting.example)}, delivering=False)
    assert getattr(effective(Reader(EMAIL, EMAIL), settings), setting.name) == read(setting)


@pytest.mark.parametrize(
    "setting", [s for s in SETTINGS if s.check is not None], ids=lambda s: s.name
)
def test_a_default_its_declaration_refuses_is_refused_naming_the_setting(
    setting: ReaderSetting,
) -> None:
    variable = config.env_name(setting.name)
    with pytest.raises(config.ConfigError, match=rf"^{variable}[:=]"):
        config.load({}, {variable: "(unclosed"}, delivering=False)


@BY_DECLARATION
def test_a_reader_s_own_value_wins_over_the_default(tmp_path: Path, setting: ReaderSetting) -> None:
    if setting.about:  # who the reader is: not part of what a run makes for them
        assert setting.name not in RESOLVED
        return
    reader = reader_with(tmp_path, setting)
    assert getattr(effective(reader, config.Settings()), setting.name) == read(setting)


@BY_DECLARATION
def test_digest_readers_lists_each_setting_a_reader_changed(
    tmp_path: Path, setting: ReaderSetting
) -> None:
    if setting.about:
        return
    reader = reader_with(tmp_path, setting)
    line = listed(reader, config.Settings(), None, {}, 0)
    # When and whether are said in the listing's own words; the rest as `name: value`.
    said = {"schedule": f"{EMAIL}: @weekly", "timezone": " (Europe/Paris)", "paused": ", paused;"}
    expected = said.get(setting.name, f", {setting.name}: {text(read(setting))}")
    assert expected in line, line
    assert expected not in listed(Reader(EMAIL, EMAIL), config.Settings(), None, {}, 0)


@BY_DECLARATION
def test_only_what_renders_differently_tells_renderings_apart(
    tmp_path: Path, setting: ReaderSetting
) -> None:
    if setting.about:
        return
    own = effective(reader_with(tmp_path, setting), config.Settings()).signature()
    usual = effective(Reader(EMAIL, EMAIL), config.Settings()).signature()
    assert (own != usual) is setting.renders


@pytest.mark.parametrize("setting", WEB, ids=[s.name for s in WEB])
def test_the_preferences_form_shows_and_keeps_each_setting_a_reader_may_change(
    setting: ReaderSetting,
) -> None:
    base = effective(Reader(EMAIL, EMAIL), config.Settings())
    form = {**{s.name: "" for s in WEB}, "delivery": "send", setting.name: text(setting.example)}
    mine, sent, errors = chosen(form, base, {})
    assert errors == [] and setting.web is not None
    assert mine == {setting.name: text(read(setting))}  # kept as text, as typed
    taken = {setting.name: setting.web.parse(text(read(setting)))}  # what a run takes
    assert taken == {setting.name: read(setting)}
    page = pages.preferences(EMAIL, "/p", {"csrf": "c"}, sent).html
    if setting.web.area:  # several lines' worth: a text area holding the value
        assert f'name="{setting.name}" rows=3 spellcheck=true>{text(read(setting))}<' in page
    else:
        assert f'name="{setting.name}" value="{text(read(setting))}"' in page
    assert setting.help in page
    # What the form shows for a reader who chose it: what their next digest uses.
    assert shown(mine, base.replace(**taken)).values[setting.name] == text(read(setting))


def test_only_settings_a_reader_may_change_are_on_the_form() -> None:
    page = pages.preferences(EMAIL, "/p", {}, pages.Shown("send")).html
    fields = re.findall(r'<(?:input type=text|textarea) id="f-[^"]+" name="([^"]+)"', page)
    assert sorted(fields) == sorted(s.name for s in SETTINGS if s.web is not None)
    # When the digest comes first, then what it holds.
    assert [BY_NAME[f].renders for f in fields] == sorted(BY_NAME[f].renders for f in fields)


def test_readme_s_readers_table_holds_every_declared_key_and_its_default() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Many readers", 1)[1].split("\n\n", 3)[2]
    rows = [line.split("|")[1:3] for line in section.splitlines()[2:] if line.startswith("|")]
    documented: dict[str, str] = {}
    for keys, default in rows:
        for key in re.findall(r"`([a-z_]+)`", keys):
            documented[key] = default
    assert list(documented) == [s.name for s in SETTINGS]
    for s in SETTINGS:
        named = set(re.findall(r"DIGEST_[A-Z_]+", documented[s.name]))
        assert named == ({s.setting} if s.env else set()), s.name


def test_a_term_is_compiled_once_wherever_it_is_checked() -> None:
    first = patterns.terms("graph neural, diff\\w+", "DIGEST_HIGHLIGHT")
    again = patterns.terms("diff\\w+ ,graph neural", "highlight")
    assert [t.matcher for t in first] == [t.matcher for t in reversed(again)]
    assert all(a.matcher is b.matcher for a, b in zip(first, reversed(again), strict=True))


def test_the_deliveries_are_the_channels_of_the_registry_and_each_checks_its_own() -> None:
    assert tuple(CHANNELS) == config.DELIVERIES
    declared = {f.name for f in dataclasses.fields(config.Settings)}
    for name in [*CHANNELS, *BESIDE]:
        assert set(channel(name).settings) <= declared, name
    assert len(checks()) == sum(channel(n).check is not None for n in [*CHANNELS, *BESIDE])
    assert {"smtp", "archive"} <= {n for n in [*CHANNELS, *BESIDE] if channel(n).check}


def test_what_a_run_uses_made_in_part_takes_the_rest_as_nothing_set_gives_them() -> None:
    usual = effective(Reader(EMAIL, EMAIL), config.Settings())
    assert Resolved(highlight="graph") == usual.replace(highlight="graph")
    with pytest.raises(TypeError, match="'colour'"):
        Resolved(colour="blue")
    with pytest.raises(TypeError, match="'colour'"):
        Reader(EMAIL, EMAIL, colour="blue")


def test_the_preferences_page_offers_schedules_in_words_and_reads_in_the_dark() -> None:
    errors = ["schedule: `every 1s` fires more than once an hour; use `@hourly` or less often"]
    page = pages.preferences(EMAIL, "/p", {}, pages.Shown("send"), errors=errors).html
    assert '<input type=text id="f-schedule" name="schedule" value="" list="o-schedule"' in page
    assert '<option value="0 7 * * 1-5">Weekdays at 07:00</option>' in page
    assert 'id="f-timezone" name="timezone"' in page  # the schedule's zone, theirs to set
    assert "<textarea" in page and 'name="interests"' in page
    assert "@media (prefers-color-scheme:dark)" in page
    assert "`" not in page and "every 1s fires more than once an hour" in page
