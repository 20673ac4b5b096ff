"""SIGTERM/SIGHUP/SIGINT end a run the way Ctrl-C does: an exception unwinds the stack, so atomic
outputs drop their temporaries (or a recording is finalised) and the process exits 128 + signal."""
from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

HANDLED = tuple(s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGHUP")) if s is not None)


class Interrupted(KeyboardInterrupt):
    """Raised in the main thread by a handled signal; a KeyboardInterrupt, so Ctrl-C paths apply."""

    def __init__(self, signum: int = signal.SIGINT):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _raise(signum: int, _frame) -> None:
    # ignore repeats while we unwind: a second Ctrl-C must not cut the clean-up short
    for s in HANDLED:
        signal.signal(s, signal.SIG_IGN)
    raise Interrupted(signum)


@contextlib.contextmanager
def handled_signals() -> Iterator[None]:
    """Turn the handled signals into Interrupted while the block runs (main thread only; restored after).
    SIGXFSZ is ignored so a file-size limit surfaces as an OSError (one line) rather than a core dump."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in HANDLED}
    xfsz = getattr(signal, "SIGXFSZ", None)
    old_xfsz = signal.getsignal(xfsz) if xfsz else None
    for s in HANDLED:
        signal.signal(s, _raise)
    if xfsz:
        signal.signal(xfsz, signal.SIG_IGN)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h if h is not None else signal.SIG_DFL)
        if xfsz:
            signal.signal(xfsz, old_xfsz if old_xfsz is not None else signal.SIG_DFL)
