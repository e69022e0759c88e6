"""The ``crosstrainer`` command. Each verb lives in ``crosstrainer/commands/<verb>.py`` with a ``register(app)``.

Failures print one line, ``error: ...``, and exit with the code of the error class (see ``crosstrainer.errors``);
``--debug`` (or ``CROSSTRAINER_DEBUG=1``) shows the traceback instead.

Ctrl-C: typer turns a ``KeyboardInterrupt`` into a *returned* exit code 130 when the app runs with
``standalone_mode=False`` (and click into ``Abort``), so an interrupted run used to end as a silent exit 0. Every
command callback is therefore wrapped (``_interruptible``) to raise ``Interrupted`` (exit 130, ``error: interrupted``)
itself, and ``main`` also honours an exit code that the framework returns instead of raising.
"""

from __future__ import annotations

import functools
import importlib
import os
import signal
import sys
import warnings
from pathlib import Path

import typer

from crosstrainer import __version__
from crosstrainer.errors import CrossTrainerError, Interrupted, file_access_error

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
    "10 a file could not be written or read (disk full, permissions), 130 interrupted.",
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


def _interruptible(callback):
    """``callback`` with Ctrl-C turned into ``Interrupted`` before typer/click can turn it into a return value."""
    if getattr(callback, "_crosstrainer_interruptible", False):
        return callback

    @functools.wraps(callback)
    def run(*args, **kwargs) -> None:  # a command's return value is dropped: an int returned by app() is an exit code
        try:
            callback(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted("interrupted") from None

    run._crosstrainer_interruptible = True  # type: ignore[attr-defined]
    return run


def _wrap_commands(typer_app: typer.Typer) -> None:
    for info in typer_app.registered_commands:
        if info.callback is not None:
            info.callback = _interruptible(info.callback)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            if group.typer_instance.registered_callback and group.typer_instance.registered_callback.callback:
                cb = group.typer_instance.registered_callback
                cb.callback = _interruptible(cb.callback)
            _wrap_commands(group.typer_instance)


_wrap_commands(app)


def error_line(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return f"error: {msg}"


def file_access_cause(exc: BaseException) -> CrossTrainerError | None:
    """The ``FileAccessError`` for a full disk or a permission problem anywhere in ``exc``'s chain, else None.

    Writers wrap the ``OSError`` (``torch.save`` under ENOSPC raises a ``RuntimeError`` from its zip writer), so the
    chain (``__cause__``/``__context__``) is searched, not only ``exc`` itself.
    """
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError):
            known = file_access_error(cur)
            if known is not None:
                return known
        cur = cur.__cause__ or cur.__context__
    return None


def _usage_line(exc: Exception, argv: list[str]) -> str:
    """One ``error:`` line for a click usage error; a file name that starts with '-' gets the ``--`` hint."""
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    message = " ".join(message.split())
    dashed = [a for a in argv if a.startswith("-") and not a.startswith("--") and len(a) > 2 and "=" not in a]
    dashed += [a for a in argv if a.startswith("-") and a != "--" and Path(a).exists()]
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "crosstrainer"
    if dashed and "option" in message.lower():
        name = dashed[0]
        return (
            f"error: {message} (is {name!r} a file name? put -- before file names that start with '-': "
            f"{where} -- {name})"
        )
    return f"error: {message} (see {where} --help)"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns (and exits with) the documented exit code."""
    debug = os.environ.get("CROSSTRAINER_DEBUG") == "1" or "--debug" in (argv if argv is not None else sys.argv)
    if not debug:  # library deprecation chatter is not for users; --debug shows it
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", category=UserWarning)
    args = list(argv) if argv is not None else sys.argv[1:]
    if argv is None:  # the process is ours (not a test calling main): remember a Ctrl-C even if a library drops it
        from crosstrainer.commands import watch_sigint

        watch_sigint()
    try:
        rv = app(args=args, standalone_mode=False)
        # standalone_mode=False: typer *returns* the code of a typer.Exit (and 130 for a Ctrl-C outside a command)
        code = rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
        if code == 130:
            print("error: interrupted", file=sys.stderr)
    except CrossTrainerError as exc:
        if debug and not isinstance(exc, Interrupted):
            raise
        print(error_line(exc), file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        code = 130
    except typer.Exit as exc:
        code = exc.exit_code
    except (typer.Abort, EOFError) as exc:
        if isinstance(exc.__context__, KeyboardInterrupt):  # click's own handling of Ctrl-C
            print("error: interrupted", file=sys.stderr)
            code = 130
        else:
            code = 1
    except Exception as exc:  # usage errors of the CLI framework, a full disk, and the unexpected
        known = None if debug else file_access_cause(exc)  # a full disk or a permission problem is the user's to fix
        if known is not None:
            print(error_line(known), file=sys.stderr)
            code = known.exit_code
        elif exc.__class__.__name__ == "NoArgsIsHelpError" and hasattr(exc, "show"):
            exc.show()  # the command's help, as asked for by running it without arguments
            code = exc.exit_code
        elif hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):
            print(_usage_line(exc, args), file=sys.stderr)  # one line, never click's four-line usage box
            code = exc.exit_code
        elif debug:
            raise
        else:
            print(f"{error_line(exc)} (internal error: {exc.__class__.__name__}; rerun with --debug)", file=sys.stderr)
            code = 1
    if argv is None:
        # the work is over and its outcome decided: a Ctrl-C during interpreter shutdown (library finalisers)
        # must neither print a traceback nor turn a finished run into a failure
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.exit(code)
    return code


if __name__ == "__main__":
    main()
