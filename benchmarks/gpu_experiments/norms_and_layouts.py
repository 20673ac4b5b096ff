"""Johnson net inference on a GPU: dtype x memory layout x InstanceNorm form, eager and CUDA graph.

    PYTHONPATH=. python benchmarks/gpu_experiments/norms_and_layouts.py [--compile]

The experiment behind benchmarks/results/gpu_layouts.md (random weights; the speed does not depend on them).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.gpu import _time_cuda  # noqa: E402
from train.transformer_net import TransformerNet, fuse_instance_norms  # noqa: E402


def graphed(net: torch.nn.Module, x: torch.Tensor):
    """Capture net(x) in a CUDA graph after warm-up on a side stream; returns (graph, output)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            net(x)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        y = net(x)
    return graph, y


@torch.no_grad()
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--compile", action="store_true", help="also torch.compile the fused fp16 net")
    args = p.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA GPU visible to PyTorch; nothing to measure")
        return
    torch.backends.cudnn.benchmark = True
    for h, w in [(360, 640), (1080, 1920)]:
        for dtype in (torch.float32, torch.float16, torch.bfloat16):
            for fused in (False, True):
                for channels_last in (False, True):
                    net = TransformerNet().cuda().eval()
                    net = (fuse_instance_norms(net) if fused else net).to(dtype)
                    x = torch.rand(1, 3, h, w, device="cuda", dtype=dtype) * 255
                    if channels_last:
                        net, x = net.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
                    eager = _time_cuda(lambda: net(x), 30)
                    graph, _ = graphed(net, x)
                    print(f"{w}x{h} {str(dtype)[6:]:8s} {'fused' if fused else 'InstanceNorm2d':14s} "
                          f"{'channels_last' if channels_last else 'NCHW':13s} eager {eager:6.2f} ms  "
                          f"graph {_time_cuda(graph.replay, 30):6.2f} ms", flush=True)
        if args.compile:
            net = fuse_instance_norms(TransformerNet().cuda().eval()).half()
            x = (torch.rand(1, 3, h, w, device="cuda") * 255).half()
            t0 = time.perf_counter()
            compiled = torch.compile(net)
            compiled(x)
            graph, _ = graphed(compiled, x)
            print(f"{w}x{h} compiled fp16 fused: {time.perf_counter() - t0:.0f} s to compile, "
                  f"graph {_time_cuda(graph.replay, 30):6.2f} ms", flush=True)


if __name__ == "__main__":
    main()
