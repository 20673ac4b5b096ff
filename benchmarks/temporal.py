"""Temporal stability: warping error E_warp of source, per-frame and smoothed outputs, FPS, ghosting.

Two flicker figures per row: `ratio_to_source` (masked MSE with the runtime's 320 px flow, what the smoother is
tuned on) and `gate_ratio` (the quality gate's metric, runtime.temporal.WarpingError: mean absolute difference,
full-resolution DIS; styles.json records it on the first 60 frames, so pass --frames 60 to compare).

python benchmarks/temporal.py IN.mp4 OUT.mp4            # measure an existing output against its source
python benchmarks/temporal.py IN.mp4 --style mosaic     # run per-frame and smoothed, measure both
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import save, table  # noqa: E402
from runtime.engines import open_stylizer  # noqa: E402
from runtime.errors import InputError, cli_entry  # noqa: E402
from runtime.media import read_video_frames  # noqa: E402
from runtime.temporal import (DEFAULT_SMOOTH, FlowField, TemporalSmoother, WarpingError, _gray_small,  # noqa: E402
                              consistency_mask, warping_error)


def ghost_distance(src: list[np.ndarray], smoothed: list[np.ndarray], per_frame: list[np.ndarray]) -> float:
    """Mean |smoothed - per-frame| (grey levels) where the flow is inconsistent (motion boundaries, occlusions)."""
    flow, vals = FlowField(), []
    prev = _gray_small(src[0])
    for t in range(1, len(src)):
        cur = _gray_small(src[t])
        h, w = src[t].shape[:2]
        mask = ~consistency_mask(flow(prev, cur, (h, w)), flow(cur, prev, (h, w)))
        if mask.any():
            vals.append(float(np.abs(smoothed[t].astype(np.float32) - per_frame[t].astype(np.float32)).mean(axis=2)[mask].mean()))
        prev = cur
    return float(np.mean(vals)) if vals else 0.0


def detail_kept(smoothed: list[np.ndarray], per_frame: list[np.ndarray]) -> float:
    """Mean gradient magnitude of the smoothed frames over that of the per-frame ones (1 = as crisp; blending
    textures that do not line up blurs them, which lowers this)."""
    import cv2

    def grad(frames):
        total = 0.0
        for f in frames:
            g = cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float32)
            total += float(np.abs(cv2.Sobel(g, cv2.CV_32F, 1, 0)).mean() + np.abs(cv2.Sobel(g, cv2.CV_32F, 0, 1)).mean())
        return total

    return grad(smoothed) / max(grad(per_frame), 1e-9)


@cli_entry
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("input", type=Path)
    p.add_argument("output", type=Path, nargs="?")
    p.add_argument("--style", nargs="+", default=["mosaic"])
    p.add_argument("--frames", type=int, default=120, help="frames to use (default 120)")
    p.add_argument("--tag", default="", help="suffix of the results file")
    p.add_argument("--smooth", type=float, default=DEFAULT_SMOOTH)
    a = p.parse_args()
    src = read_video_frames(a.input, a.frames)
    e_src = warping_error(src, src)
    gate = WarpingError(src)
    rows = [{"video": a.input.name, "variant": "source", "E_warp": e_src, "ratio_to_source": 1.0, "gate_ratio": 1.0}]
    if a.output:
        out = read_video_frames(a.output, a.frames)
        if len(out) < len(src):
            raise InputError(f"{a.output} has {len(out)} frames, the source {len(src)}")
        if out[0].shape != src[0].shape:
            raise InputError(f"{a.output} is {out[0].shape[1]}x{out[0].shape[0]}, the source {src[0].shape[1]}x{src[0].shape[0]}; "
                     "measure an output at the source's size")
        e = warping_error(src, out)
        rows.append({"video": a.input.name, "variant": a.output.name, "E_warp": e, "ratio_to_source": e / e_src,
                     "gate_ratio": gate.ratio(out)})
    else:
        for style in a.style:
            net = open_stylizer(style)
            t0 = time.perf_counter()
            per = [net(f) for f in src]
            t_net = time.perf_counter() - t0
            sm = TemporalSmoother(a.smooth)
            t0 = time.perf_counter()
            smoothed = [sm(s, o) for s, o in zip(src, per)]
            t_smooth = time.perf_counter() - t0
            e_per, e_sm = warping_error(src, per), warping_error(src, smoothed)
            fps_per, fps_sm = len(src) / t_net, len(src) / (t_net + t_smooth)
            rows.append({"video": a.input.name, "variant": f"{style} per-frame", "E_warp": e_per, "ratio_to_source": e_per / e_src,
                         "gate_ratio": gate.ratio(per), "fps": fps_per})
            rows.append({"video": a.input.name, "variant": f"{style} --smooth {a.smooth}", "E_warp": e_sm, "ratio_to_source": e_sm / e_src,
                         "gate_ratio": gate.ratio(smoothed),
                         "fps": fps_sm, "fps_cost_pct": 100 * (1 - fps_sm / fps_per),
                         "ghost_dist": ghost_distance(src, smoothed, per), "detail_kept": detail_kept(smoothed, per),
                         "scene_cuts": sm.cuts})
            print(rows[-2], rows[-1], flush=True)
    print(table(rows, ["video", "variant", "E_warp", "ratio_to_source", "gate_ratio", "fps", "fps_cost_pct", "ghost_dist", "detail_kept"]))
    print("saved", save(f"temporal_{a.input.stem}{a.tag}", {"frames": len(src), "gate_source_warp_error": gate.source, "rows": rows}))


if __name__ == "__main__":
    main()
