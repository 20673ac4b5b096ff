"""User-facing errors and the CLI convention: one line on stderr, exit code 2."""
from __future__ import annotations

import functools
import sys
from typing import Callable, TypeVar

EXIT_USER_ERROR = 2


class StylecastError(Exception):
    """An error the user caused (bad file, bad flag, missing dependency): printed as one line."""


class InputError(StylecastError):
    """A missing, unreadable or malformed input file."""


class DependencyError(StylecastError):
    """An optional dependency (torch, TensorRT, a GPU) is needed but absent."""


F = TypeVar("F", bound=Callable[..., object])


def one_line(message: str) -> str:
    """Collapse a message to a single line so the CLI convention holds for any text."""
    return " ".join(str(message).split())


def cli_entry(func: F) -> F:
    """Wrap a CLI main: StylecastError -> 'prog: error: ...' on stderr and exit 2; Ctrl-C -> exit 130."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except StylecastError as exc:
            prog = (sys.argv[0].rsplit("/", 1)[-1] or "stylecast").removesuffix(".py")
            if prog in ("__main__", "-m", "-c"):
                prog = "stylecast"
            print(f"{prog}: error: {one_line(str(exc))}", file=sys.stderr)
            sys.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]
