"""ONNX -> TensorRT FP16 engine with its sidecar, and the fidelity gate: the runtime builds engines on first use.

TensorRT 10: parse the float32 ONNX and set BuilderFlag.FP16 (weak typing: TensorRT picks FP16 kernels).
TensorRT 11 removed that flag (every network is strongly typed): the types come from the ONNX itself, so
we build from a float16 graph (converted on the fly from a float32 or fp16-weights file, which needs the
onnx and onnxconverter-common packages). A float16 ONNX on TensorRT 10 is built strongly typed.
Needs only tensorrt, pycuda and onnxruntime (the `gpu` extra), not onnx, except for that TensorRT 11 conversion.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from runtime.errors import DependencyError, InputError, StylecastError
from runtime.files import atomic_path, sha256_file
from runtime.frames import CHECK_SIZES, photo_batches
from runtime.onnx_meta import CARD_KEY, INPUT_NAME, PRECISION_KEY
from runtime.trt_sidecar import ENGINE_SUFFIXES, sidecar_path, write_sidecar

# (N, C, H, W): one optimization profile from small frames up to 1080p, landscape and portrait (batch up to 4).
DEFAULT_MIN = (1, 3, 32, 32)  # thumbnails and --max-size previews too
DEFAULT_OPT = (1, 3, 720, 1280)
DEFAULT_MAX = (4, 3, 1920, 1920)
DEFAULT_WORKSPACE_GB = 4.0
FIDELITY_DB = 40.0
GATE_SIZES = CHECK_SIZES  # (H, W) of the gate's photos; those outside the engine's profile are skipped
Shape = Sequence[int]


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


def check_profile(lo: Shape, opt: Shape, hi: Shape) -> None:
    if not all(a <= b <= c for a, b, c in zip(lo, opt, hi)):
        raise StylecastError(f"profile must satisfy min <= opt <= max per dimension, got {lo} / {opt} / {hi}")


def timing_cache_file(path: str | os.PathLike, trt_version: str) -> Path:
    """One timing cache per TensorRT version: a cache from another version is rejected (or worse, misleads)."""
    p = Path(path)
    return p.with_name(f"{p.stem}-trt{trt_version}{p.suffix or '.cache'}")


def onnx_facts(onnx_path: Path) -> tuple[str, dict]:
    """(precision, model card) from the ONNX metadata, read with onnxruntime (a core dependency; onnx is not)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    try:
        session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # corrupt or foreign file
        raise InputError(f"cannot read {onnx_path}: {str(exc).splitlines()[0][:200]}") from None
    if INPUT_NAME not in [i.name for i in session.get_inputs()]:
        raise InputError(f"{onnx_path} has no input '{INPUT_NAME}' (export with python -m export.onnx)")
    meta = session.get_modelmeta().custom_metadata_map
    try:
        card = json.loads(meta.get(CARD_KEY, "{}"))
    except json.JSONDecodeError:
        card = {}
    return meta.get(PRECISION_KEY, "fp32"), card


def fp16_onnx(onnx_path: Path) -> bytes:
    """A float16 graph (float32 input/output; InstanceNormalization and Resize stay float32) for TensorRT 11:
    the one conversion in runtime.fp16 (float32 and fp16-weights files alike)."""
    from runtime.fp16 import fp16_graph_bytes

    return fp16_graph_bytes(onnx_path, "TensorRT 11 builds from a float16 ONNX: converting to one (or export it with "
                                       "python -m export.onnx --fp16)")


def _timing_cache(trt, config, cache_file: Path | None, say: Callable[[str], None]):
    """Load the timing cache (set_timing_cache returns False on a mismatched or corrupt one: start empty)."""
    blob = cache_file.read_bytes() if cache_file and cache_file.is_file() else b""
    cache = config.create_timing_cache(blob)
    if config.set_timing_cache(cache, ignore_mismatch=False):
        return
    say(f"note: ignoring the timing cache {cache_file} (from another TensorRT or GPU, or damaged)")
    if not config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False):
        raise StylecastError("TensorRT refused an empty timing cache")


