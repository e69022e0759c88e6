"""Errors a user can act on, each with a documented process exit code.

Every failure the CLI reports is one line: ``error: <message>`` on stderr, then ``exit <code>``.
Scripts can rely on the codes below (they are also listed in ``crosstrainer --help`` and the README).

| code | error                     | examples                                                        |
|------|---------------------------|-----------------------------------------------------------------|
| 0    | -                         | success                                                         |
| 1    | CrossTrainerError         | an unexpected internal error (rerun with ``--debug``)           |
| 2    | UsageError                | bad option or value (also typer/click usage errors)             |
| 3    | InputNotFoundError        | the file or folder does not exist                               |
| 4    | InvalidVideoError         | not a video, corrupt or zero-length video                       |
| 5    | NoPersonError             | no person detected in the video                                 |
| 6    | InvalidKeypointsError     | keypoint array of the wrong shape, malformed JSON/CSV/annotation|
| 7    | ModelError                | model folder missing, incomplete, or from another version       |
| 8    | PartialFailure            | a batch finished but some inputs failed (see the report)        |
| 9    | MissingResourceError      | a local checkpoint/server/binary that an opt-in backend needs   |
| 10   | FileAccessError           | a file could not be written or read: disk full, permission      |
|      |                           | denied, read-only file system (the previous file is kept)       |
| 130  | Interrupted               | interrupted (Ctrl-C, SIGINT); finished outputs are kept         |

Output paths (``--json``, ``--report``, ``--out-dir``) are checked before any model loads: one that cannot be
written is a usage error (2) at once. A write that fails later (the disk fills up during a long run) is exit 10;
every file is written atomically (``crosstrainer.fileio``), so the previous version of the file is left intact.
"""

from __future__ import annotations

import errno


class CrossTrainerError(Exception):
    """Base class: a clear message for the user and an exit code for scripts."""

    exit_code = 1


class UsageError(CrossTrainerError):
    exit_code = 2


class InputNotFoundError(CrossTrainerError):
    exit_code = 3


class InvalidVideoError(CrossTrainerError):
    exit_code = 4


class NoPersonError(CrossTrainerError):
    exit_code = 5


class InvalidKeypointsError(CrossTrainerError):
    exit_code = 6


class InvalidAnnotationError(InvalidKeypointsError):
    """A malformed or empty annotation/label file (same exit code as bad keypoints: bad input data)."""


class ModelError(CrossTrainerError):
    exit_code = 7


class PartialFailure(CrossTrainerError):
    exit_code = 8


class MissingResourceError(CrossTrainerError):
    exit_code = 9


class FileAccessError(CrossTrainerError):
    """A file could not be written or read (disk full, permission denied, read-only file system)."""

    exit_code = 10


class Interrupted(CrossTrainerError):
    """Ctrl-C (SIGINT): the CLI stops, keeps the outputs already finished and leaves no partial file."""

    exit_code = 130


# OSError numbers that are the user's to fix (space, permissions), not a bug: reported as FileAccessError.
FILE_ACCESS_ERRNOS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.EFBIG: "file too large for the file system",
}


def file_access_error(exc: OSError, doing: str = "write") -> FileAccessError | None:
    """The ``FileAccessError`` for a disk-full or permission ``OSError`` (None for any other OSError).

    >>> str(file_access_error(OSError(errno.ENOSPC, "No space left on device", "out/a.json")))
    'cannot write out/a.json: no space left on the device (the previous file, if any, is unchanged)'
    """
    reason = FILE_ACCESS_ERRNOS.get(exc.errno)  # type: ignore[arg-type]
    if reason is None:
        return None
    what = exc.filename if exc.filename is not None else "a file"
    tail = " (the previous file, if any, is unchanged)" if doing == "write" else ""
    return FileAccessError(f"cannot {doing} {what}: {reason}{tail}")
