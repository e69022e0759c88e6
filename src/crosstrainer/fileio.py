"""Atomic file writes: the one way CrossTrainer replaces a file, so a kill or a full disk never leaves half a file.

Each writer goes to a temporary file in the target's folder (``.<name>.<random>.tmp``: hidden, unique per writer, so
concurrent processes and threads never share one), flushes and fsyncs it, then ``os.replace``-s it onto the target
(atomic on one file system); on any error the temporary file is removed and the old target is left as it was.
The new file gets the old file's permission bits, or the umask's default for a new file.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> atomic_write_json(folder / "a.json", {"b": 1}, indent=None).read_text()
'{"b": 1}\\n'
>>> with atomic_write(folder / "c.jsonl") as fh:
...     _ = fh.write("one line\\n")
>>> sorted(p.name for p in folder.iterdir())  # no temporary file left behind
['a.json', 'c.jsonl']
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_path",
    "atomic_write",
    "atomic_write_bytes",
    "atomic_write_json",
    "atomic_write_text",
    "unwritable_reason",
]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def _temp_file(target: Path, mode: str, encoding: str | None) -> IO[Any]:
    """A new temporary file beside ``target`` (its folder is created when missing)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    return tempfile.NamedTemporaryFile(
        mode=mode,
        encoding=encoding,
        dir=target.parent,
        prefix=f".{target.name}.",
        suffix=".tmp",
        delete=False,
    )


def _commit(tmp: Path, target: Path) -> None:
    """Give ``tmp`` the target's permissions (or a new file's) and move it onto ``target``."""
    try:
        bits = stat.S_IMODE(target.stat().st_mode)
    except OSError:
        bits = 0o666 & ~_UMASK
    os.chmod(tmp, bits)
    os.replace(tmp, target)


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w", encoding: str = "utf-8") -> Iterator[IO[Any]]:
    """Open a temporary file for writing (``mode`` ``"w"`` or ``"wb"``); it replaces ``path`` when the block ends.

    For streaming writers: JSONL lines, ``np.save``/``np.savez`` into the handle, ``torch.save`` into the handle.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write mode must be 'w' or 'wb', not {mode!r}")
    target = Path(path)
    fh = _temp_file(target, mode, None if "b" in mode else encoding)
    tmp = Path(fh.name)
    try:
        with fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _commit(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path next to ``path`` for writers that only take a path (safetensors ``save_file``, ...).

    The writer creates or overwrites the temporary file inside the block; it replaces ``path`` when the block ends.
    The writer must write that exact path: ``np.save`` would append ``.npy``, so give it ``atomic_write`` instead.
    """
    target = Path(path)
    with _temp_file(target, "wb", None) as fh:
        tmp = Path(fh.name)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        _commit(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; returns the path."""
    with atomic_write(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically; returns the path."""
    with atomic_write(path, "w", encoding=encoding) as fh:
        fh.write(text)
    return Path(path)


def atomic_write_json(path: str | Path, obj: Any, indent: int | None = 2, **dumps: Any) -> Path:
    """Write ``json.dumps(obj, indent=indent, **dumps)`` and a final newline to ``path`` atomically; returns the path.

    ``dumps`` are further ``json.dumps`` options (``sort_keys``, ``ensure_ascii``, ``default``, ``separators``).
    """
    return atomic_write_text(path, json.dumps(obj, indent=indent, **dumps) + "\n")


def unwritable_reason(path: str | Path, folder: bool = False) -> str | None:
    """Why ``path`` could not be written (None when it can): checked before a long job, so it fails at once.

    ``folder=False``: ``path`` is a file to create or replace; ``folder=True``: a folder to create files in. The
    nearest existing folder is tested by creating (and removing) a hidden temporary file there, the one test that
    holds for root, ACLs, read-only and full file systems alike; nothing is left behind, no folder is created.

    >>> unwritable_reason("/proc/no/such/place.json") is not None
    True
    """
    target = Path(path)
    if folder and target.exists() and not target.is_dir():
        return f"{target} is a file, not a folder"
    if not folder and target.is_dir():
        return f"{target} is a folder, not a file"
    probe = target if folder else target.parent
    probe = probe if str(probe) else Path(".")
    while not probe.exists():
        if probe.is_symlink():
            return f"{probe} is a broken link"
        parent = probe.parent
        if parent == probe:
            break
        probe = parent
    if not probe.is_dir():
        return f"{probe} is a file, not a folder"
    try:
        with tempfile.NamedTemporaryFile(dir=probe, prefix=".crosstrainer-write-check.", suffix=".tmp"):
            pass
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        return f"cannot write in {probe}: {reason[:1].lower() + reason[1:]}"
    return None
