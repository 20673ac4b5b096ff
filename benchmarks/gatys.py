"""Seconds per iteration and final losses of `train.gatys` at 256 and 512 px, L-BFGS and Adam.

python benchmarks/gatys.py [--iters 30] [--vgg FILE] [--device cpu]
"""
from __future__ import annotations

import argparse
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED, save, table  # noqa: E402
from train import gatys  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--iters", type=int, default=30)
    p.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    p.add_argument("--content", default=str(SHARED / "content" / "golden_gate.jpg"))
    p.add_argument("--style", default=str(SHARED / "styles" / "starry.jpg"))
    p.add_argument("--vgg", default=str(SHARED / "vgg" / "vgg19_caffe_features_q8_fp16.safetensors"))
    p.add_argument("--net", default="vgg19")
    p.add_argument("--device", default="auto")
    a = p.parse_args()
    rows = []
    for size in a.sizes:
        for opt in ("lbfgs", "adam"):
            args = gatys.parse_args([a.content, a.style, "-o", f"/tmp/gatys_bench_{size}_{opt}.png", "--size", str(size),
                                     "--iters", str(a.iters), "--optimizer", opt, "--vgg", a.vgg, "--net", a.net,
                                     "--device", a.device, "--quiet"])
            t0 = time.perf_counter()
            r = gatys.run(args)
            secs = time.perf_counter() - t0
            rows.append({"size": size, "optimizer": opt, "iters": a.iters, "s_per_iter": secs / a.iters,
                         "initial_total": r["initial"]["total"], "final_total": r["final"]["total"],
                         "final_content": r["final"]["content"], "final_style": r["final"]["style"]})
            print(rows[-1], flush=True)
    print(table(rows, ["size", "optimizer", "iters", "s_per_iter", "initial_total", "final_total", "final_content", "final_style"]))
    print("saved", save("gatys", {"vgg": a.vgg, "rows": rows}))


if __name__ == "__main__":
    main()
