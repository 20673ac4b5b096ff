"""Float16 ONNX graphs for the GPU backends, and the fp16 model ONNX Runtime CUDA runs.

One conversion serves `python -m export.onnx --fp16`, TensorRT 11 (strongly typed: the types come from the
ONNX) and ONNX Runtime CUDA. It accepts float32 and fp16-weights files (whose float16 initializers feed
Cast nodes: onnxconverter-common cannot convert those, so they are widened back to float32 first).
onnx and onnxconverter-common come with the train extra, not the gpu one: they are imported only here,
lazily, and their absence is one DependencyError line.

ONNX Runtime CUDA gets its fp16 model beside the .onnx (`NAME.fp16.onnx`, from export --fp16) or converts
one on first use into the cache; either way it must pass TensorRT's fidelity gate (PSNR >= 40 dB against
fp32 ONNX Runtime on real photos), and the verdict is remembered per model pair and ONNX Runtime version.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from runtime.errors import DependencyError
from runtime.files import atomic_path, cache_root, sha256_file
from runtime.onnx_meta import PRECISION_KEY

KEEP_FLOAT32 = ["InstanceNormalization", "Resize"]  # fp16 instance-norm statistics overflow; Resize scales are float
CONVERT_HINT = "pip install onnx onnxconverter-common"


def _tools(why: str):
    """(onnx, onnxconverter_common.float16), or DependencyError(why ... pip install ...)."""
    try:
        import onnx
        from onnxconverter_common import float16
    except ImportError:
        raise DependencyError(f"{why} needs onnx and onnxconverter-common: {CONVERT_HINT}") from None
    return onnx, float16


def widen_fp16_weights(model):
    """An fp16-weights graph (float16 initializer -> Cast(float)) with the Casts folded into float32 initializers."""
    from onnx import TensorProto, numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    kept = []
    for node in model.graph.node:
        src = inits.get(node.input[0]) if node.op_type == "Cast" and node.input else None
        if src is not None and src.data_type == TensorProto.FLOAT16:
            arr = numpy_helper.to_array(src).astype(np.float32)
            model.graph.initializer.append(numpy_helper.from_array(arr, node.output[0]))
        else:
            kept.append(node)
    used = {i for n in kept for i in n.input}
    for name, init in inits.items():
        if name not in used:
            model.graph.initializer.remove(init)
    del model.graph.node[:]
    model.graph.node.extend(kept)
    return model


def to_fp16_graph(model, why: str = "a float16 graph"):
    """A float16 graph (float32 input/output; InstanceNormalization and Resize stay float32), precision 'fp16'.

    The model card and other metadata are kept; the input model is not modified.
    """
    onnx, float16 = _tools(why)
    model = widen_fp16_weights(onnx.ModelProto.FromString(model.SerializeToString()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        half = float16.convert_float_to_float16(model, keep_io_types=True, op_block_list=KEEP_FLOAT32)
    props = {p.key: p.value for p in half.metadata_props}
    props[PRECISION_KEY] = "fp16"
    del half.metadata_props[:]
    for key, value in props.items():
        half.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(half)
    return half


def fp16_graph_bytes(onnx_path: str | Path, why: str = "a float16 graph") -> bytes:
    """to_fp16_graph of an ONNX file, serialized."""
    onnx, _ = _tools(why)
    return to_fp16_graph(onnx.load(str(onnx_path)), why).SerializeToString()


# --- ONNX Runtime CUDA: which fp16 model, and does it pass the gate ---

ORT_WHY = "the fp16 model for ONNX Runtime CUDA (python -m export.onnx --fp16 writes one to put beside the .onnx)"


def sibling_fp16(onnx_path: Path) -> Path:
    """Where export --fp16's output is looked up: NAME.fp16.onnx beside NAME.onnx."""
    return onnx_path.with_name(f"{onnx_path.stem}.fp16.onnx")


def ort_cache_dir() -> Path:
    return cache_root() / "ort-cuda"


def fp16_model_for(onnx_path: Path, say: Callable[[str], None] = lambda m: None) -> Path:
    """The fp16 graph of this model: beside it (NAME.fp16.onnx), else converted once into the cache."""
    beside = sibling_fp16(onnx_path)
    if beside.is_file():
        return beside
    cached = ort_cache_dir() / f"{onnx_path.stem}-{sha256_file(onnx_path)[:12]}.fp16.onnx"
    if not cached.is_file():
        data = fp16_graph_bytes(onnx_path, ORT_WHY)
        cached.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cached) as tmp:
            tmp.write_bytes(data)
        say(f"note: made the fp16 model for ONNX Runtime CUDA: {cached}")
    return cached


def gate_record_path(fp16_path: Path, fp32_path: Path, ort_version: str) -> Path:
    key = f"{sha256_file(fp16_path)[:12]}-vs-{sha256_file(fp32_path)[:12]}-ort{ort_version}"
    return ort_cache_dir() / f"{fp32_path.stem}-{key}.gate.json"


def worst_psnr(run: Callable[[np.ndarray], np.ndarray], reference: Callable[[np.ndarray], np.ndarray],
               images: Sequence[Path] | None = None) -> float:
    """Worst PSNR of run vs reference over real photos at TensorRT's gate sizes (-inf on NaN/Inf)."""
    from runtime.frames import CHECK_SIZES, photo_batches, psnr
    from runtime.samples import sample_images

    worst = float("inf")
    for batch in photo_batches(images or sample_images(), CHECK_SIZES):
        for x in batch:
            got = run(x[None])
            if not np.isfinite(got).all():
                return float("-inf")
            worst = min(worst, psnr(np.clip(got, 0, 255), np.clip(reference(x[None]), 0, 255)))
    return worst


def ort_fp16_gate(record: Path, measure: Callable[[], float]) -> tuple[dict, bool]:
    """(verdict, remembered): {'psnr_db', 'passed'}, measured once and kept in `record` (delete it to re-check)."""
    from runtime.trt_build import FIDELITY_DB

    if record.is_file():
        try:
            return json.loads(record.read_text()), True
        except (OSError, json.JSONDecodeError):
            pass
    value = measure()
    verdict = {"psnr_db": round(float(max(-1.0, min(value, 99.0))), 2), "passed": bool(value >= FIDELITY_DB),
               "gate_db": FIDELITY_DB}  # 99: identical, -1: NaN/Inf (JSON has no Infinity)
    record.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(record) as tmp:
        tmp.write_text(json.dumps(verdict) + "\n")
    return verdict, False
