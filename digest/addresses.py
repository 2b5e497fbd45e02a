"""A reader's address in the one form readers are told apart by, and the readers a state holds
under other spellings of one address. Pure: the readers file and the state both use it."""

from __future__ import annotations

from collections.abc import Iterable

from digest.models import ReaderState


def address_key(email: str) -> str:
    """An address in the one form readers are told apart by: the domain as IDNA ASCII (what
    mail is sent to), lower case and without a final dot; the local part in lower case too.
    Local parts may be case-sensitive by the letter of RFC 5321, but no mail service in use
    treats Ann@ and ann@ as two mailboxes, whereas two readers for one mailbox mean every
    digest twice, and an unsubscribed reader back by writing their address another way."""
    local, at, domain = email.strip().rpartition("@")
    if not at:
        return email.strip().lower()
    try:
        ascii_domain = domain.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:  # not an address a reader can have (refused on load): as written
        ascii_domain = domain
    return f"{local.lower()}@{ascii_domain.lower()}"


def respelled(found: Iterable[ReaderState]) -> list[tuple[ReaderState, list[int]]]:
    """The readers a state holds under another spelling of their address than address_key's
    (a Unicode domain, a final dot: as states before it kept them), as the one reader each
    address is, with the ids of the others it takes in. That reader is the first added,
    with their token; as far on as the furthest (every digest went to the one mailbox);
    with all of their own preferences (the first's first), and paused or unsubscribed if
    any of them was: no other spelling undoes an unsubscribe."""
    import dataclasses

    spellings: dict[str, list[ReaderState]] = {}
    for state in found:
        if state.key:  # "": the one reader of DIGEST_TO
            spellings.setdefault(address_key(state.key), []).append(state)
    merged = []
    for key, same in spellings.items():
        if [s.key for s in same] == [key]:
            continue
        same.sort(key=lambda s: s.id)
        prefs: dict[str, object] = {}
        for state in reversed(same):
            prefs.update(state.prefs)
        for flag in ("paused", "unsubscribed"):
            if any(s.prefs.get(flag) for s in same):
                prefs[flag] = True
        one = dataclasses.replace(
            same[0],
            key=key,
            upto=max(s.upto for s in same),
            token=next((s.token for s in same if s.token), None),
            prefs=prefs,
        )
        merged.append((one, [s.id for s in same[1:]]))
    return merged
