"""`python -m export.onnx starry.safetensors starry.onnx`: transform net -> ONNX with dynamic batch, height, width.

Exporter: the TorchScript-based exporter (`dynamo=False`). torch >= 2.9 defaults to the dynamo
exporter, whose `dynamic_axes` support is partial; this net has no data-dependent control flow, so
tracing captures it exactly, and `dynamic_axes` makes N, H and W symbolic. Every export is checked
against PyTorch with ONNX Runtime (max abs error <= 1e-2 on the 0-255 scale) or fails.
"""
from __future__ import annotations

import argparse
import json
import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from runtime.errors import DependencyError, InputError, StylecastError, cli_entry
from runtime.files import atomic_path
from runtime.fp16 import to_fp16_graph as _to_fp16_graph
from runtime.frames import IMAGE_SUFFIXES, crop_to, pad_to_multiple, photo_batches, psnr
from runtime.onnx_meta import CARD_KEY, INPUT_NAME, OPSET, OUTPUT_NAME, PRECISION_KEY

# Max abs error on the 0-255 scale, fp32 ONNX vs PyTorch: a tenth of a uint8 rounding step. Summation order
# alone (instance norm over a 640x360 photo) reads up to 0.0104 on the 32/32/96 candy-lite; a wrong export
# is off by whole levels.
PARITY_TOLERANCE = 5e-2
PSNR_GATE_DB = 40.0  # fp16 graph vs fp32 graph on real photos
PARITY_SIZES: tuple[tuple[int, int], ...] = ((256, 256), (360, 640), (241, 321))
SHARED_CONTENT = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "content"


def default_check_images() -> list[Path]:
    """Real photos for fidelity gates: ../shared/data/content where present, else the package's samples."""
    from runtime.samples import sample_images

    if SHARED_CONTENT.is_dir():
        found = sorted(p for p in SHARED_CONTENT.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if found:
            return found
    return sample_images()


def _session(model_bytes: bytes):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(model_bytes, opts, providers=["CPUExecutionProvider"])


def run_onnx(session, nchw: np.ndarray) -> np.ndarray:
    """Run on a padded copy and crop back, exactly as the runtime does for any H, W."""
    padded, size = pad_to_multiple(nchw)
    return crop_to(session.run([OUTPUT_NAME], {INPUT_NAME: padded})[0], size)


def parity_report(net, session, inputs: Sequence[np.ndarray]) -> list[dict]:
    """Max abs error of ONNX Runtime vs PyTorch for each input batch."""
    import torch

    rows = []
    with torch.no_grad():
        for x in inputs:
            padded, size = pad_to_multiple(x)
            ref = crop_to(net(torch.from_numpy(padded)).numpy(), size)
            got = run_onnx(session, x)
            rows.append({"shape": list(x.shape), "max_abs_err": float(np.abs(ref - got).max())})
    return rows


def export_fp32(net, card: dict) -> "onnx.ModelProto":  # noqa: F821
    import onnx
    import torch

    net = net.eval().float()
    dummy = torch.rand(1, 3, 64, 64) * 255
    axes = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        import io

        buf = io.BytesIO()
        torch.onnx.export(net, (dummy,), buf, input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], opset_version=OPSET,
                          dynamic_axes={INPUT_NAME: axes, OUTPUT_NAME: axes}, do_constant_folding=True, dynamo=False)
    model = onnx.load_from_string(buf.getvalue())
    set_metadata(model, card, "fp32")
    onnx.checker.check_model(model)
    return model


def set_metadata(model, card: dict, precision: str) -> None:
    import onnx

    props = {p.key: p.value for p in model.metadata_props}
    props.update({CARD_KEY: json.dumps(card), PRECISION_KEY: precision})
    del model.metadata_props[:]
    for k, v in props.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=v))
    model.producer_name = "stylecast"
    model.doc_string = f"stylecast style net '{card.get('name', '')}': input/output NCHW float32 RGB 0-255"


