"""The JSON sidecar next to a TensorRT engine, and the checks that turn a mismatch into one clear line.

An engine is tied to the GPU's compute capability and (unless built version-compatible) to the exact
TensorRT version that built it; loading it elsewhere can crash inside TensorRT. We check first.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from runtime.errors import InputError, StylecastError

ENGINE_SUFFIXES = (".trt", ".engine", ".plan")


class EngineMismatch(StylecastError):
    """The engine was built for another GPU or TensorRT version."""


def sidecar_path(engine: str | os.PathLike) -> Path:
    return Path(str(engine) + ".json")


def write_sidecar(engine: str | os.PathLike, info: dict) -> Path:
    from runtime.files import atomic_path

    path = sidecar_path(engine)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(info, indent=2) + "\n")
    return path


def read_sidecar(engine: str | os.PathLike) -> dict:
    path = sidecar_path(engine)
    if not path.is_file():
        raise InputError(f"{path.name} is missing: rebuild the engine with 'python -m export.trt MODEL.onnx {Path(engine).name}'")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"{path} is not valid JSON ({exc.msg})") from None


def _version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split(".")[:3] if p.isdigit())


# Across major versions TensorRT documents one pair: version-compatible TensorRT 10 engines load in TensorRT 11
# (TensorRT 11.1 "Engine Compatibility"; support matrix: "TensorRT 10 version-compatible engines can run with a
# TensorRT 11 runtime").
CROSS_MAJOR = {(10, 11)}


def loadable(built: str, running: str, version_compatible: bool) -> bool:
    """Can TensorRT `running` deserialize an engine built by TensorRT `built`?"""
    b, r = _version_tuple(built), _version_tuple(running)
    if not version_compatible:
        return built == running
    if b[:1] == r[:1]:
        return r >= b
    return bool(b and r) and (b[0], r[0]) in CROSS_MAJOR


def check_compatible(info: dict, trt_version: str, gpu_name: str, compute_capability: str) -> list[str]:
    """Raise EngineMismatch if the engine cannot run here; return warnings for mismatches that are only slow."""
    built_cc = str(info.get("compute_capability", ""))
    if built_cc and built_cc != compute_capability:
        raise EngineMismatch(
            f"engine built for {info.get('gpu', '?')} (compute capability {built_cc}) cannot run on {gpu_name} "
            f"(compute capability {compute_capability}); rebuild it here with python -m export.trt")
    built = str(info.get("tensorrt_version", ""))
    ok = loadable(built, trt_version, bool(info.get("version_compatible"))) if built else True
    if built and not ok:
        kind = "version-compatible " if info.get("version_compatible") else ""
        raise EngineMismatch(
            f"{kind}engine built with TensorRT {built} cannot be loaded by TensorRT {trt_version}; "
            f"rebuild it with python -m export.trt (or build with --version-compatible)")
    warnings = []
    if info.get("gpu") and info["gpu"] != gpu_name:
        warnings.append(f"engine was tuned on {info['gpu']}, running on {gpu_name}: it works, a rebuild may be faster")
    return warnings
