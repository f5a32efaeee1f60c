"""Reading a whole text file as UTF-8 lines, with line numbers in every error."""

from __future__ import annotations

import json
from pathlib import Path

from ..errors import MptError


def json_object(text: str, where: str) -> dict:
    """The JSON object on one JSONL line; malformed, too deeply nested or oversized input is one clear error."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MptError(f"{where}: invalid JSON ({exc.msg})") from None
    except RecursionError:
        raise MptError(f"{where}: invalid JSON (nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise MptError(f"{where}: invalid JSON ({exc})") from None
    if not isinstance(record, dict):
        raise MptError(f"{where}: expected a JSON object")
    return record


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
