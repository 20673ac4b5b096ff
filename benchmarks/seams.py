"""Chunk seams: is the flicker at a chunk border (`stylevideo --ray --chunk-seconds`) worse than elsewhere?

The video is stylized whole (runtime.video.stylize_video) and cut into chunks (runtime.chunks: each chunk
encoded on its own after its warm-up frames, then joined), in this process, without Ray: the chunk
functions are the ones the Ray tasks run. For every pair of consecutive output frames the warping error
is measured with train/quality.py's WarpingError (full-resolution DIS flow of the source pair, occlusions
masked, mean absolute difference); the pairs across a chunk border are compared with the median of all
other pairs, and the border frames with the whole run's.

python benchmarks/seams.py                                   # slow_traffic_small.mp4, starry-lite, smoothing on
python benchmarks/seams.py clip.mp4 --chunk-seconds 4 --overlap 0,8,29
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED, save, table  # noqa: E402
from runtime.chunks import encode_chunk, join_chunks, plan_chunks, warmup_frames  # noqa: E402
from runtime.engines import open_stylizer  # noqa: E402
from runtime.errors import InputError, cli_entry  # noqa: E402
from runtime.frames import FrameOptions  # noqa: E402
from runtime.temporal import DEFAULT_SMOOTH, TemporalSmoother  # noqa: E402
from runtime.video import stylize_video  # noqa: E402
from train.quality import WarpingError  # noqa: E402


def frames(path: Path) -> Iterator[np.ndarray]:
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            yield f.to_ndarray(format="rgb24")


def pair_errors(src: Path, outputs: dict[str, Path]) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per consecutive pair t-1 -> t (t >= 1): the source's and each output's warping error (WarpingError
    on that pair, its flow computed once for all), and each output's mean |output - first output| at frame t."""
    names = list(outputs)
    errors: dict[str, list[float]] = {n: [] for n in ["source", *names]}
    apart: dict[str, list[float]] = {n: [] for n in names}
    prev = None
    for t, (s, *outs) in enumerate(zip(frames(src), *(frames(outputs[n]) for n in names))):
        if prev is not None:
            meter = WarpingError([prev[0], s])
            errors["source"].append(meter.source)
            for n, p, o in zip(names, prev[1:], outs):
                errors[n].append(meter([p, o]))
                apart[n].append(float(np.abs(o.astype(np.float32) - outs[0].astype(np.float32)).mean()))
        prev = (s, *outs)
    return errors, apart


@cli_entry
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("video", type=Path, nargs="?", default=SHARED / "videos" / "slow_traffic_small.mp4")
    p.add_argument("--style", default="starry-lite")
    p.add_argument("--chunk-seconds", type=float, default=8.0, help="as stylevideo's flag (default 8: 4 chunks of slow_traffic_small)")
    p.add_argument("--overlap", default=None,
                   help="warm-up frames before each chunk, comma-separated to compare several (default: runtime.chunks.warmup_frames)")
    p.add_argument("--smooth", type=float, default=DEFAULT_SMOOTH)
    p.add_argument("--max-size", type=int, default=None)
    p.add_argument("--crf", type=int, default=18, help="x264 CRF of both outputs (stylevideo's default 18; 0 = lossless)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--tag", default="", help="suffix of the results file")
    a = p.parse_args()
    if not a.video.exists():
        raise InputError(f"{a.video} not found")
    overlaps = [int(x) for x in a.overlap.split(",")] if a.overlap else [warmup_frames(a.smooth)]
    net = open_stylizer(a.style, "auto", a.threads)
    opts = FrameOptions(a.max_size, 1.0, False)
    with tempfile.TemporaryDirectory(prefix="seams.") as tmp:
        work = Path(tmp)
        outputs, seconds = {"whole": work / "whole.mp4"}, {}
        t0 = time.perf_counter()
        stylize_video(a.video, outputs["whole"], net, opts, crf=a.crf, progress=False, frame_hook=TemporalSmoother(a.smooth))
        seconds["whole"] = time.perf_counter() - t0
        plan = None
        for n in overlaps:
            name = f"chunked, overlap {n}"
            outputs[name] = work / f"chunked{n}.mp4"
            plan = plan_chunks(a.video, outputs[name], a.chunk_seconds, n)
            if plan is None:
                raise InputError(f"{a.video.name} cannot be cut into chunks of {a.chunk_seconds} s (too few keyframes)")
            t0 = time.perf_counter()
            plan.prepare()
            for c in plan.chunks:
                encode_chunk(plan, c.index, net, opts, smooth=a.smooth, crf=a.crf)
            join_chunks(plan)
            seconds[name] = time.perf_counter() - t0
        index = {pts: i for i, pts in enumerate(plan.frame_pts)}
        borders = [index[c.start] for c in plan.chunks[1:]]  # pair (b-1, b) crosses a border; pair t is errors[t - 1]
        errors, apart = pair_errors(a.video, outputs)
    rows = []
    at_whole = [errors["whole"][b - 1] for b in borders]
    for name, errs in errors.items():
        errs = np.array(errs)
        inner = np.delete(errs, [b - 1 for b in borders])
        at = [float(errs[b - 1]) for b in borders]
        row = {"output": name, "seconds": round(seconds[name], 1) if name in seconds else None, "E_warp_all": float(errs.mean()),
               "median_other_pairs": float(np.median(inner)), "p90_other_pairs": float(np.percentile(inner, 90)),
               "border_pairs": [round(x, 3) for x in at], "worst_border_over_median": max(at) / float(np.median(inner)),
               "border_percentile": [round(100 * float((inner < x).mean()), 1) for x in at]}
        if name != "source":
            # flicker as the README measures it: the output's warping error over the source's own, per pair
            ratio = errs / np.maximum(np.array(errors["source"]), 1e-6)
            inner_ratio = np.delete(ratio, [b - 1 for b in borders])
            row["border_over_source"] = [round(float(ratio[b - 1]), 3) for b in borders]
            row["median_other_over_source"] = float(np.median(inner_ratio))
            row["p90_other_over_source"] = float(np.percentile(inner_ratio, 90))
            # the same pairs in the single pass: the source's own keyframes are there too (see the source row)
            row["worst_border_over_whole"] = max(x / w for x, w in zip(at, at_whole))
            row["diff_from_whole_at_border"] = [round(apart[name][b - 1], 2) for b in borders]
            row["diff_from_whole_median"] = round(float(np.median(apart[name])), 2)
        rows.append(row)
    cols = ["output", "seconds", "E_warp_all", "median_other_pairs", "border_pairs", "worst_border_over_median",
            "worst_border_over_whole", "border_over_source", "median_other_over_source", "p90_other_over_source",
            "diff_from_whole_at_border", "diff_from_whole_median"]
    print(table([{k: " ".join(map(str, v)) if isinstance(v, list) else v for k, v in r.items()} for r in rows], cols))
    print("saved", save(f"seams{a.tag}", {
        "video": a.video.name, "style": a.style, "backend": net.backend, "smooth": a.smooth, "max_size": a.max_size, "crf": a.crf,
        "chunk_seconds": a.chunk_seconds, "chunks": len(plan.chunks), "border_frames": borders, "frames": len(plan.frame_pts),
        "metric": "train.quality.WarpingError per consecutive pair (mean |out_t - warp(out_t-1)|, grey levels, occlusions masked); "
                  "*_over_source: that pair's error over the source's own (the source has keyframes at the borders too)",
        "rows": rows}))


if __name__ == "__main__":
    main()
