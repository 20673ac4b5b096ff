"""Parse-time checks for numeric flags: a bad value is one line on stderr and exit 2, before any model loads.

argparse calls these `type=` functions; raising ArgumentTypeError gives 'prog: error: argument --x: ...'.
`Parser` prints that line alone (no usage block), so every CLI error has the same one-line shape.
"""
from __future__ import annotations

import argparse
import math
import sys
from typing import Callable, NoReturn

from runtime.errors import EXIT_USER_ERROR, one_line


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are a single line ('prog: error: ...'), exit 2."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {one_line(message)} (see --help)", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)


def _bounds(lo: float | None, hi: float | None) -> str:
    if lo is not None and hi is not None:
        return f"within {lo}..{hi}"
    return f">= {lo}" if lo is not None else f"<= {hi}"


def int_range(lo: int | None = None, hi: int | None = None) -> Callable[[str], int]:
    """An integer flag within [lo, hi] (either end open when None)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got '{text}'") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"must be {_bounds(lo, hi)}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def float_range(lo: float | None = None, hi: float | None = None, lo_open: bool = False) -> Callable[[str], float]:
    """A finite float within [lo, hi] ((lo, hi] with lo_open): nan and inf are always refused."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got '{text}'")
        too_low = lo is not None and (value <= lo if lo_open else value < lo)
        if too_low or (hi is not None and value > hi):
            low = f"> {lo}" if lo_open and hi is None else (f"within ({lo}, {hi}]" if lo_open else _bounds(lo, hi))
            raise argparse.ArgumentTypeError(f"must be {low}, got {text}")
        return value

    parse.__name__ = "number"
    return parse


MIN_BITRATE, MAX_BITRATE = 10_000, 1_000_000_000  # 10 kbit/s .. 1 Gbit/s


def bitrate(text: str) -> int:
    """'4M', '800k' or '2500000' -> bits per second, within 10k..1G."""
    t = text.strip()
    mult = {"k": 1_000, "m": 1_000_000, "g": 1_000_000_000}.get(t[-1:].lower(), 1)
    try:
        value = float(t[:-1] if mult > 1 else t) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected e.g. 4M or 800k, got '{text}'") from None
    if not math.isfinite(value) or not MIN_BITRATE <= value <= MAX_BITRATE:
        raise argparse.ArgumentTypeError(f"must be within 10k..1G bits per second, got '{text}'")
    return int(value)


chunk_seconds = float_range(1.0, 86400.0)  # --chunk-seconds: 1 s .. a day

positive_int = int_range(1)
non_negative_int = int_range(0)
positive_float = float_range(0.0, lo_open=True)
non_negative_float = float_range(0.0)
