"""Secrets kept out of everything digest shows: error lines, logs, `digest status`, `digest
readers`, the web's pages.

`redact(text)` replaces with *** whatever in a text may hold a secret, whatever its shape:

- a URL's password (`scheme://user:PASSWORD@host`), also one not percent-encoded as it
  should be (a `/`, `#`, `?` or `@` in it): all up to the URL's last `@`;
- the value of a `password=`, `token=`, `secret=`, `key=` ... pair, in a query string, a libpq
  keyword string (`host=db password='a b'`) or JSON, and a `Bearer` or `Authorization` value;
- a chat service's URL (Apprise's `tgram://BOTTOKEN/CHAT`, `slack://T/B/TOKEN`,
  `discord://ID/TOKEN`): all after its scheme but a host name; a webhook's path
  (`https://hooks.slack.com/...`, `https://example.org/webhook/...`); and in any URL, what
  looks like a token (16 or more letters and digits);
- every value `keep_secret` was told of (the SMTP password, the database's, the state's token
  secret), wherever it appears.

It errs on the side of hiding: a URL whose path holds an `@` may lose more than its password.
Applying it twice changes nothing more.
"""

from __future__ import annotations

import functools
import re

MASK = "***"
SHORTEST_KNOWN = 4  # a shorter known secret would hide ordinary words and numbers

_known: set[str] = set()
_known_pattern: re.Pattern[str] | None = None

# Schemes whose host and path are addresses, not credentials; any other (a chat service's)
# may carry a token in either.
_WEB = frozenset({"http", "https", "ws", "wss", "ftp", "ftps"})
_PLACES = frozenset({"postgresql", "postgres", "sqlite", "file", "mysql", "redis", "mongodb"})

_SECRET_NAME = (
    r"[\w.-]*?(?:pass(?:word|wd|phrase)?|pwd|secret|token|key|auth|credentials?|signature|sig)"
)
# name=value: in a query string, a libpq keyword string, a command line, an env file.
_PAIR = re.compile(
    rf"(?i)(?<![\w.-])(?P<name>{_SECRET_NAME})(?P<sep>\s*=\s*)"
    r"(?P<value>'(?:[^'\\\n]|\\.)*'?|\"(?:[^\"\\\n]|\\.)*\"?|[^\s&'\"]+)"
)
_JSON_PAIR = re.compile(rf"(?i)(?P<name>\"{_SECRET_NAME}\"\s*:\s*)\"(?:[^\"\\]|\\.)*\"")
_BEARER = re.compile(
    r"(?i)\b(?P<name>bearer|authorization\s*[:=](?:\s*(?:basic|bearer|digest))?)\s+[\w.~+/=-]{8,}"
)
# A URL, also one mistyped (`tgram//token`, `tgram:/token`), up to the next white space.
_URL = re.compile(r"(?<![\w+.-])(?P<scheme>[A-Za-z][\w+.-]{0,30})(?P<sep>:?//+|:/)(?P<rest>\S*)")
# `user:password@host` without a scheme (a URL missing its `postgresql://`, say)
_USERINFO = re.compile(r"(?<![\w.+/-])(?P<user>[\w.+-]+):(?P<password>(?!/)\S+)@(?=[^\s@])")
# `scheme:rest` with no slash (a mistyped URL, `mailto:`): only what looks like a token.
_BARE = re.compile(r"(?<![\w+./@-])(?P<scheme>[A-Za-z][\w+.-]{0,30}):(?P<rest>[^\s/]\S*)")
_RUN = re.compile(r"[\w:+~%-]{16,}")
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_TAIL = re.compile(r"[)\]}>'\",.;:!?]+$")
_HOST = re.compile(r"(?i)(\[[0-9a-f:.]+\]|localhost|[a-z0-9-]+(\.[a-z0-9-]+)+)(:\d+)?")


def keep_secret(*values: str | bytes | None) -> None:
    """Hide these values wherever they appear from now on, in this process: a password, a
    key (bytes are taken as their hex text, as the state keeps them)."""
    global _known_pattern
    from urllib.parse import quote

    for value in values:
        text = value.hex() if isinstance(value, bytes) else value
        if text and len(text) >= SHORTEST_KNOWN and not _masked(text):
            _known.update({text, quote(text, safe=""), quote(text)})
    _known_pattern = None


