"""Where a CPU `stylevideo` frame's time goes: every stage of the path, timed one after the other.

python benchmarks/profile_video.py [--style mosaic-lite] [--video ../shared/data/videos/big_buck_bunny.mp4]

Stages (the same functions stylevideo calls): decode (PyAV, YUV -> RGB), pre-processing (RGB uint8 ->
float32 NCHW, padding with the net's border margin), inference (ONNX Runtime run), post-processing (finite check, crop, round,
clip, NCHW -> RGB uint8), temporal smoothing, encode (RGB -> YUV, x264 with stylevideo's settings).
In the real pipeline decode and encode+smoothing run on other threads than inference; this serial
breakdown shows what each costs on the calling thread. x264 encodes on its own threads, so its cost is
the "process CPU" column (CPU time of the whole process per frame minus the stages' own).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import SHARED, save, table  # noqa: E402
from runtime.engines import open_stylizer  # noqa: E402
from runtime.temporal import TemporalSmoother  # noqa: E402
from runtime.media import video_stream  # noqa: E402


def main() -> None:
    import av

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--style", default="mosaic-lite")
    p.add_argument("--video", type=Path, default=SHARED / "videos" / "big_buck_bunny.mp4")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--label", default="current", help="name of this run in the JSON (e.g. before/after)")
    a = p.parse_args()

    net = open_stylizer(a.style, backend="ort-cpu")
    smoother = TemporalSmoother()
    times: dict[str, list[float]] = {k: [] for k in ("decode", "pre-process", "inference", "post-process", "smoothing", "encode")}
    with tempfile.TemporaryDirectory() as d, av.open(str(a.video)) as inp:
        out = av.open(str(Path(d) / "out.mp4"), "w")
        stream = inp.streams.video[0]
        enc = video_stream(out, "libx264", stream.average_rate, stream.codec_context.width, stream.codec_context.height, 18, None)
        frames = inp.decode(video=0)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(a.frames):
            t0 = time.perf_counter()
            try:
                rgb = next(frames).to_ndarray(format="rgb24")
            except StopIteration:
                break
            t1 = time.perf_counter()
            x, size = net.pad_frames(rgb)  # what Stylizer.__call__ does (border margin included)
            t2 = time.perf_counter()
            y = net.run_nchw(x)
            t3 = time.perf_counter()
            styled = net.postprocess(y, size)[0]
            t4 = time.perf_counter()
            final = smoother(rgb, styled)
            t5 = time.perf_counter()
            out.mux(enc.encode(av.VideoFrame.from_ndarray(final, format="rgb24")))
            t6 = time.perf_counter()
            for key, (s, e) in zip(times, [(t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5), (t5, t6)]):
                times[key].append(1000 * (e - s))
        out.mux(enc.encode())
        out.close()
        cpu_ms, wall_ms = [1000 * (v / max(1, len(times["decode"]))) for v in (time.process_time() - cpu0, time.perf_counter() - wall0)]
    rows = [{"stage": k, "ms/frame": float(np.median(v[3:]))} for k, v in times.items()]
    total = sum(r["ms/frame"] for r in rows)
    for r in rows:
        r["share"] = f"{100 * r['ms/frame'] / total:.0f}%"
    rows.append({"stage": "total", "ms/frame": total, "share": "100%"})
    rows.append({"stage": "process CPU (all threads, incl. x264's)", "ms/frame": cpu_ms, "share": f"{cpu_ms / wall_ms:.1f} cores busy"})
    print(f"{a.video.name} {rgb.shape[1]}x{rgb.shape[0]}, {a.style} ({net.describe()}), median over {len(times['decode']) - 3} frames")
    print(table(rows, ["stage", "ms/frame", "share"]))
    print("wrote", save(f"profile_video_{a.label}", {"style": a.style, "video": a.video.name, "rows": rows}))


if __name__ == "__main__":
    main()