def build_engine(onnx_path: str | Path, engine_path: str | Path, lo: Shape = DEFAULT_MIN, opt: Shape = DEFAULT_OPT,
                 hi: Shape = DEFAULT_MAX, workspace_gb: float = DEFAULT_WORKSPACE_GB, timing_cache: str | Path | None = None,
                 version_compatible: bool = False, say: Callable[[str], None] = lambda m: None) -> dict:
    """Build and write the engine and its sidecar; returns the sidecar's dict. No fidelity check (build_checked)."""
    from runtime.gpu import gpu_identity, import_tensorrt

    onnx_path, engine_path = Path(onnx_path), Path(engine_path)
    if engine_path.suffix not in ENGINE_SUFFIXES:
        raise InputError(f"engine must end in {', '.join(ENGINE_SUFFIXES)}, got {engine_path.name}")
    if not onnx_path.is_file():
        raise InputError(f"ONNX model not found: {onnx_path}")
    check_profile(lo, opt, hi)
    trt = import_tensorrt()
    if not hasattr(trt, "Builder"):
        raise DependencyError("only the TensorRT runtime is installed, not the builder: build the engine elsewhere with python -m export.trt")
    gpu, cc = gpu_identity()
    precision, card = onnx_facts(onnx_path)
    plan = build_plan(trt_major(trt.__version__), precision)
    data = fp16_onnx(onnx_path) if plan["convert_to_fp16"] else onnx_path.read_bytes()

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if plan["strongly_typed"] else 0
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(data, str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise StylecastError(f"TensorRT could not parse {onnx_path.name}: {errors[:300]}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * (1 << 30)))
    if plan["fp16_flag"]:
        config.set_flag(trt.BuilderFlag.FP16)
    if version_compatible:  # the lean runtime stays inside the plan; the loader allows its host code
        config.set_flag(trt.BuilderFlag.VERSION_COMPATIBLE)
    profile = builder.create_optimization_profile()
    profile.set_shape(INPUT_NAME, tuple(lo), tuple(opt), tuple(hi))
    if config.add_optimization_profile(profile) < 0:
        raise StylecastError(f"TensorRT rejected the optimization profile {lo} / {opt} / {hi}")
    cache_file = timing_cache_file(timing_cache, trt.__version__) if timing_cache else None
    _timing_cache(trt, config, cache_file, say)

    t0 = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise StylecastError(f"TensorRT failed to build an engine from {onnx_path.name} (see the log above)")
    seconds = time.perf_counter() - t0
    with atomic_path(engine_path) as tmp:
        tmp.write_bytes(bytes(serialized))
    if cache_file:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cache_file) as tmp:
            tmp.write_bytes(bytes(config.get_timing_cache().serialize()))
    info = {
        "tensorrt_version": trt.__version__, "gpu": gpu, "compute_capability": cc, "precision": "fp16",
        "build": "strongly typed fp16 ONNX" if plan["strongly_typed"] else "BuilderFlag.FP16",
        "version_compatible": version_compatible, "profile": {"min": list(lo), "opt": list(opt), "max": list(hi)},
        "source_onnx": onnx_path.name, "source_onnx_sha256": sha256_file(onnx_path), "build_seconds": round(seconds, 1),
        "card": card,
    }
    write_sidecar(engine_path, info)
    return info


def fidelity_gate(engine_path: Path, onnx_path: Path, images: Sequence[Path] | None = None) -> dict:
    """Engine vs ONNX Runtime fp32 on real photos: PSNR >= 40 dB and finite, else StylecastError."""
    from runtime.engines import OrtStylizer
    from runtime.frames import psnr
    from runtime.samples import sample_images
    from runtime.trt_engine import TrtStylizer

    engine = TrtStylizer(Path(engine_path))
    try:
        reference = OrtStylizer(Path(onnx_path), use_cuda=False)
        sizes = [s for s in GATE_SIZES if engine.accepts((1, 3, *s))] or [tuple(engine.profile["opt"][2:])]
        worst = float("inf")
        for batch in photo_batches(images or sample_images(), sizes):
            for x in batch:
                got = engine.run_nchw(x[None])
                if not np.isfinite(got).all():
                    raise StylecastError(f"TensorRT engine produced NaN/Inf on a {x.shape[2]}x{x.shape[1]} photo")
                worst = min(worst, psnr(np.clip(got, 0, 255), np.clip(reference.run_nchw(x[None]), 0, 255)))
    finally:
        engine.close()
    if worst < FIDELITY_DB:
        raise StylecastError(f"TensorRT engine reaches only {worst:.1f} dB PSNR vs ONNX Runtime fp32 (gate {FIDELITY_DB:.0f} dB)")
    return {"psnr_db": round(float(min(worst, 99.0)), 2)}  # 99: identical (JSON has no Infinity)


def build_checked(onnx_path: str | Path, engine_path: str | Path, images: Sequence[Path] | None = None, **build_kw) -> dict:
    """build_engine, then the fidelity gate; a failing engine is deleted with its sidecar (StylecastError)."""
    engine_path = Path(engine_path)
    info = build_engine(onnx_path, engine_path, **build_kw)
    try:
        info["fidelity"] = fidelity_gate(engine_path, Path(onnx_path), images)
    except StylecastError as exc:
        engine_path.unlink(missing_ok=True)
        sidecar_path(engine_path).unlink(missing_ok=True)
        raise StylecastError(f"{exc}; engine deleted") from None
    write_sidecar(engine_path, info)
    return info
