"""The files channel: the digest as HTML, text, Markdown and JSON files in a folder, and the
mail message as an .eml file."""

from __future__ import annotations

from pathlib import Path

from digest.channels import EVERYTHING, Channel
from digest.disk import write_atomically
from digest.errors import TransientDeliveryError
from digest.models import Outgoing
from digest.outputs import FORMATS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from digest.settings import Settings


def file_stem(outgoing: Outgoing, taken: int = 0) -> str:
    """Output files are named by the digest's date and number, digest-2025-03-12-0017: two
    digests made in the same second stay apart. When that name holds another digest's files
    (the state file was reset, say), the next free one: digest-2025-03-12-0017-2."""
    suffix = f"-{taken + 1}" if taken else ""
    return f"digest-{outgoing.created:%Y-%m-%d}-{outgoing.id:04d}{suffix}"


def _holds_other(path: Path, data: bytes) -> bool:
    """Whether `path` holds something other than `data` (an earlier digest's file)."""
    try:
        return path.stat().st_size != len(data) or path.read_bytes() != data
    except FileNotFoundError:
        return False


class FilesDeliverer:
    """Writes the digest as HTML, text, Markdown and JSON files into a folder, and the complete
    mail message as an .eml file: exactly what would have been mailed."""

    needs = EVERYTHING

    def __init__(self, out: Path | None) -> None:
        self._out = out

    @property
    def out(self) -> Path:
        """The folder: as given, else the user data folder's digests/ (looked up only when
        something is written, so a run with nothing new does not pay for it)."""
        from digest.settings import default_out

        return self._out or default_out()

    def deliver(self, outgoing: Outgoing) -> str:
        files = [(FORMATS[f].extension, made.encode("utf-8")) for f, made in outgoing.parts.items()]
        if outgoing.eml:
            files.append(("eml", outgoing.eml))
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            paths = self._write_new(outgoing, files)
        except OSError as e:  # a full disk or a permission can be fixed: try again next run
            raise TransientDeliveryError(
                f"cannot write the digest to {self.out}: {e.strerror}"
            ) from None
        return "wrote " + ", ".join(str(p) for p in paths)

    def _write_new(self, outgoing: Outgoing, files: list[tuple[str, bytes]]) -> list[Path]:
        """Write the files under the first name whose files are absent or the same bytes (a
        retry of this very digest): an earlier digest's files are never overwritten."""
        taken = 0
        while True:
            paths = [(self.out / f"{file_stem(outgoing, taken)}.{ext}", d) for ext, d in files]
            if not any(_holds_other(path, data) for path, data in paths):
                try:
                    for path, data in paths:
                        if not path.exists():
                            write_atomically(path, data, replace=False)
                    return [path for path, _ in paths]
                except FileExistsError:
                    pass  # written by someone else meanwhile: look again
            taken += 1


def _build(settings: Settings, recipients: Sequence[str] = ()) -> FilesDeliverer:
    check_apart(settings)
    return FilesDeliverer(settings.out)


def check_apart(settings: Settings) -> None:
    """Refuse an output folder inside the inbox, or the other way round."""
    from digest.inbox import check_apart
    from digest.settings import default_out

    if settings.inbox is not None:
        check_apart(settings.inbox, settings.out or default_out())


def _describe(settings: Settings) -> str:
    from digest.settings import default_out

    return f"files in {settings.out or default_out()}"


CHANNEL = Channel("files", ("out",), _build, _describe)
