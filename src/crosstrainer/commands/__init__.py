"""The ``crosstrainer`` verbs, one module each with a ``register(app)`` (see ``crosstrainer.cli``)."""

from __future__ import annotations


def use_threads(n: int | None) -> None:
    """Set torch's CPU thread count for this process (the one place that does; library code never does)."""
    if n:
        import torch

        torch.set_num_threads(int(n))


_SIGINT_SEEN = [False]


def watch_sigint() -> None:
    """Ctrl-C raises KeyboardInterrupt as usual and is also remembered: Python drops an exception raised inside a
    weakref or import-lock callback ("Exception ignored in ..."), so a Ctrl-C during a heavy import could otherwise be
    lost and the run go on. :func:`raise_if_interrupted` turns the memory into the documented error. A SIGINT that
    the process was started ignoring (``cmd &``, nohup) stays ignored."""
    import signal

    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return

    def on_sigint(signum: int, frame: object) -> None:
        _SIGINT_SEEN[0] = True
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_sigint)


def raise_if_interrupted() -> None:
    """Raise the KeyboardInterrupt again (exit 130, ``error: interrupted``) when a Ctrl-C came but was swallowed."""
    if _SIGINT_SEEN[0]:
        raise KeyboardInterrupt
