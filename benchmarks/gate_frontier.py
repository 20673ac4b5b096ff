"""Is the quality gate reachable at all? The style/content trade-off of per-image optimization under the metric.

python benchmarks/gate_frontier.py [--style starry] [--photo golden_gate.jpg] [--iters 150]

A feed-forward net can only approximate what optimizing one image's pixels achieves. So this optimizes
the photo's pixels directly on the quality metric itself (train.quality: style distance + lambda x
content distance, VGG16, 512 px long side, Adam in 0-255 units) for several lambdas, and reports the
(style, content) pairs reached. If no point gets to style <= 0.25 with content <= 1.6, no net will pass
issue 11's gate under this metric, whatever its training.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import SHARED, save, table  # noqa: E402


def main() -> None:
    import numpy as np
    import torch

    from runtime.frames import cap_long_side, read_image
    from train.quality import CONTENT_LAYERS, EVAL_LONG_SIDE, GATE, STYLE_LAYERS, QualityMeter

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--style", default="starry")
    p.add_argument("--photo", default="golden_gate.jpg")
    p.add_argument("--iters", type=int, default=150)
    p.add_argument("--lambdas", type=float, nargs="+", default=[0.02, 0.06, 0.2, 0.6])
    a = p.parse_args()
    torch.set_num_threads(2)
    meter = QualityMeter()
    photo = cap_long_side(read_image(SHARED / "content" / a.photo), EVAL_LONG_SIDE)
    grams = meter.style_grams(read_image(SHARED / "styles" / f"{a.style}.jpg"))
    target = {k: v.detach() for k, v in meter.features(photo).items()}
    x0 = torch.from_numpy(np.ascontiguousarray(photo)).permute(2, 0, 1)[None].float()
    for prm in meter.vgg.parameters():
        prm.requires_grad_(False)

    def distances(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = meter.vgg(x)
        style = torch.stack([torch.linalg.norm(meter.gram(f[l].float()) - grams[l]) / torch.linalg.norm(grams[l]) for l in STYLE_LAYERS]).mean()
        content = torch.stack([torch.linalg.norm(f[l].float() - target[l]) / np.sqrt(target[l].numel()) for l in CONTENT_LAYERS]).mean()
        return style, content

    rows = []
    for lam in a.lambdas:
        x = x0.clone().requires_grad_(True)
        opt = torch.optim.Adam([x], lr=2.0)
        t0 = time.perf_counter()
        for _ in range(a.iters):
            opt.zero_grad()
            s, c = distances(x)
            (s + lam * c).backward()
            opt.step()
            with torch.no_grad():
                x.clamp_(0, 255)
        with torch.no_grad():  # measured the way the gate measures: on the uint8 image
            out = x.detach()[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()
            s, c = meter.distances(photo, out, grams)
        gate = GATE["johnson"]
        rows.append({"lambda": lam, "style": s, "content": c, "passes_style_and_content": s <= gate["style"] and c <= gate["content"],
                     "seconds": time.perf_counter() - t0})
        print(rows[-1], flush=True)
    print(table(rows, ["lambda", "style", "content", "passes_style_and_content", "seconds"]))
    print("saved", save(f"gate_frontier_{a.style}", {"style": a.style, "photo": a.photo, "iters": a.iters, "rows": rows}))


if __name__ == "__main__":
    main()
