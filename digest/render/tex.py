"""TeX as people read it: the markup listings copy from arXiv (`\\%`, `Poincar\\'e`, `$\\mu$`,
`{\\em x}`) turned into Unicode text, with where the emphasis was. Pure: a string in, a string
and spans out; text without TeX comes back unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Control characters that mark emphasis while the rest is converted; never in listing text
# (they are removed from it first).
_OPEN, _CLOSE = "\x01", "\x02"

_SYMBOLS = {
    "alpha": "α",
    "beta": "β",
    "gamma": "γ",
    "delta": "δ",
    "epsilon": "ε",
    "varepsilon": "ε",
    "zeta": "ζ",
    "eta": "η",
    "theta": "θ",
    "kappa": "κ",
    "lambda": "λ",
    "mu": "μ",
    "nu": "ν",
    "xi": "ξ",
    "pi": "π",
    "rho": "ρ",
    "sigma": "σ",
    "tau": "τ",
    "phi": "φ",
    "varphi": "φ",
    "chi": "χ",
    "psi": "ψ",
    "omega": "ω",
    "Gamma": "Γ",
    "Delta": "Δ",
    "Theta": "Θ",
    "Lambda": "Λ",
    "Pi": "Π",
    "Sigma": "Σ",
    "Phi": "Φ",
    "Psi": "Ψ",
    "Omega": "Ω",
    "times": "×",
    "cdot": "·",
    "pm": "±",
    "mp": "∓",
    "sim": "~",
    "approx": "≈",
    "simeq": "≃",
    "neq": "≠",
    "ne": "≠",
    "leq": "≤",
    "le": "≤",
    "geq": "≥",
    "ge": "≥",
    "ll": "≪",
    "gg": "≫",
    "to": "→",
    "rightarrow": "→",
    "leftarrow": "←",
    "Rightarrow": "⇒",
    "leftrightarrow": "↔",
    "uparrow": "↑",
    "downarrow": "↓",
    "infty": "∞",
    "ell": "ℓ",
    "partial": "∂",
    "nabla": "∇",
    "sum": "∑",
    "prod": "∏",
    "in": "∈",
    "subset": "⊂",
    "cap": "∩",
    "cup": "∪",
    "forall": "∀",
    "exists": "∃",
    "circ": "∘",
    "degree": "°",
    "log": "log",
    "exp": "exp",
    "max": "max",
    "min": "min",
    "ldots": "…",
    "dots": "…",
    "cdots": "⋯",
    "textasciitilde": "~",
    "textbackslash": "\\",
    "eg": "e.g.",
    "ie": "i.e.",
    "etal": "et al.",
    "LaTeX": "LaTeX",
    "TeX": "TeX",
}
# Commands that only set a style or a size: dropped, their text kept.
_STYLES = {
    "scriptstyle",
    "displaystyle",
    "textstyle",
    "small",
    "footnotesize",
    "large",
    "Large",
    "left",
    "right",
    "big",
    "Big",
    "bigl",
    "bigr",
    "rm",
    "sf",
    "tt",
    "sc",
    "normalfont",
    "quad",
    "qquad",
    "limits",
    "nolimits",
}
# Commands whose argument is shown as plain text.
_PLAIN_ARG = (
    "textsc|texttt|textrm|textsf|textnormal|text|mathrm|mathbf|mathsf|mathtt|mathcal|mathbb"
    "|mathit|operatorname|boldsymbol|bm|mbox|url|underline"
)
_EMPH_ARG = "emph|textit|textbf|textsl"
_EMPH_DECL = "em|emph|it|bf|itshape|bfseries|sl"
_ACCENTS = {
    "'": "\N{COMBINING ACUTE ACCENT}",
    "`": "\N{COMBINING GRAVE ACCENT}",
    "^": "\N{COMBINING CIRCUMFLEX ACCENT}",
    '"': "\N{COMBINING DIAERESIS}",
    "~": "\N{COMBINING TILDE}",
    "=": "\N{COMBINING MACRON}",
    ".": "\N{COMBINING DOT ABOVE}",
    "c": "\N{COMBINING CEDILLA}",
    "v": "\N{COMBINING CARON}",
    "u": "\N{COMBINING BREVE}",
    "H": "\N{COMBINING DOUBLE ACUTE ACCENT}",
}
_LETTERS = {"ss": "ß", "o": "ø", "O": "Ø", "ae": "æ", "AE": "Æ", "l": "ł", "L": "Ł", "i": "ı"}
_SUPER = str.maketrans("0123456789+-=()ni", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱ")
_SUB = str.maketrans("0123456789+-=()aehijklmnoprstuvx", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ")
_SUPER_OK = set("0123456789+-=()ni")
_SUB_OK = set("0123456789+-=()aehijklmnoprstuvx")

_TEXLIKE = re.compile(r"[\\$]|\{\\|\*\*")
# Markdown's strong emphasis, which some authors write in a plain-text abstract: **word**.
_MD_STRONG = re.compile(r"\*\*(?=\S)([^*\n]{1,200}?)(?<=\S)\*\*")
_EMPH = re.compile(rf"\\(?:{_EMPH_ARG})\s*\{{([^{{}}]*)\}}|\{{\\(?:{_EMPH_DECL})\b\s*([^{{}}]*)\}}")
_PLAIN = re.compile(rf"\\(?:{_PLAIN_ARG})\s*\{{([^{{}}]*)\}}")
_ACCENT = re.compile(r"""\\([`'^"~=.]|[cvuH](?=[\s{]))\s*(?:\{\\?([A-Za-z])\}|\\?([A-Za-z]))""")
_LETTER = re.compile(r"\\(ss|ae|AE|[oOlLi])(?![A-Za-z])(?:\{\})?")
_ESCAPED = re.compile(r"\\([%&_#${}])")
# Inline math: $...$ on one line, its body neither starting nor ending with a space; not a
# price ("from $4 to $5"): see _math.
_MATH = re.compile(r"\$(?=\S)([^$\n]{1,200}?)(?<=\S)\$")
_MATHLIKE = re.compile(r"[\\^_{}]")
_SCRIPT = re.compile(r"([_^])(?:\{([^{}]*)\}|(\\[A-Za-z]+|[^\s{}\\]))")
_COMMAND = re.compile(r"\\([A-Za-z]+)\b\s?")
_RAISE = re.compile(r"\\?raise-?[\d.]*ex\s*")
_SPACES = re.compile(r"\\[,;:! ]")


@dataclass(frozen=True, slots=True)
class Detexed:
    """Text with its TeX turned into Unicode, and the spans (start, end) that were emphasised."""

    text: str
    emphasis: tuple[tuple[int, int], ...] = ()


def _accent(m: re.Match[str]) -> str:
    letter = m.group(2) or m.group(3)
    if (letter == "i" and m.group(0)[-2:-1] == "\\") or letter == "ı":
        letter = "i"
    return unicodedata.normalize("NFC", letter + _ACCENTS[m.group(1)])


def _script(m: re.Match[str]) -> str:
    body = m.group(2) if m.group(2) is not None else m.group(3)
    body = _commands(body)
    table, ok = (_SUPER, _SUPER_OK) if m.group(1) == "^" else (_SUB, _SUB_OK)
    if body and set(body) <= ok:
        return body.translate(table)
    return m.group(1) + (body if len(body) == 1 else f"({body})")


def _command(m: re.Match[str]) -> str:
    name = m.group(1)
    if name in _SYMBOLS:
        space = m.group(0)[len(name) + 1 :]
        return _SYMBOLS[name] + space
    if name in _STYLES:
        return ""
    return name + m.group(0)[len(name) + 1 :]  # a macro of the paper's own (\tool): its name


def _commands(text: str) -> str:
    return _COMMAND.sub(_command, text)


def _math(m: re.Match[str]) -> str:
    after = m.string[m.end() : m.end() + 1]
    if not _MATHLIKE.search(m.group(1)) and (after.isdigit() or m.group(1)[0].isdigit()):
        return m.group(0)  # two prices, not math
    body = _PLAIN.sub(r"\1", m.group(1))
    body = _SCRIPT.sub(_script, body)
    body = _commands(body)
    return body.replace("{", "").replace("}", "")


def detex(text: str) -> Detexed:
    """`text` with its TeX as Unicode: accents composed (Poincar\\'e -> Poincaré), escapes
    unescaped (\\% -> %), inline math as symbols ($\\mu$ -> μ, $x^2$ -> x²), style commands
    dropped with their text kept, and the emphasised parts (\\emph{x}, {\\em x}, and
    Markdown's **x**) as spans."""
    if not _TEXLIKE.search(text):
        return Detexed(text)
    text = text.replace(_OPEN, "").replace(_CLOSE, "")
    text = _MD_STRONG.sub(lambda m: _OPEN + m.group(1) + _CLOSE, text)
    text = _EMPH.sub(lambda m: _OPEN + (m.group(1) or m.group(2) or "") + _CLOSE, text)
    text = _MATH.sub(_math, text)
    text = _PLAIN.sub(r"\1", text)
    text = _ACCENT.sub(_accent, text)
    text = _LETTER.sub(lambda m: _LETTERS[m.group(1)], text)
    text = _RAISE.sub("", text)
    text = _SPACES.sub(" ", text)
    text = text.replace("\\\\", " ")
    text = _ESCAPED.sub(r"\1", text)
    text = _COMMAND.sub(_command, text)
    # Braces that only grouped TeX ({\scriptstyle\sim}4): gone once their command is.
    text = re.sub(r"\{([^{}\\]{0,3})\}", r"\1", text)
    return _spans(text)


def _spans(marked: str) -> Detexed:
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    at = 0
    start: int | None = None
    for ch in marked:
        if ch == _OPEN:
            start = at
        elif ch == _CLOSE:
            if start is not None and at > start:
                spans.append((start, at))
            start = None
        else:
            out.append(ch)
            at += 1
    return Detexed("".join(out), tuple(spans))


def unicode(text: str) -> str:
    """`text` with its TeX as Unicode, emphasis dropped: for one-line uses (a subject)."""
    return detex(text).text
