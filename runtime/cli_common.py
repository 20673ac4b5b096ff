"""Flags shared by stylevideo and stylecam: which style, which backend, and the frame options."""
from __future__ import annotations

import argparse

from runtime import catalog
from runtime.engines import BACKENDS, Stylizer, open_stylizer
from runtime.errors import StylecastError
from runtime.frames import FrameOptions
from runtime.temporal import DEFAULT_SMOOTH, TemporalSmoother


def add_model_args(p: argparse.ArgumentParser, default_style: str | None = None) -> None:
    g = p.add_argument_group("style and engine")
    g.add_argument("--style", default=None, help=f"built-in style name ({', '.join(catalog.style_names()) or 'none installed'})"
                   + (f"; default {default_style}" if default_style else ""))
    g.add_argument("--model", "--engine", dest="model", help="a model or engine file: .onnx, .trt/.engine/.plan, .pth/.safetensors")
    g.add_argument("--backend", choices=BACKENDS, default="auto", help="force a backend (default: best available)")
    g.add_argument("--threads", type=int, help="CPU threads for ONNX Runtime (default: all cores)")
    f = p.add_argument_group("frame options")
    f.add_argument("--max-size", type=int, help="cap the long side fed to the network; the result is scaled back")
    f.add_argument("--strength", type=float, default=1.0, help="0..1 blend with the input (default 1: fully styled)")
    f.add_argument("--preserve-color", action="store_true", help="keep the input's colours (luminance-only style)")
    f.add_argument("--smooth", type=float, default=DEFAULT_SMOOTH, metavar="S",
                   help=f"temporal smoothing 0..0.95: flow-guided blend of the previous stylized frame (default {DEFAULT_SMOOTH})")
    f.add_argument("--no-smooth", dest="smooth", action="store_const", const=0.0, help="per-frame stylization (flickers)")


def model_spec(args: argparse.Namespace, default_style: str | None = None) -> str:
    if args.style and args.model:
        raise StylecastError("give --style or --model/--engine, not both")
    spec = args.model or args.style or default_style
    if not spec:
        raise StylecastError("no style: pass --style NAME or --model FILE")
    return spec


def open_from_args(args: argparse.Namespace, default_style: str | None = None) -> tuple[Stylizer, FrameOptions]:
    opts = FrameOptions(args.max_size, args.strength, args.preserve_color)
    return open_stylizer(model_spec(args, default_style), args.backend, args.threads), opts


def smoother_from_args(args: argparse.Namespace) -> TemporalSmoother | None:
    if not 0.0 <= args.smooth <= 0.95:
        raise StylecastError(f"--smooth must be within 0..0.95, got {args.smooth}")
    return TemporalSmoother(args.smooth) if args.smooth > 0 else None
