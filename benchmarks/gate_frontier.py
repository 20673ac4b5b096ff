"""Is the quality gate reachable at all? The style/content trade-off of per-image optimization under the metric.

python benchmarks/gate_frontier.py [--style starry] [--photo golden_gate.jpg | --photo all] [--iters 150]
python benchmarks/gate_frontier.py --style mosaic --photo all --start mosaic --optimizer lbfgs --iters 60 --lambdas 0.15 0.3

A feed-forward net can only approximate what optimizing one image's pixels achieves. So this optimizes
the photo's pixels directly on the quality metric itself (train.quality: style distance + lambda x
content distance, VGG16, 512 px long side) for several lambdas, and reports the (style, content) pairs
reached. If no point gets inside the gate, no net will pass it under this metric, whatever its training.

--optimizer adam (2.0 per step in 0-255 units, from the photo) or lbfgs (strong Wolfe line search, the loss
scaled by 1000 so its tolerances do not stop it on the pixels' tiny gradients). --start NET starts from a
net's output instead of the photo (any style name or model file; ONNX Runtime CPU), which shows how far a
trained net sits from what its painting allows. --photo all: every ../shared/data/content photo, medians
per lambda, as the gate reads them.
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
    from train.quality import EVAL_LONG_SIDE, GATE, QualityMeter

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--style", default="starry")
    p.add_argument("--photo", default="golden_gate.jpg", help="a file in ../shared/data/content, or 'all'")
    p.add_argument("--iters", type=int, default=150)
    p.add_argument("--lambdas", type=float, nargs="+", default=[0.02, 0.06, 0.2, 0.6])
    p.add_argument("--optimizer", choices=("adam", "lbfgs"), default="adam")
    p.add_argument("--start", help="start from this net's output (style name or model file) instead of the photo")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", help="results name (default gate_frontier_STYLE, or gate_frontier_STYLE_from_net with --start)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    meter = QualityMeter()
    for prm in meter.vgg.parameters():
        prm.requires_grad_(False)
    names = sorted(f.name for f in (SHARED / "content").iterdir() if f.suffix.lower() in (".jpg", ".jpeg", ".png")) if a.photo == "all" else [a.photo]
    photos = [cap_long_side(read_image(SHARED / "content" / n), EVAL_LONG_SIDE) for n in names]
    grams = meter.style_grams(read_image(SHARED / "styles" / f"{a.style}.jpg"))
    starts = photos
    start_scores = None
    if a.start:
        from runtime.engines import open_stylizer

        net = open_stylizer(a.start, "ort-cpu", threads=a.threads, announce=lambda m: None)
        starts = [net(ph[None])[0] for ph in photos]
        start_scores = [meter.distances(ph, out, grams) for ph, out in zip(photos, starts)]
        print("start:", [(round(s, 4), round(c, 4)) for s, c in start_scores], flush=True)
    gate = GATE["johnson"]  # the full nets' gate: the frontier is the painting's, whichever net it started from

    def optimize(photo: np.ndarray, start: np.ndarray, lam: float) -> np.ndarray:
        target = {k: v.detach() for k, v in meter.features(photo).items()}
        x = torch.from_numpy(np.ascontiguousarray(start)).permute(2, 0, 1)[None].float().contiguous().requires_grad_(True)

        def loss_of(xc: torch.Tensor) -> torch.Tensor:
            style, content = meter.feature_distances(meter.vgg(xc), target, grams)
            return style + lam * content

        if a.optimizer == "adam":
            opt = torch.optim.Adam([x], lr=2.0)
            for _ in range(a.iters):
                opt.zero_grad()
                loss_of(x).backward()
                opt.step()
                with torch.no_grad():
                    x.clamp_(0, 255)
        else:
            opt = torch.optim.LBFGS([x], lr=1, max_iter=a.iters, history_size=20, line_search_fn="strong_wolfe",
                                    tolerance_grad=0.0, tolerance_change=0.0)

            def closure() -> torch.Tensor:
                opt.zero_grad()
                loss = 1000 * loss_of(x.clamp(0, 255))
                loss.backward()
                return loss

            opt.step(closure)
        return x.detach()[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()

    rows = []
    for lam in a.lambdas:
        t0 = time.perf_counter()
        per = []
        for name, photo, start in zip(names, photos, starts):
            s, c = meter.distances(photo, optimize(photo, start, lam), grams)  # measured as the gate measures: on uint8
            per.append({"photo": name, "style": round(s, 4), "content": round(c, 4)})
            print({"lambda": lam, **per[-1]}, flush=True)
        s, c = float(np.median([r["style"] for r in per])), float(np.median([r["content"] for r in per]))
        rows.append({"lambda": lam, "style": s, "content": c, "passes_style_and_content": s <= gate["style"] and c <= gate["content"],
                     "seconds": time.perf_counter() - t0, "per_photo": per})
        print({k: v for k, v in rows[-1].items() if k != "per_photo"}, flush=True)
    print(table(rows, ["lambda", "style", "content", "passes_style_and_content", "seconds"]))
    payload = {"style": a.style, "photo": a.photo, "iters": a.iters, "optimizer": a.optimizer, "start": a.start or "photo",
               "lambdas": a.lambdas, "threads": a.threads,
               "gate": {"style": gate["style"], "content": gate["content"]}, "rows": rows}
    if start_scores:
        payload["start_scores"] = {"style": float(np.median([s for s, _ in start_scores])), "content": float(np.median([c for _, c in start_scores])),
                                   "per_photo": [{"photo": n, "style": round(s, 4), "content": round(c, 4)} for n, (s, c) in zip(names, start_scores)]}
    print("saved", save(a.out or f"gate_frontier_{a.style}" + ("_from_net" if a.start else ""), payload))


if __name__ == "__main__":
    main()
