"""Flags shared by stylevideo and stylecam: which style, which backend, and the frame options."""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from runtime import catalog
from runtime.engines import BACKENDS, PRECISIONS, Stylizer, open_stylizer
from runtime.errors import StylecastError
from runtime.frames import FrameOptions
from runtime.temporal import DEFAULT_SMOOTH, TemporalSmoother
from runtime.validate import float_range, int_range

MAX_THREADS = 1024


def add_model_args(p: argparse.ArgumentParser, default_style: str | None = None) -> None:
    g = p.add_argument_group("style and engine")
    g.add_argument("--style", default=None, help=f"built-in style name ({', '.join(catalog.style_names()) or 'none installed'})"
                   + (f"; default {default_style}" if default_style else ""))
    g.add_argument("--model", "--engine", dest="model", help="a model or engine file: .onnx, .trt/.engine/.plan, .pth/.safetensors")
    g.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="force a backend (default auto: TensorRT, ONNX Runtime CUDA, OpenVINO, ONNX Runtime CPU, the first that works)")
    g.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="OpenVINO precision: auto (the fastest that passes its fidelity check on this CPU; measured once, cached), "
                        "f32, bf16 (CPUs with AMX or AVX512-BF16), int8 (models quantized at export)")
    g.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                   help="OpenVINO device: cpu, or gpu for an Intel integrated/discrete GPU (with --backend openvino)")
    g.add_argument("--threads", type=int_range(1, MAX_THREADS), help="CPU threads for OpenVINO / ONNX Runtime (default: all cores)")
    g.add_argument("--auto-lite", action="store_true",
                   help="when the full net cannot keep up with the frame rate needed, use the style's -lite net (it is said, never silent)")
    f = p.add_argument_group("frame options")
    f.add_argument("--max-size", type=int_range(16, 16384), help="cap the long side fed to the network, 16..16384; the result is scaled back")
    f.add_argument("--strength", type=float_range(0.0, 1.0), default=1.0, help="0..1 blend with the input (default 1: fully styled)")
    f.add_argument("--preserve-color", action="store_true", help="keep the input's colours (luminance-only style)")
    f.add_argument("--smooth", type=float_range(0.0, 0.95), nargs="?", const=DEFAULT_SMOOTH, default=DEFAULT_SMOOTH, metavar="S",
                   help=f"temporal smoothing 0..0.95: flow-guided blend of the previous stylized frame (default {DEFAULT_SMOOTH}; "
                        f"a bare --smooth means the default)")
    f.add_argument("--no-smooth", dest="smooth", action="store_const", const=0.0, help="per-frame stylization (flickers)")


def model_spec(args: argparse.Namespace, default_style: str | None = None) -> str:
    if args.style and args.model:
        raise StylecastError("give --style or --model/--engine, not both")
    spec = args.model or args.style or default_style
    if not spec:
        raise StylecastError("no style: pass --style NAME or --model FILE")
    return spec


def open_from_args(args: argparse.Namespace, default_style: str | None = None, size: tuple[int, int] | None = None,
                   need_fps: float | None = None, source_fps: float | None = None) -> tuple[Stylizer, FrameOptions]:
    """The stylizer and frame options the flags ask for. size: (height, width) of the frames to come;
    need_fps: the frame rate to keep up with (a camera, --realtime): a full net that cannot is reported,
    and replaced by its -lite net with --auto-lite. When no style is named, the default style keeps up with
    source_fps too (its -lite net where the full one is too slow on this machine, said in one line)."""
    opts = FrameOptions(args.max_size, args.strength, args.preserve_color)
    if size is not None and args.max_size and max(size) > args.max_size:
        scale = args.max_size / max(size)
        size = (max(1, round(size[0] * scale)), max(1, round(size[1] * scale)))
    spec = model_spec(args, default_style)
    defaulted = not args.style and not args.model
    quiet = (lambda message: None) if getattr(args, "quiet", False) else None  # None: open_stylizer's own notes
    stylizer = open_stylizer(spec, args.backend, args.threads, announce=quiet, precision=args.precision, size_hint=size,
                             device=args.device)
    need = need_fps or (source_fps if defaulted else None)
    if need:
        stylizer = keep_up(stylizer, spec, need, size or (360, 640), args, auto_lite=defaulted or getattr(args, "auto_lite", False),
                           defaulted=defaulted)
    return stylizer, opts


def frame_ms(stylizer: Stylizer, size: tuple[int, int], repeats: int = 2) -> float:
    """Median milliseconds of one frame of this size through the stylizer (after a warm-up call)."""
    frame = np.full((*size, 3), 128, np.uint8)
    stylizer(frame)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        stylizer(frame)
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def keep_up(stylizer: Stylizer, spec: str, need_fps: float, size: tuple[int, int], args: argparse.Namespace,
            auto_lite: bool | None = None, defaulted: bool = False) -> Stylizer:
    """Measure the net at the real size; below need_fps say so, and suggest (or with --auto-lite take) the -lite net.
    For the default style (none named) without a -lite net, the best-measured fast style is taken instead."""
    ms = frame_ms(stylizer, size)
    if 1000 / ms >= need_fps:
        return stylizer
    where = f"{size[1]}x{size[0]}"
    lite = f"{spec}-lite"
    if defaulted and lite not in catalog.style_names() and not spec.endswith("-lite"):
        for name in catalog.fast_styles():
            faster = open_stylizer(name, args.backend, args.threads, precision=args.precision, size_hint=size, device=args.device)
            fast_ms = frame_ms(faster, size)
            if 1000 / fast_ms >= need_fps:
                say(f"note: the default style {spec} runs at {1000 / ms:.1f} FPS at {where}, below the {need_fps:.0f} FPS needed, "
                    f"and has no -lite net yet; using {name} ({1000 / fast_ms:.1f} FPS). --style {spec} keeps {spec} at its speed")
                return faster
    if spec.endswith("-lite") or lite not in catalog.style_names():
        say(f"note: {spec} runs at {1000 / ms:.1f} FPS here ({ms:.0f} ms per {where} frame), below the {need_fps:.0f} FPS needed; "
            f"frames will be dropped (--max-size makes it faster)")
        return stylizer
    if not (getattr(args, "auto_lite", False) if auto_lite is None else auto_lite):
        say(f"note: {spec} runs at {1000 / ms:.1f} FPS here ({ms:.0f} ms per {where} frame), below the {need_fps:.0f} FPS needed; "
            f"--style {lite} (or --auto-lite) is the fast variant of this style")
        return stylizer
    faster = open_stylizer(lite, args.backend, args.threads, precision=args.precision, size_hint=size, device=args.device)
    lite_ms = frame_ms(faster, size)
    say(f"note: {spec} runs at {1000 / ms:.1f} FPS at {where}, below the {need_fps:.0f} FPS needed; "
        f"using {lite} ({1000 / lite_ms:.1f} FPS)")
    return faster


def say(message: str) -> None:
    print(message, file=sys.stderr)


def smoother_from_args(args: argparse.Namespace) -> TemporalSmoother | None:
    if not 0.0 <= args.smooth <= 0.95:
        raise StylecastError(f"--smooth must be within 0..0.95, got {args.smooth}")
    return TemporalSmoother(args.smooth) if args.smooth > 0 else None
