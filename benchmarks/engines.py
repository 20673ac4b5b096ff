"""ms/frame and FPS of every backend available here at 256x256 ... 1920x1080, with the compute floor.

python benchmarks/engines.py [--style mosaic] [--repeats 20] [--sizes 256x256 640x360 1280x720 1920x1080]
Baseline: PyTorch fp32 eager, batch 1 (the pytorch/examples way).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import median_ms, save, table  # noqa: E402
from runtime import catalog  # noqa: E402
from runtime.engines import OrtStylizer  # noqa: E402


def macs_per_frame(net, h: int, w: int) -> int:
    """Multiply-accumulates of a style net for one HxW frame (convs only; norms and adds are << 1%)."""
    import torch

    total = 0

    def hook(mod, inp, out):
        nonlocal total
        total += out.numel() * mod.in_channels * mod.kernel_size[0] * mod.kernel_size[1] // mod.groups

    hooks = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        net(torch.zeros(1, 3, h, w))
    for handle in hooks:
        handle.remove()
    return total


def cpu_peak_gflops() -> float:
    """Measured fp32 matmul rate of this CPU through torch (the practical ceiling for conv layers)."""
    import torch

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    ms = median_ms(lambda: a @ b, repeats=10, warmup=2)
    return 2 * 2048**3 / (ms / 1000) / 1e9


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--style", default="mosaic")
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--sizes", nargs="+", default=["256x256", "640x360", "1280x720", "1920x1080"])
    a = p.parse_args()
    import torch

    import onnx
    from onnx import numpy_helper

    from train.transformer_net import net_from_state_dict as build

    onnx_path = catalog.style_path(a.style)
    backends: dict[str, object] = {}

    # torch weights from the ONNX file itself (the package ships no .pth): same numbers, no second copy
    model = onnx.load(str(onnx_path))
    state = {}
    for init in model.graph.initializer:
        name = init.name.removesuffix("__fp16")
        state[name] = torch.from_numpy(numpy_helper.to_array(init).astype(np.float32))
    net = build({k: v for k, v in state.items() if "." in k})
    backends["torch fp32 eager (baseline)"] = lambda x: net(torch.from_numpy(x))
    ort_cpu = OrtStylizer(onnx_path, use_cuda=False)
    backends[ort_cpu.backend] = ort_cpu.run_nchw
    try:
        import onnxruntime as ort

        if "CUDAExecutionProvider" in ort.get_available_providers():
            ort_gpu = OrtStylizer(onnx_path, use_cuda=True)
            backends[ort_gpu.backend] = ort_gpu.run_nchw
    except Exception as exc:  # noqa: BLE001
        print("onnxruntime CUDA unavailable:", exc)
    if torch.cuda.is_available():
        net_cuda = build({k: v for k, v in state.items() if "." in k}).half().cuda().to(memory_format=torch.channels_last)

        def torch_fp16(x, _n=net_cuda):
            with torch.no_grad():
                y = _n(torch.from_numpy(x).cuda().half().contiguous(memory_format=torch.channels_last))
            torch.cuda.synchronize()
            return y

        backends["torch CUDA fp16 channels_last"] = torch_fp16
    peak = cpu_peak_gflops()
    rows = []
    with torch.no_grad():
        for size in a.sizes:
            w, h = (int(v) for v in size.split("x"))
            x = np.random.default_rng(0).uniform(0, 255, (1, 3, h, w)).astype(np.float32)
            macs = macs_per_frame(net, h, w)
            base = None
            for name, fn in backends.items():
                ms = median_ms(lambda: fn(x), repeats=a.repeats, warmup=3)
                base = base or ms
                rows.append({"size": size, "backend": name, "ms_per_frame": ms, "fps": 1000 / ms, "speedup_vs_baseline": base / ms,
                             "gmacs": macs / 1e9, "floor_ms_cpu": 2 * macs / (peak * 1e9) * 1000})
                print(rows[-1], flush=True)
    print(f"CPU fp32 matmul peak measured: {peak:.0f} GFLOP/s")
    print(table(rows, ["size", "backend", "ms_per_frame", "fps", "speedup_vs_baseline", "gmacs", "floor_ms_cpu"]))
    print("saved", save(f"engines_{a.style}", {"style": a.style, "cpu_peak_gflops": peak, "rows": rows}))


if __name__ == "__main__":
    main()
