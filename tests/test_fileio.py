"""Atomic writes (crosstrainer.fileio), on small synthetic files in a temporary folder."""

from __future__ import annotations

import doctest
import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest

import crosstrainer.fileio as fileio
from crosstrainer.fileio import atomic_path, atomic_write, atomic_write_bytes, atomic_write_json, atomic_write_text


def test_docstring_examples() -> None:
    assert doctest.testmod(fileio).failed == 0


def test_writes_replace_the_file_and_leave_nothing_else(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    assert atomic_write_json(target, {"b": [1, 2]}) == target
    assert json.loads(target.read_text()) == {"b": [1, 2]} and target.read_text().endswith("\n")
    atomic_write_text(target, "ü\n")
    assert target.read_text(encoding="utf-8") == "ü\n"
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    with atomic_write(tmp_path / "c.npy", "wb") as fh:
        np.save(fh, np.arange(3))
    with atomic_path(tmp_path / "d.txt") as tmp:  # writers that only take a path (torch.save, safetensors)
        np.savetxt(tmp, np.arange(4))
    assert np.array_equal(np.load(tmp_path / "c.npy"), np.arange(3))
    assert np.array_equal(np.loadtxt(tmp_path / "d.txt"), np.arange(4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.bin", "c.npy", "d.txt"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write("half of the new")
        raise RuntimeError("killed")
    with pytest.raises(TypeError):  # not JSON-serialisable: nothing is replaced
        atomic_write_json(target, {"x": object()})
    with pytest.raises(RuntimeError), atomic_path(target):
        raise RuntimeError("killed")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_permissions_are_kept_or_the_umask_default(tmp_path: Path) -> None:
    new = atomic_write_text(tmp_path / "new.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(new.stat().st_mode) == 0o666 & ~mask  # not the 0600 of a temporary file
    old = tmp_path / "old.txt"
    old.write_text("x")
    old.chmod(0o640)
    atomic_write_text(old, "y")
    assert stat.S_IMODE(old.stat().st_mode) == 0o640