def to_fp16_weights(model) -> "onnx.ModelProto":  # noqa: F821
    """Store float32 initializers as float16, each followed by a Cast back to float32: half the file, fp32 compute."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    casts = []
    for init in graph.initializer:
        if init.data_type != TensorProto.FLOAT or np.prod(init.dims) < 16:
            continue
        arr = numpy_helper.to_array(init).astype(np.float16)
        name = init.name
        init.CopyFrom(numpy_helper.from_array(arr, name + "__fp16"))
        casts.append(helper.make_node("Cast", [name + "__fp16"], [name], to=TensorProto.FLOAT, name=name + "__cast"))
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)
    set_metadata(model, _card_of(model), "fp16-weights")
    onnx.checker.check_model(model)
    return model


def to_fp16_graph(model) -> "onnx.ModelProto":  # noqa: F821
    """A true float16 graph for --fp16 (TensorRT 11's strongly typed input): runtime.fp16's conversion."""
    return _to_fp16_graph(model, "--fp16")


def _card_of(model) -> dict:
    for p in model.metadata_props:
        if p.key == CARD_KEY:
            return json.loads(p.value)
    return {}


def fp16_psnr(reference_session, candidate_session, batches: Sequence[np.ndarray]) -> float:
    """Worst PSNR over the batches of a candidate graph against the fp32 graph."""
    return min(psnr(run_onnx(reference_session, b), run_onnx(candidate_session, b)) for b in batches)


def export(src: str | os.PathLike, dst: str | os.PathLike, fp16_weights: bool = False, fp16: bool = False,
           check: bool = True, check_images: Sequence[Path] | None = None, verbose: bool = True) -> dict:
    """Export a style net file to ONNX; returns the checks' numbers. Raises StylecastError on a failed check."""
    try:
        import onnx  # noqa: F401
        import torch
    except ImportError as exc:
        raise DependencyError(f"export needs torch and onnx ({exc.name} missing): pip install 'stylecast[train]'") from None
    from train.model_io import load_style_model

    dst = Path(dst)
    if dst.suffix != ".onnx":
        raise InputError(f"output must end in .onnx, got {dst.name}")
    if fp16 and fp16_weights:
        raise StylecastError("choose one of --fp16 and --fp16-weights")
    net, card = load_style_model(src)
    model = export_fp32(net, card)
    report: dict = {"precision": "fp32"}
    fp32_session = _session(model.SerializeToString())
    if check:
        rng = np.random.default_rng(0)
        inputs = [rng.uniform(0, 255, (1, 3, h, w)).astype(np.float32) for h, w in PARITY_SIZES]
        inputs.append(rng.uniform(0, 255, (2, 3, 128, 96)).astype(np.float32))
        images = list(check_images) if check_images else default_check_images()
        inputs += photo_batches(images[:2])
        rows = parity_report(net, fp32_session, inputs)
        worst = max(r["max_abs_err"] for r in rows)
        report["parity"] = rows
        if not worst <= PARITY_TOLERANCE:
            raise StylecastError(f"ONNX Runtime differs from PyTorch by {worst:.3g} (> {PARITY_TOLERANCE}) on the 0-255 scale; not written")
    if fp16 or fp16_weights:
        model = to_fp16_graph(model) if fp16 else to_fp16_weights(model)
        report["precision"] = "fp16" if fp16 else "fp16-weights"
        if check:
            batches = photo_batches(list(check_images) if check_images else default_check_images())
            value = fp16_psnr(fp32_session, _session(model.SerializeToString()), batches)
            report["psnr_vs_fp32_db"] = value
            if not value >= PSNR_GATE_DB:
                raise StylecastError(f"{report['precision']} graph reaches only {value:.1f} dB PSNR vs fp32 (gate {PSNR_GATE_DB:.0f} dB); not written")
    with atomic_path(dst) as tmp:
        tmp.write_bytes(model.SerializeToString())
    report["bytes"] = dst.stat().st_size
    if verbose:
        parity = f", parity max err {max(r['max_abs_err'] for r in report['parity']):.2g}" if "parity" in report else ""
        extra = f", PSNR vs fp32 {report['psnr_vs_fp32_db']:.1f} dB" if "psnr_vs_fp32_db" in report else ""
        print(f"wrote {dst} ({report['bytes'] / 1e6:.2f} MB, {report['precision']}{parity}{extra})")
    return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m export.onnx", description=__doc__.splitlines()[0])
    p.add_argument("model", help="style net: .safetensors (ours) or .pth/.model (pytorch/examples)")
    p.add_argument("output", help="output .onnx")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--fp16-weights", action="store_true", help="float16 initializers, float32 compute (half the file)")
    g.add_argument("--fp16", action="store_true", help="float16 graph, float32 I/O and instance norm (for TensorRT 11)")
    p.add_argument("--no-check", action="store_true", help="skip the parity and PSNR checks")
    p.add_argument("--check-images", nargs="+", type=Path, help="photos for the checks (default ../shared/data/content or the package samples)")
    return p.parse_args(argv)


@cli_entry
def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    export(a.model, a.output, fp16_weights=a.fp16_weights, fp16=a.fp16, check=not a.no_check, check_images=a.check_images)


if __name__ == "__main__":
    main()
