"""`python -m export.trt starry.onnx starry.trt`: ONNX -> TensorRT FP16 engine, with a sidecar and a fidelity gate.

The builder lives in the runtime (runtime.trt_build: stylecam and stylevideo build engines on first use);
this is its command line, and the gate run on the photos of ../shared/data/content where present.
TensorRT 10 builds with BuilderFlag.FP16; TensorRT 11 (no FP16 flag) from a float16 ONNX.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from runtime.errors import StylecastError, cli_entry
from runtime.files import cache_root
from runtime.trt_build import (DEFAULT_MAX, DEFAULT_MIN, DEFAULT_OPT, DEFAULT_WORKSPACE_GB, FIDELITY_DB,  # noqa: F401
                               build_engine, build_plan, check_profile, trt_major)
from runtime.trt_build import build_checked as _build_checked
from runtime.trt_build import fidelity_gate as _fidelity_gate


def parse_shape(text: str) -> tuple[int, int, int, int]:
    """'1x3x720x1280' or '720x1280' (batch 1) -> NCHW tuple."""
    try:
        parts = tuple(int(p) for p in text.lower().split("x"))
    except ValueError:
        raise StylecastError(f"bad shape '{text}': use HxW or NxCxHxW, e.g. 720x1280") from None
    if len(parts) == 2:
        parts = (1, 3, *parts)
    if len(parts) != 4 or parts[1] != 3 or min(parts) < 1:
        raise StylecastError(f"bad shape '{text}': use HxW or Nx3xHxW")
    return parts  # type: ignore[return-value]


def fidelity_gate(engine_path: Path, onnx_path: Path) -> dict:
    """The runtime's gate (PSNR >= 40 dB vs ONNX Runtime fp32) on the export photos."""
    from export.onnx import default_check_images

    return _fidelity_gate(engine_path, onnx_path, default_check_images())


def build_checked(onnx_path, engine_path, **build_kw) -> dict:
    """Build, then gate on the export photos; a failing engine is deleted."""
    from export.onnx import default_check_images

    return _build_checked(onnx_path, engine_path, default_check_images(), **build_kw)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m export.trt", description=__doc__.splitlines()[0])
    p.add_argument("onnx", help="model from python -m export.onnx (fp32, fp16-weights or --fp16)")
    p.add_argument("engine", help="output engine (.trt, .engine or .plan); a .json sidecar is written beside it")
    p.add_argument("--min", default="x".join(map(str, DEFAULT_MIN)), help="smallest input NxCxHxW or HxW (default %(default)s)")
    p.add_argument("--opt", default="x".join(map(str, DEFAULT_OPT)), help="shape to tune for (default %(default)s)")
    p.add_argument("--max", default="x".join(map(str, DEFAULT_MAX)), help="largest input (default %(default)s: 1080p both ways)")
    p.add_argument("--workspace", type=float, default=DEFAULT_WORKSPACE_GB, help="builder workspace limit in GiB")
    p.add_argument("--timing-cache", default=str(cache_root() / "trt-timing.cache"),
                   help="timing cache reused across builds; the TensorRT version is added to the name (default %(default)s)")
    p.add_argument("--version-compatible", action="store_true",
                   help="engine loadable by later TensorRT of the same major (and TensorRT 10 engines by TensorRT 11)")
    p.add_argument("--no-check", action="store_true", help="skip the fidelity gate")
    return p.parse_args(argv)


@cli_entry
def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    kw = dict(lo=parse_shape(a.min), opt=parse_shape(a.opt), hi=parse_shape(a.max), workspace_gb=a.workspace,
              timing_cache=Path(a.timing_cache), version_compatible=a.version_compatible, say=print)
    info = build_engine(a.onnx, a.engine, **kw) if a.no_check else build_checked(a.onnx, a.engine, **kw)
    fid = info.get("fidelity", {})
    extra = f", PSNR vs ONNX fp32 {fid['psnr_db']:.1f} dB" if fid else ""
    size = Path(a.engine).stat().st_size / 1e6
    print(f"wrote {a.engine} ({size:.1f} MB, TensorRT {info['tensorrt_version']}, {info['gpu']}, {info['build']}, "
          f"{info['build_seconds']:.0f} s{extra})")


if __name__ == "__main__":
    main()
