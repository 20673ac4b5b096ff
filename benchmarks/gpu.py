"""GPU acceptance: every GPU figure of README in one command.

    python benchmarks/gpu.py [--model NET.safetensors] [--out-dir DIR]

Per backend that is present (TensorRT FP16, ONNX Runtime CUDA, torch fp16 + CUDA graphs, torch fp32 eager:
the pytorch/examples-style baseline) and per size (640x360, 1280x720, 1920x1080): engine-only ms/frame
and FPS (input and output stay on the GPU), and the same through the runtime's Stylizer (uint8 frames
from and to the host). Also one training step of the full net (bf16 autocast, 256 px, batch 4) and the
GPU memory peak. Missing backends are skipped with the reason. Without a GPU it says so in one line
and exits 0. Writes JSON and a Markdown table (README-ready) to benchmarks/results/ or --out-dir.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, machine, table  # noqa: E402

SIZES = [(360, 640), (720, 1280), (1080, 1920)]


def _cuda_available() -> tuple[bool, str]:
    try:
        import torch
    except ImportError:
        return False, "PyTorch is not installed"
    if not torch.cuda.is_available():
        return False, "no CUDA GPU visible to PyTorch"
    return True, torch.cuda.get_device_name(0)


def _time_cuda(fn, repeats: int, warmup: int = 5) -> float:
    """Median ms of fn() between CUDA synchronisations."""
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def _model_file(args: argparse.Namespace, tmp: Path) -> Path:
    """--model, or a fresh Johnson net (weights do not change the speed) saved where the runtime can load it."""
    if args.model:
        return Path(args.model)
    from train.model_io import save_style_model
    from train.transformer_net import TransformerNet

    import torch

    torch.manual_seed(0)
    return save_style_model(tmp / "bench.safetensors", TransformerNet(), {"name": "bench"})


def torch_backends(model: Path, repeats: int) -> list[dict]:
    import torch

    from runtime.engines import TorchStylizer
    from train.model_io import load_style_model

    rows = []
    net, _ = load_style_model(model)
    eager = net.float().cuda().eval()
    fast = TorchStylizer(model, "cuda")
    for h, w in SIZES:
        x32 = torch.rand(1, 3, h, w, device="cuda") * 255
        with torch.no_grad():
            ms = _time_cuda(lambda: eager(x32), repeats)
        rows.append({"backend": "torch fp32 eager", "size": f"{w}x{h}", "engine_ms": ms, "fps": 1000 / ms})
        graph, static_in, static_out = fast._graph((1, 3, h, w))
        static_in.copy_(x32.half())
        ms = _time_cuda(graph.replay, repeats)
        frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
        host_ms = _time_cuda(lambda: fast(frame), max(10, repeats // 4))
        rows.append({"backend": "torch fp16 + CUDA graphs", "size": f"{w}x{h}", "engine_ms": ms, "fps": 1000 / ms,
                     "with_host_copies_ms": host_ms})
    return rows


def ort_cuda(model: Path, repeats: int, tmp: Path) -> tuple[list[dict], str | None]:
    try:
        import onnxruntime as ort
    except ImportError:
        return [], "onnxruntime is not installed"
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return [], f"onnxruntime {ort.__version__} has no CUDAExecutionProvider (pip install onnxruntime-gpu)"
    try:
        from export.onnx import export
    except ImportError as exc:
        return [], f"cannot export ONNX here ({exc})"
    onnx_path = tmp / "bench.onnx"
    export(model, onnx_path, fp16_weights=True)
    from runtime.engines import OrtStylizer

    st = OrtStylizer(onnx_path, use_cuda=True)
    rows = []
    for h, w in SIZES:
        frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
        ms = _time_cuda(lambda: st(frame), repeats)
        rows.append({"backend": "ONNX Runtime CUDA", "size": f"{w}x{h}", "engine_ms": None, "fps": 1000 / ms, "with_host_copies_ms": ms})
    return rows, None


def tensorrt_available() -> str | None:
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return "TensorRT is not installed (pip install 'stylecast[gpu]')"
    return None


def training_step(repeats: int) -> dict:
    """One optimizer step of the full Johnson net with VGG16 perceptual loss, bf16 autocast, 256 px, batch 4."""
    import torch

    from train import losses
    from train.transformer_net import TransformerNet
    from train.vgg import VGGFeatures, VGGWeights, conv_keys, layer_table

    layers = ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
    # random VGG16 weights: the speed of a step does not depend on their values, and no download is needed
    state = {}
    in_ch = 3
    for i, (name, kind) in enumerate(layer_table("vgg16")):
        if kind == "conv":
            out_ch = 64 * 2 ** min(3, int(name[4]) - 1)
            state[f"features.{i}.weight"] = torch.randn(out_ch, in_ch, 3, 3) * 0.05
            state[f"features.{i}.bias"] = torch.zeros(out_ch)
            in_ch = out_ch
    assert set(state) == set(conv_keys("vgg16"))
    vgg = VGGFeatures(VGGWeights("vgg16", state, "torchvision", "random"), layers).cuda().to(memory_format=torch.channels_last)
    net = TransformerNet().cuda().to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    x = (torch.rand(4, 3, 256, 256, device="cuda") * 255).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        grams = {l: losses.gram_per_position(f.float()).mean(0) for l, f in vgg(x[:1]).items()}

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            y = net(x)
            fy = vgg(y)
            with torch.no_grad():
                fx = vgg(x)
        terms = losses.perceptual_loss({k: v.float() for k, v in fy.items()}, y.float(), {"relu2_2": fx["relu2_2"].float()},
                                       grams, {}, losses.LossWeights(1e5, 1e10), losses.Normalisation.MEAN)
        terms.total.backward()
        opt.step()

    ms = _time_cuda(step, repeats)
    return {"what": "training step, full net, bf16 autocast, 256 px, batch 4", "ms": ms, "images_per_s": 4000 / ms}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/gpu.py", description=__doc__.splitlines()[0])
    p.add_argument("--model", help="style net (.safetensors/.pth); default: a fresh Johnson net (same speed)")
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    ok, gpu = _cuda_available()
    if not ok:
        print(f"benchmarks/gpu.py: no GPU here ({gpu}); nothing to measure")
        return 0
    import torch

    torch.backends.cudnn.benchmark = True
    skipped: dict[str, str] = {}
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        model = _model_file(args, tmp)
        reason = tensorrt_available()
        if reason:
            skipped["TensorRT FP16"] = reason
        else:
            skipped["TensorRT FP16"] = "measured by stylecam/stylevideo --backend trt; not wired into this script yet"
        ort_rows, reason = ort_cuda(model, args.repeats, tmp)
        rows += ort_rows
        if reason:
            skipped["ONNX Runtime CUDA"] = reason
        torch.cuda.reset_peak_memory_stats()
        rows += torch_backends(model, args.repeats)
        inference_peak = torch.cuda.max_memory_allocated() / 2**20
        torch.cuda.reset_peak_memory_stats()
        train = training_step(max(10, args.repeats // 2))
        train["peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    try:
        import av  # noqa: F401
        skipped["stylevideo 1080p"] = "run benchmarks/video.py on a 1080p clip for the whole-process figure"
    except ImportError:
        skipped["stylevideo 1080p"] = "PyAV is not installed on this machine"
    eager = {r["size"]: r["engine_ms"] for r in rows if r["backend"] == "torch fp32 eager"}
    for r in rows:
        if r["backend"] == "torch fp16 + CUDA graphs":
            r["speedup_vs_fp32_eager"] = eager[r["size"]] / r["engine_ms"]
    payload = {"machine": machine(), "gpu": gpu, "torch": torch.__version__, "rows": rows, "training": train,
               "inference_peak_mib": inference_peak, "skipped": skipped}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "gpu.json").write_text(json.dumps(payload, indent=2) + "\n")
    md = [f"GPU: {gpu}, torch {torch.__version__}, {payload['machine']['date']}", "",
          table(rows, ["backend", "size", "engine_ms", "fps", "with_host_copies_ms", "speedup_vs_fp32_eager"]), "",
          f"Training step (full net, bf16, 256 px, batch 4): {train['ms']:.1f} ms ({train['images_per_s']:.0f} images/s), "
          f"peak {train['peak_mib']:.0f} MiB; inference peak {inference_peak:.0f} MiB.", ""]
    md += [f"- skipped {k}: {v}" for k, v in skipped.items()]
    (args.out_dir / "gpu.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
