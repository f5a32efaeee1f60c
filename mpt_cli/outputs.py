"""Writing outputs without ever losing a user's files.

Every file or folder mpt writes goes through :class:`atomic_path`: it is written beside its target
under a temporary name and renamed over it only when complete. Before any work, :func:`check_writable`
makes sure the write cannot destroy anything that is not mpt's own: ``--overwrite`` replaces one file,
or one folder that carries mpt's marker, and never the folder you run from (or a parent of it), your
home, an input or a folder holding an input; a file is never replaced by a folder or the reverse.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

from .data.paths import existing_path
from .errors import MptError

MARKER = ".mpt-output"
"""An empty file in every folder mpt writes: proof for ``--overwrite`` that the folder is mpt's own."""
LEGACY_TEMP_AGE_S = 3600
"""Temporary folders of earlier versions carry no process id: they count as stale after an hour."""


def check_writable(target: Path, overwrite: bool, *, folder: bool = False, inputs: Iterable[Path | str] = ()) -> None:
    """Fail early, before hours of work, unless writing ``target`` (a file, or a folder when ``folder``)
    is safe; ``inputs`` are the paths this run reads, which it must never replace."""
    shown = str(target) or "''"
    target = Path(target)
    resolved = target.resolve()
    here = Path.cwd().resolve()
    if resolved in (here, *here.parents, Path.home().resolve()):
        raise MptError(f"refusing to write to {shown}: it is the folder you run from, one of its parents or your home")
    for item in inputs:
        item_resolved = Path(item).expanduser().resolve()
        inside = item_resolved.is_dir() and item_resolved in resolved.parents and target.exists()
        if resolved == item_resolved or resolved in item_resolved.parents or inside:
            what = "is" if resolved == item_resolved else "is inside" if inside else "holds"
            raise MptError(f"refusing to write to {shown}: it {what} the input {item}; choose another output")
    if target.exists() or target.is_symlink():
        if not overwrite:
            raise MptError(f"{target} already exists; pass --overwrite to replace it")
        if folder and not target.is_dir():
            raise MptError(f"{target} is a file and mpt writes a folder there; remove it or choose another name")
        if not folder and target.is_dir():
            raise MptError(f"{target} is a folder and mpt writes a file there; remove it or choose another name")
        if folder and not (target / MARKER).is_file():
            raise MptError(
                f"{target} was not written by mpt (it has no {MARKER} file), so --overwrite leaves it alone; "
                "remove it yourself or choose another folder"
            )
    parent = target.parent.absolute()
    existing = next(p for p in (parent, *parent.parents) if p.exists())  # the root always exists
    if not existing.is_dir():
        raise MptError(f"cannot create output folder {parent}: {existing} is a file")
    if not os.access(existing, os.W_OK):
        raise MptError(f"output folder {existing} is not writable")


def local_paths(*specs: str | Path | None) -> list[Path]:
    """The specs that name existing local files or folders (hub ids, unset options and data given in Python drop out)."""
    paths = []
    for spec in (s for s in specs if isinstance(s, (str, Path))):
        for part in str(spec or "").split(","):  # "SRC_FILE,TGT_FILE" names two inputs
            if part and (path := existing_path(part)):
                paths.append(path)
    return paths


class atomic_path:
    """Context manager yielding a temporary path beside ``target``; renamed over it only on success.

    The caller creates a file at the yielded path, or a folder when ``folder`` (which then gets mpt's
    marker). A failure leaves the old target as it was; an ``OSError`` (disk full, permissions) becomes
    one clear :class:`MptError`. A folder cannot be renamed over another, so the old one is first moved
    into the temporary folder, the new one moved in, and only then the old one deleted: at every instant
    a complete old or new folder exists. What a killed run left (a half-written temporary, or a
    replacement stopped between its two renames) is finished or removed by the next write beside it.
    """

    def __init__(self, target: Path, overwrite: bool = False, *, folder: bool = False, inputs: Iterable[Path | str] = ()):
        self.target, self.folder = Path(target), folder
        try:  # before the checks: a replacement stopped midway may have taken the target away
            if self.target.parent.is_dir():
                remove_stale_temporaries(self.target.parent, self.target.name)
        except OSError as exc:
            raise self._failed(exc) from None
        check_writable(self.target, overwrite, folder=folder, inputs=inputs)

    def __enter__(self) -> Path:
        parent = self.target.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            prefix = f".{self.target.name}.mpt-{os.getpid()}-"
            self.tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent)) / self.target.name
        except OSError as exc:
            raise self._failed(exc) from None
        return self.tmp

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            try:
                self._commit()
            except OSError as error:
                exc = error
                aside = self.tmp.parent / REPLACED
                if aside.exists() and not self.target.exists():  # the new one did not move in: the old one goes back
                    os.replace(aside, self.target)
        if exc is not None:
            shutil.rmtree(self.tmp.parent, ignore_errors=True)
        if isinstance(exc, OSError):
            raise self._failed(exc) from None

    def _failed(self, exc: OSError) -> MptError:
        return MptError(f"cannot write {self.target}: {exc.strerror or exc}")

    def _commit(self) -> None:
        if self.folder:
            (self.tmp / MARKER).touch()
        _apply_umask(self.tmp)
        if self.target.is_dir() and not self.target.is_symlink():
            os.replace(self.target, self.tmp.parent / REPLACED)
        os.replace(self.tmp, self.target)
        shutil.rmtree(self.tmp.parent, ignore_errors=True)  # the old folder with it; the next write retries what is left


REPLACED = ".mpt-replaced"
"""Where a folder being replaced waits, inside the temporary folder, until the new one has moved in."""
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.mpt-(?P<pid>\d+)-[A-Za-z0-9_]{8}$")
_LEGACY_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]{8}$")


def remove_stale_temporaries(folder: Path, name: str) -> None:
    """Settle the temporary folders in ``folder`` whose writer is gone (killed mid-write): any of this
    version's, by process id, and an earlier version's copies of ``name`` older than an hour. A
    replacement stopped between its renames is finished: the new folder, complete, moves in."""
    for item in folder.glob(".*"):
        if match := _TEMPORARY.match(item.name):
            stale = not _process_alive(int(match["pid"]))
        elif (match := _LEGACY_TEMPORARY.match(item.name)) and match["name"] == name:
            stale = time.time() - item.stat().st_mtime > LEGACY_TEMP_AGE_S
        else:
            continue
        # only the layout atomic_path makes (a folder holding at most the one target and the one it replaces) is ours
        if not (stale and item.is_dir() and set(os.listdir(item)) <= {match["name"], REPLACED}):
            continue
        target, new, old = folder / match["name"], item / match["name"], item / REPLACED
        if old.exists() and not (target.exists() or target.is_symlink()):
            os.replace(new if (new / MARKER).is_file() else old, target)
        shutil.rmtree(item, ignore_errors=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _apply_umask(path: Path) -> None:
    """mkdtemp makes private (0700) folders; give results the permissions a plain write would."""
    umask = os.umask(0)
    os.umask(umask)
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        item.chmod((0o777 if item.is_dir() else 0o666) & ~umask)


def human_size(count: float) -> str:
    """A byte count as people read it: ``512 B``, ``1.6 MB``."""
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return ""
