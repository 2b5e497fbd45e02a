"""The reader's pages as HTML: pure functions of what they show. Every value is escaped;
no script (the Content-Security-Policy has none), styles inline, forms that post to this
site only, each with its CSRF field."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from digest.reader_settings import WEB, ReaderSetting
from digest.redact import redact

STYLE = """
body{margin:0;background:#f3f2ee;color:#1d1d1b;font:16px/1.5 system-ui,-apple-system,
"Segoe UI",Roboto,sans-serif}
main{max-width:36rem;margin:0 auto;padding:1.5rem 1rem 3rem}
h1{font-size:1.5rem;line-height:1.25;margin:0 0 1rem}
p{margin:0 0 1rem}
.who{font-weight:600;overflow-wrap:anywhere}
.feed{overflow-wrap:anywhere}
.note,.error{margin:0 0 1rem}
.note{background:#e4efe4;border-left:4px solid #2e6b34;padding:.75rem 1rem}
.error{background:#f8e3e1;border-left:4px solid #a3261b;padding:.75rem 1rem}
form{margin:1.5rem 0}
fieldset{border:1px solid #c9c6bd;border-radius:6px;margin:0 0 1.25rem;padding:.75rem 1rem}
legend{font-weight:600;padding:0 .25rem}
label{display:block;margin:.25rem 0}
.choice{display:flex;align-items:center;gap:.5rem;min-height:44px}
.choice input{width:1.25rem;height:1.25rem;margin:0}
.field{margin:0 0 1.25rem}
.field span{display:block;font-weight:600}
.field small{display:block;color:#4a4944}
input[type=text]{box-sizing:border-box;width:100%;min-height:44px;font:inherit;
padding:.5rem;border:1px solid #8a877e;border-radius:6px;background:#fff;color:#1d1d1b}
button{min-height:44px;min-width:44px;font:inherit;font-weight:600;padding:.5rem 1.25rem;
border:0;border-radius:6px;background:#1f4e8c;color:#fff;cursor:pointer}
button.quiet{background:#e1ded6;color:#1d1d1b}
a{color:#1f4e8c}
textarea{box-sizing:border-box;width:100%;font:inherit;padding:.5rem;border:1px solid #8a877e;
border-radius:6px;background:#fff;color:#1d1d1b;resize:vertical}
.tastes li{margin:0 0 .5rem}.tastes form{display:inline;margin:0 0 0 .5rem}
@media (prefers-color-scheme:dark){
body{background:#1b1b1a;color:#e8e6e1}
.field small{color:#b9b6ae}
input[type=text],textarea{background:#2a2a28;color:#e8e6e1;border-color:#77746b}
fieldset{border-color:#55534d}
.note{background:#20331f;border-left-color:#6fbf73}
.error{background:#3a1f1c;border-left-color:#e0786c}
button{background:#8ab4f8;color:#10141a}
button.quiet{background:#3a3936;color:#e8e6e1}
a{color:#8ab4f8}
}
"""


@dataclass(frozen=True, slots=True)
class Page:
    """An answer: its status and its HTML (or, of another `kind`, its text)."""

    status: int
    html: str
    kind: str = "text/html"


def page(title: str, body: str, status: int = 200) -> Page:
    """A whole page around `body` (HTML already escaped)."""
    return Page(
        status,
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        '<meta name=robots content="noindex,nofollow">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>\n",
    )


def hidden(fields: Mapping[str, str]) -> str:
    return "".join(
        f'<input type=hidden name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )


def form(action: str, fields: Mapping[str, str], inside: str, button: str) -> str:
    """A form posting to `action`, with hidden `fields` (its CSRF field among them)."""
    return (
        f'<form method=post action="{escape(action)}">{hidden(fields)}{inside}'
        f"<button type=submit>{escape(button)}</button></form>"
    )


def who(address: str) -> str:
    return f"<span class=who>{escape(address)}</span>"


def not_found() -> Page:
    """The one page of every link that leads to no reader: it tells nothing more."""
    return page(
        "Link not valid",
        "<p>This link is not valid, or no longer is. Open the newest digest you received"
        " and use the link in it.</p>",
        404,
    )


def unavailable() -> Page:
    return page("Try again later", "<p>This page cannot be shown just now.</p>", 503)


def refused(again: str) -> Page:
    """A form this site did not make for this page (forged, or from elsewhere)."""
    return page(
        "Form not accepted",
        "<p>Nothing was changed: this form did not come from this page."
        f' <a href="{escape(again)}">Open the page again</a> and send it from there.</p>',
        403,
    )


def too_large() -> Page:
    return page("Form too large", "<p>Nothing was changed: the form was too large.</p>", 413)


def unsubscribe_ask(
    address: str, action: str, fields: Mapping[str, str], prefs: str, listed: str = ""
) -> Page:
    return page(
        "Unsubscribe",
        f"<p>Stop sending {escape(listed or 'the paper digests')} to {who(address)}?</p>"
        + form(action, fields, "", "Unsubscribe")
        + f'<p>Or <a href="{escape(prefs)}">change what you receive</a> instead.</p>',
    )


def unsubscribed(address: str, prefs: str, listed: str = "") -> Page:
    said = f" of {escape(listed)}" if listed else ""
    return page(
        "You are unsubscribed",
        f"<p>No more digests{said} will be sent to {who(address)}.</p>"
        f'<p>Changed your mind? <a href="{escape(prefs)}">Subscribe again</a>'
        " on your preferences page.</p>",
    )


class Shown:
    """What the preferences form shows: the delivery choice and the value of each setting a
    reader may change (digest.reader_settings.WEB), given in that order or by name."""

    __slots__ = ("delivery", "values")

    def __init__(self, delivery: str, *texts: str, **named: str) -> None:
        self.delivery = delivery  # send, pause or unsubscribe
        self.values = dict(zip((s.name for s in WEB), texts, strict=False)) | named


DELIVERY = (
    ("send", "Send my digests"),
    ("pause", "Pause them for now (nothing is missed: they resume where they stopped)"),
    ("unsubscribe", "Unsubscribe"),
)


def _field(setting: ReaderSetting, value: str) -> str:
    """One setting's field on the form: its label and help, a line or a text area, and the
    values it offers (a list a browser shows as the field is filled in)."""
    web = setting.web
    assert web is not None
    name = setting.name
    label = (
        f'<label for="f-{name}"><span>{escape(web.label)}</span>'
        f"<small>{escape(setting.help)}</small></label>"
    )
    if web.area:
        return (
            f'<div class=field>{label}<textarea id="f-{name}" name="{name}" rows=3'
            f" spellcheck=true>{escape(value)}</textarea></div>"
        )
    offers = ""
    listed = ""
    if web.offers:
        listed = f' list="o-{name}"'
        offers = (
            f'<datalist id="o-{name}">'
            + "".join(f'<option value="{escape(v)}">{escape(w)}</option>' for v, w in web.offers)
            + "</datalist>"
        )
    return (
        f'<div class=field>{label}<input type=text id="f-{name}" name="{name}"'
        f' value="{escape(value)}"{listed} autocomplete=off spellcheck=false>{offers}</div>'
    )


def _plain(error: str) -> str:
    """An error as a reader reads it: no secret, no code quotes."""
    return redact(error).replace("`", "")


@dataclass(frozen=True)
class Tastes:
    """The papers a reader liked (1) or disliked (-1): (paper id, title, value) each, and
    where a button takes one back (the like page's action and its hidden fields)."""

    papers: Sequence[tuple[int, str, int]]
    action: str
    fields: Mapping[str, str]

    def html(self) -> str:
        """Their list, each with its button; nothing when there are none."""
        if not self.papers:
            return ""
        rows = "".join(
            f"<li>{'Liked' if value > 0 else 'Disliked'}: {escape(title)}"
            + form(self.action, {**self.fields, "paper": str(paper), "value": "0"}, "", "Undo")
            + "</li>"
            for paper, title, value in self.papers
        )
        return f"<h2>Papers you liked or disliked</h2><ul class=tastes>{rows}</ul>"


def preferences(
    address: str,
    action: str,
    fields: Mapping[str, str],
    shown: Shown,
    *,
    saved: bool = False,
    errors: Sequence[str] = (),
    tastes: Tastes | None = None,
    feed: str = "",
) -> Page:
    top = ""
    if saved:
        top = "<p class=note>Saved. Your next digest follows these preferences.</p>"
    if errors:
        top = (
            "<div class=error><p>Nothing was saved:</p><ul>"
            + "".join(f"<li>{escape(_plain(e))}</li>" for e in errors)  # they may quote one
            + "</ul></div>"
        )
    choices = "".join(
        f'<label class=choice><input type=radio name=delivery value="{value}"'
        f"{' checked' if value == shown.delivery else ''}>{escape(text)}</label>"
        for value, text in DELIVERY
    )
    texts = "".join(_field(s, shown.values.get(s.name, "")) for s in WEB)
    inside = f"<fieldset><legend>Delivery</legend>{choices}</fieldset>{texts}"
    return page(
        "Your digest preferences",
        f"{top}<p>For {who(address)}.</p>"
        + form(action, fields, inside, "Save")
        + (tastes.html() if tastes else "")
        + (_feed(feed) if feed else ""),
        400 if errors else 200,
    )


def _feed(address: str) -> str:
    """Where the reader's own feed is: their address for a feed reader, kept to themselves."""
    return (
        "<h2>Your feed</h2><p class=feed>Your digests as an Atom feed:"
        f' <a href="{escape(address)}">{escape(address)}</a>.'
        " Like this page's, its address is yours alone.</p>"
    )


LIKES = {1: ("Like", "You like"), -1: ("Dislike", "You dislike"), 0: ("Forget", "Forgotten:")}


def like_ask(title: str, value: int, action: str, fields: Mapping[str, str]) -> Page:
    verb = LIKES[value][0]
    return page(
        f"{verb} this paper?",
        f"<p>{escape(title)}</p>" + form(action, fields, "", verb),
    )


def liked(title: str, value: int) -> Page:
    return page(
        "Noted",
        f"<p>{escape(LIKES[value][1])} <q>{escape(title)}</q>. It is kept with your"
        " preferences.</p>",
    )


def no_paper() -> Page:
    return page("Paper not found", "<p>This link names no paper this site knows.</p>", 400)
