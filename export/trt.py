"""`python -m export.trt starry.onnx starry.trt`: ONNX -> TensorRT FP16 engine, with a sidecar and a fidelity gate.

TensorRT 10: parse the float32 ONNX and set BuilderFlag.FP16 (weak typing: TensorRT picks FP16 kernels).
TensorRT 11 removed that flag (strong typing only): the network's types come from the ONNX itself, so
we build from the float16 graph of `export.onnx --fp16` (converted on the fly from a float32 file).
A float16 ONNX on TensorRT 10 is built strongly typed (NetworkDefinitionCreationFlag.STRONGLY_TYPED).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from runtime.errors import InputError, StylecastError, cli_entry
from runtime.files import atomic_path, sha256_file
from runtime.onnx_meta import CARD_KEY, INPUT_NAME, PRECISION_KEY
from runtime.trt_sidecar import ENGINE_SUFFIXES, sidecar_path, write_sidecar

# (N, C, H, W): 240p webcam up to 1080p, landscape and portrait.
DEFAULT_MIN = (1, 3, 128, 128)
DEFAULT_OPT = (1, 3, 720, 1280)
DEFAULT_MAX = (4, 3, 1920, 1920)
DEFAULT_WORKSPACE_GB = 4.0
FIDELITY_DB = 40.0


def trt_major(version: str) -> int:
    return int(version.split(".")[0])


def build_plan(major: int, onnx_precision: str) -> dict:
    """How to build for this TensorRT major version and ONNX precision (pure logic, unit-tested)."""
    if major >= 11:
        return {"convert_to_fp16": onnx_precision != "fp16", "fp16_flag": False, "strongly_typed": True}
    if major == 10:
        if onnx_precision == "fp16":
            return {"convert_to_fp16": False, "fp16_flag": False, "strongly_typed": True}
        return {"convert_to_fp16": False, "fp16_flag": True, "strongly_typed": False}
    raise StylecastError(f"TensorRT {major}.x is not supported; install TensorRT 10 or 11 (pip install 'stylecast[gpu]')")


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


def check_profile(lo, opt, hi) -> None:
    if not all(a <= b <= c for a, b, c in zip(lo, opt, hi)):
        raise StylecastError(f"profile must satisfy min <= opt <= max per dimension, got {lo} / {opt} / {hi}")


def onnx_precision(model) -> str:
    for p in model.metadata_props:
        if p.key == PRECISION_KEY:
            return p.value
    return "fp32"


def build_engine(onnx_path: str | Path, engine_path: str | Path, lo=DEFAULT_MIN, opt=DEFAULT_OPT, hi=DEFAULT_MAX,
                 workspace_gb: float = DEFAULT_WORKSPACE_GB, timing_cache: str | Path | None = None,
                 version_compatible: bool = False, check: bool = True, verbose: bool = True) -> dict:
    import onnx

    from runtime.gpu import cuda_device, gpu_identity, import_tensorrt

    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    if engine_path.suffix not in ENGINE_SUFFIXES:
        raise InputError(f"engine must end in {', '.join(ENGINE_SUFFIXES)}, got {engine_path.name}")
    if not onnx_path.is_file():
        raise InputError(f"ONNX model not found: {onnx_path}")
    check_profile(lo, opt, hi)
    trt = import_tensorrt()
    _, device, _ = cuda_device()
    gpu, cc = gpu_identity(device)
    try:
        model = onnx.load(str(onnx_path))
    except Exception as exc:
        raise InputError(f"cannot read {onnx_path}: {str(exc).splitlines()[0][:200]}") from None
    precision = onnx_precision(model)
    plan = build_plan(trt_major(trt.__version__), precision)
    if plan["convert_to_fp16"]:
        from export.onnx import to_fp16_graph

        model = to_fp16_graph(model)

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if plan["strongly_typed"] else 0
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(model.SerializeToString()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise StylecastError(f"TensorRT could not parse {onnx_path.name}: {errors[:300]}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    if plan["fp16_flag"]:
        config.set_flag(trt.BuilderFlag.FP16)
    if version_compatible:
        config.set_flag(trt.BuilderFlag.VERSION_COMPATIBLE)
        config.set_flag(trt.BuilderFlag.EXCLUDE_LEAN_RUNTIME)  # run by the separately installed tensorrt-lean
    profile = builder.create_optimization_profile()
    profile.set_shape(INPUT_NAME, lo, opt, hi)
    config.add_optimization_profile(profile)
    cache_file = Path(timing_cache) if timing_cache else None
    cache = config.create_timing_cache(cache_file.read_bytes() if cache_file and cache_file.is_file() else b"")
    config.set_timing_cache(cache, ignore_mismatch=False)

    t0 = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise StylecastError(f"TensorRT failed to build an engine from {onnx_path.name} (see the log above)")
    seconds = time.perf_counter() - t0
    with atomic_path(engine_path) as tmp:
        tmp.write_bytes(bytes(serialized))
    if cache_file:
        with atomic_path(cache_file) as tmp:
            tmp.write_bytes(bytes(config.get_timing_cache().serialize()))
    card = {}
    for p in model.metadata_props:
        if p.key == CARD_KEY:
            import json

            card = json.loads(p.value)
    info = {
        "tensorrt_version": trt.__version__, "gpu": gpu, "compute_capability": cc, "precision": "fp16",
        "build": "strongly typed fp16 ONNX" if plan["strongly_typed"] else "BuilderFlag.FP16",
        "version_compatible": version_compatible, "profile": {"min": list(lo), "opt": list(opt), "max": list(hi)},
        "source_onnx": onnx_path.name, "source_onnx_sha256": sha256_file(onnx_path), "build_seconds": round(seconds, 1),
        "card": card,
    }
    write_sidecar(engine_path, info)
    if check:
        try:
            info["fidelity"] = fidelity_gate(engine_path, onnx_path)
        except StylecastError:
            engine_path.unlink(missing_ok=True)
            sidecar_path(engine_path).unlink(missing_ok=True)
            raise
        write_sidecar(engine_path, info)
    if verbose:
        fid = info.get("fidelity", {})
        extra = f", PSNR vs ONNX fp32 {fid['psnr_db']:.1f} dB" if fid else ""
        print(f"wrote {engine_path} ({engine_path.stat().st_size / 1e6:.1f} MB, TensorRT {trt.__version__}, {gpu}, "
              f"{info['build']}, {seconds:.0f} s{extra})")
    return info


def fidelity_gate(engine_path: Path, onnx_path: Path) -> dict:
    """Engine vs ONNX Runtime fp32 on real photos: PSNR >= 40 dB and finite, else StylecastError."""
    from export.onnx import check_batches, default_check_images
    from runtime.frames import psnr
    from runtime.engines import OrtStylizer, TrtStylizer

    engine = TrtStylizer(engine_path)
    reference = OrtStylizer(onnx_path, use_cuda=False)
    worst = float("inf")
    for batch in check_batches(default_check_images()):
        for x in batch:
            x = x[None]
            got = engine.run_nchw(x)
            if not np.isfinite(got).all():
                raise StylecastError(f"engine produced NaN/Inf on a {x.shape[3]}x{x.shape[2]} photo; engine deleted")
            worst = min(worst, psnr(np.clip(got, 0, 255), np.clip(reference.run_nchw(x), 0, 255)))
    if worst < FIDELITY_DB:
        raise StylecastError(f"engine reaches only {worst:.1f} dB PSNR vs ONNX Runtime fp32 (gate {FIDELITY_DB:.0f} dB); engine deleted")
    return {"psnr_db": worst}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m export.trt", description=__doc__.splitlines()[0])
    p.add_argument("onnx", help="model from python -m export.onnx (fp32, or --fp16 for TensorRT 11)")
    p.add_argument("engine", help="output engine (.trt, .engine or .plan); a .json sidecar is written beside it")
    p.add_argument("--min", default="x".join(map(str, DEFAULT_MIN)), help="smallest input NxCxHxW or HxW (default %(default)s)")
    p.add_argument("--opt", default="x".join(map(str, DEFAULT_OPT)), help="shape to tune for (default %(default)s)")
    p.add_argument("--max", default="x".join(map(str, DEFAULT_MAX)), help="largest input (default %(default)s: 1080p both ways)")
    p.add_argument("--workspace", type=float, default=DEFAULT_WORKSPACE_GB, help="builder workspace limit in GiB")
    p.add_argument("--timing-cache", default=str(Path.home() / ".cache" / "stylecast" / "trt-timing.cache"),
                   help="timing cache file reused across builds (default %(default)s)")
    p.add_argument("--version-compatible", action="store_true", help="engine loadable by later TensorRT of the same major and tensorrt-lean")
    p.add_argument("--no-check", action="store_true", help="skip the fidelity gate")
    return p.parse_args(argv)


@cli_entry
def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    cache = Path(a.timing_cache)
    cache.parent.mkdir(parents=True, exist_ok=True)
    build_engine(a.onnx, a.engine, parse_shape(a.min), parse_shape(a.opt), parse_shape(a.max), a.workspace, cache,
                 a.version_compatible, check=not a.no_check)


if __name__ == "__main__":
    main()
