"""What the commands that only look say, line by line: `digest status` from what the state
holds, `digest check` from what a dump parses to (a reader's line is `readers.listed`'s).
Pure: values in, lines out; the command line prints them."""

from __future__ import annotations

from datetime import UTC, datetime

TYPE_CHECKING = False  # typing itself costs start-up time that cron pays on every run
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import tzinfo

    from digest.models import Dump, Outgoing, Rejected


LISTED = 10  # digests pending (or failed) named one a line; the others are counted


def status_lines(
    state: str,
    counts: Mapping[str, int],
    readers: Mapping[str, int],
    outbox: Sequence[Outgoing],
    recent: Sequence[Outgoing],
    untold: Sequence[Rejected],
    rejected: Sequence[Rejected],
    *,
    archive: str | None = None,
    notify: Sequence[str] = (),
    chats: Mapping[str, int] | None = None,
    service: Sequence[str] = (),
    zone: tzinfo | None = None,
    names: Mapping[int, str] | None = None,
) -> list[str]:
    """`digest status`: the state's counts (`StateStore.counts`, `reader_counts`), the
    digests pending then failed (`outbox`), the last ones sent among `recent`, the dumps that
    could not be read (those no delivered digest named yet, `untold`, then the last ones),
    where the archive is, the notification URLs (masked), readers' chat messages pending
    and failed (`chats`, when there are any), and the service's lines; every moment in
    `zone` (the service's time zone: DIGEST_TIMEZONE; None: UTC), named; each digest with
    the address of its reader (`names`, by reader id), when it has one."""
    tz = zone or UTC
    names = names or {}

    def whose(item: Outgoing) -> str:
        name = names.get(item.reader) if item.reader is not None else None
        return f" for {name}" if name else ""

    def at(moment: datetime | None) -> str:
        return f"{moment.astimezone(tz):%Y-%m-%d %H:%M %Z}" if moment else "?"

    lines = [
        f"state file: {state}",
        f"papers seen: {counts['papers_seen']}; awaiting delivery: {counts['papers_pending']};"
        f" dumps ingested: {counts['dumps']}",
    ]
    if readers["readers"]:
        lines.append(
            f"readers: {readers['readers']}; paused on their own: {readers['paused']};"
            f" unsubscribed: {readers['unsubscribed']}"
        )
    for status in ("pending", "failed"):
        listed = [d for d in outbox if d.status == status]
        for item in listed[:LISTED]:
            retry = ""
            if status == "pending" and item.next_attempt:
                retry = f" next try after {at(item.next_attempt)};"
            elif status == "failed":
                retry = f" send it again with `digest resend {item.id}`;"
            lines.append(
                f"{status}: digest {item.id}{whose(item)} of {at(item.created)},"
                f" {item.paper_count} papers, {item.attempts} attempts;{retry}"
                f" last error: {item.last_error or 'none'}"
            )
        if len(listed) > LISTED:  # a mail server's outage with many readers: say how many
            lines.append(f"{status}: and {len(listed) - LISTED} more digests")
    for item in [d for d in recent if d.status == "sent"][:5]:
        how = f"; {item.delivery_note}" if item.delivery_note else ""
        lines.append(
            f"sent: digest {item.id}{whose(item)}, {item.paper_count} papers,"
            f" at {at(item.sent_at)}{how}"
        )
    lines += [f"rejected: {r.file}: {r.reason} (to be named in the next digest)" for r in untold]
    lines += [f"rejected: {r.file}: {r.reason}" for r in rejected if r not in untold]
    if archive:
        lines.append(f"archive: {archive}")
    if notify:
        lines.append(f"notify: {', '.join(notify)}")
    if chats and (chats["pending"] or chats["failed"]):
        lines.append(
            f"chat messages: {chats['pending']} pending (tried again when due),"
            f" {chats['failed']} failed"
        )
    return lines + list(service)


def check_lines(path: str, dump: Dump, titles: int) -> list[str]:
    """`digest check` of a dump that parsed: its format, encoding, papers and date, its
    warnings, and its first `titles` titles."""
    from digest.render.views import day  # rendering is not loaded by the status above

    date = day(dump.listed) if dump.listed else dump.listing_date or "no date"
    lines = [f"{path}: {dump.format} dump, {dump.encoding}, {len(dump.papers)} papers, {date}"]
    lines += [f"  warning: {warning}" for warning in dump.warnings]
    lines += [f"  - {paper.title}" for paper in dump.papers[:titles]]
    if len(dump.papers) > titles:
        lines.append(f"  ... and {len(dump.papers) - titles} more")
    return lines


def unreadable_line(path: str, why: object) -> str:
    """`digest check` of a file that could not be read."""
    return f"{path}: cannot be read: {why}"
