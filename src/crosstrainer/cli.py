"""The ``crosstrainer`` command. Each verb lives in ``crosstrainer/commands/<verb>.py`` with a ``register(app)``.

Failures print one line, ``error: ...``, and exit with the code of the error class (see ``crosstrainer.errors``);
``--debug`` (or ``CROSSTRAINER_DEBUG=1``) shows the traceback instead.
"""

from __future__ import annotations

import importlib
import os
import sys
import warnings

import typer

from crosstrainer import __version__
from crosstrainer.errors import CrossTrainerError

COMMAND_MODULES = (
    "crosstrainer.commands.assess",
    "crosstrainer.commands.keypoints",
    "crosstrainer.commands.train",
    "crosstrainer.commands.extract",
    "crosstrainer.commands.discover",
    "crosstrainer.commands.evaluate",
    "crosstrainer.commands.serve",
)

app = typer.Typer(
    name="crosstrainer",
    help="Transferable skill assessment from video: proficiency, skill-attributes to improve, and feedback.\n\n"
    "Exit codes: 0 ok, 1 internal error, 2 usage, 3 input not found, 4 invalid video, 5 no person, "
    "6 invalid keypoints/annotations, 7 model error, 8 some inputs of a batch failed, 9 missing resource, "
    "130 interrupted.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"crosstrainer {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
) -> None:
    if debug:
        os.environ["CROSSTRAINER_DEBUG"] = "1"


for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def error_line(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return f"error: {msg}"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns (and exits with) the documented exit code."""
    debug = os.environ.get("CROSSTRAINER_DEBUG") == "1" or "--debug" in (argv if argv is not None else sys.argv)
    if not debug:  # library deprecation chatter is not for users; --debug shows it
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=UserWarning)
    try:
        app(args=argv, standalone_mode=False)
        code = 0
    except CrossTrainerError as exc:
        if debug:
            raise
        print(error_line(exc), file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted; finished outputs were kept", file=sys.stderr)
        code = 130
    except typer.Exit as exc:
        code = exc.exit_code
    except (typer.Abort, EOFError):
        code = 1
    except Exception as exc:  # usage errors of the CLI framework, and the unexpected
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()
            code = exc.exit_code
        elif debug:
            raise
        else:
            print(f"{error_line(exc)} (internal error: {exc.__class__.__name__}; rerun with --debug)", file=sys.stderr)
            code = 1
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
