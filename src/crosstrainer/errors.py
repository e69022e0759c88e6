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
| 130  | (KeyboardInterrupt)       | interrupted; finished outputs are kept                          |
"""

from __future__ import annotations


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
