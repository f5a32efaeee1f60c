"""Reading a whole text file as UTF-8 lines, with line numbers in every error."""

from __future__ import annotations

from pathlib import Path

from ..errors import MptError


def read_lines(path: Path) -> tuple[bytes, list[str]]:
    """The raw bytes (for hashing) and the decoded lines, without the newline that ends the file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MptError(f"cannot read {path}: {exc.strerror}") from None
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    decoded = []
    for number, line in enumerate(lines, 1):
        try:
            decoded.append(line.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError:
            raise MptError(f"{path.name} line {number}: not valid UTF-8") from None
    if decoded and decoded[0].startswith("\ufeff"):
        decoded[0] = decoded[0][1:]
    return raw, decoded