# A line longer than this is cut to it before it is searched: what a stranger wrote (a
# request's path, a file's name) costs at most that much, however it is shaped.
LONGEST_LINE = 2_000
# URLs inside a URL's path looked into, at most; deeper ones are hidden whole.
_NESTED = 3


def redact(text: str) -> str:
    """`text` with everything that may be a secret replaced by ***; each line of it cut to
    LONGEST_LINE characters first (a cut line ends with ...)."""
    if len(text) > LONGEST_LINE:
        text = "\n".join(
            line if len(line) <= LONGEST_LINE else line[:LONGEST_LINE] + "..."
            for line in text.split("\n")
        )
    return _redacted(text)


def _redacted(text: str) -> str:
    global _known_pattern
    if _known:
        if _known_pattern is None:
            longest_first = sorted(_known, key=len, reverse=True)
            _known_pattern = re.compile("|".join(map(re.escape, longest_first)))
        text = _known_pattern.sub(MASK, text)
    text = _JSON_PAIR.sub(rf'\g<name>"{MASK}"', text)
    text = _PAIR.sub(lambda m: m["name"] + m["sep"] + MASK, text)
    text = _BEARER.sub(rf"\g<name> {MASK}", text)
    text = _URL.sub(_url, text)
    text = _USERINFO.sub(_userinfo, text)
    return _BARE.sub(lambda m: f"{m['scheme']}:{_tokens(m['rest'])}", text)


def _userinfo(m: re.Match[str]) -> str:
    if m["user"].lower() == "mailto" or _masked(m["password"]):  # an address, or done
        return m[0]
    return f"{m['user']}:{MASK}@"


def _masked(text: str) -> bool:
    """Already hidden: stars or dots only (Apprise's `****`, our `***`, a cut `...`)."""
    return bool(text) and not text.strip("*.")


def _tokens(text: str) -> str:
    """Each run of 16 or more letters, digits and the like that holds both, hidden."""
    return _RUN.sub(lambda m: MASK if _token_like(m[0]) else m[0], text)


def _token_like(run: str) -> bool:
    core = _ESCAPE.sub("", run)  # %20 is a space, not a digit of a token
    return len(core) >= 16 and any(c.isdigit() for c in core) and any(c.isalpha() for c in core)


def _url(m: re.Match[str], depth: int = 0) -> str:
    scheme, sep, rest = m["scheme"], m["sep"], m["rest"]
    if depth >= _NESTED:
        return f"{scheme}{sep}{MASK}"
    kind = scheme.lower()
    tail = ""
    if found := _TAIL.search(rest):
        rest, tail = rest[: found.start()], found[0]
    host = rest
    shown_user = ""
    at = rest.rfind("@")
    if at >= 0:
        userinfo = rest[:at]
        user, colon, password = userinfo.partition(":")
        if not any(c in user for c in "/?#"):  # else the @ and : are further on
            host = rest[at + 1 :]
            if colon:
                shown_user = f"{user}:{password if _masked(password) else MASK}@"
            elif kind in _WEB or kind in _PLACES or _masked(user):
                shown_user = f"{user}@"
            else:  # a chat service's user may be its key (pover://USER@TOKEN)
                shown_user = f"{MASK}@"
    cut = min((i for i in (host.find(c) for c in "/?#") if i >= 0), default=len(host))
    host, after = host[:cut], host[cut:]
    if kind in _PLACES:
        return f"{scheme}{sep}{shown_user}{host}{after}{tail}"
    if kind in _WEB:
        if "hook" in (host + after).lower() and after.strip("/"):
            after = "/" + MASK
        inner = _URL.sub(functools.partial(_url, depth=depth + 1), _tokens(after))
        return f"{scheme}{sep}{shown_user}{_tokens(host)}{inner}{tail}"
    if host and not (_HOST.fullmatch(host) or _masked(host)):
        host = MASK
    if after.strip("/") and not _masked(after.lstrip("/?#")):
        after = after[0] + MASK
    return f"{scheme}{sep}{shown_user}{host}{after}{tail}"
