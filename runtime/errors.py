"""User-facing errors and the CLI convention: one line on stderr, exit code 2."""
from __future__ import annotations

import errno
import functools
import os
import sys
import threading
from typing import Callable, TypeVar

EXIT_USER_ERROR = 2
EXIT_PARTIAL = 1  # --keep-going: some inputs failed, the good ones were written
# write failures that are the user's environment, not a bug: said in one line
_ENV_ERRNOS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
               errno.EFBIG: "file too large (file-size limit)", errno.EROFS: "read-only file system",
               errno.EACCES: "permission denied"}


class StylecastError(Exception):
    """An error the user caused (bad file, bad flag, missing dependency): printed as one line."""

    exit_code = EXIT_USER_ERROR


class PartialFailure(StylecastError):
    """Some inputs failed and the rest were written (--keep-going): one line listing them, exit 1."""

    exit_code = EXIT_PARTIAL


class InputError(StylecastError):
    """A missing, unreadable or malformed input file."""


class DependencyError(StylecastError):
    """An optional dependency (torch, TensorRT, a GPU) is needed but absent."""


F = TypeVar("F", bound=Callable[..., object])


def one_line(message: str) -> str:
    """Collapse a message to a single line so the CLI convention holds for any text."""
    return " ".join(str(message).split())


def _prog() -> str:
    prog = (sys.argv[0].rsplit("/", 1)[-1] or "stylecast").removesuffix(".py")
    return "stylecast" if prog in ("__main__", "-m", "-c") else prog


def cli_entry(func: F) -> F:
    """Wrap a CLI main: StylecastError (and disk full, read-only, out of memory) -> 'prog: error: ...' on
    stderr and exit 2; Ctrl-C, SIGTERM, SIGHUP -> exit 128 + signal once the output's temporary is gone."""
    from runtime.signals import Interrupted, handled_signals

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            with handled_signals():
                return func(*args, **kwargs)
        except StylecastError as exc:
            print(f"{_prog()}: error: {one_line(str(exc))}", file=sys.stderr)
            sys.exit(exc.exit_code)
        except OSError as exc:
            if exc.errno not in _ENV_ERRNOS:
                raise
            print(f"{_prog()}: error: {_ENV_ERRNOS[exc.errno]} while writing; nothing was written", file=sys.stderr)
            sys.exit(EXIT_USER_ERROR)
        except MemoryError:
            print(f"{_prog()}: error: out of memory; use a smaller --max-size (or --batch 1)", file=sys.stderr)
            sys.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt as exc:
            code = exc.exit_code if isinstance(exc, Interrupted) else 130
            print(f"interrupted{f' ({exc})' if isinstance(exc, Interrupted) else ''}", file=sys.stderr)
            sys.stderr.flush()
            sys.stdout.flush()
            if threading.active_count() > 1:
                # worker threads may still sit in native code (codec, ONNX Runtime): leave without
                # interpreter finalisation, which could abort on them (outputs are already cleaned up)
                os._exit(code)
            sys.exit(code)

    return wrapper  # type: ignore[return-value]
