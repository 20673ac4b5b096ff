"""End-to-end `stylevideo` FPS (decode + stylize + smooth + encode + audio) beside the engine's own FPS.

python benchmarks/video.py [--style mosaic] [--max-frames 120] [VIDEO ...]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, SHARED, save, table  # noqa: E402
from runtime.engines import open_stylizer  # noqa: E402
from runtime.frames import FrameOptions  # noqa: E402
from runtime.temporal import DEFAULT_SMOOTH, TemporalSmoother  # noqa: E402
from runtime.video import stylize_video  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("videos", nargs="*", type=Path)
    p.add_argument("--style", default="mosaic")
    p.add_argument("--max-frames", type=int, default=120)
    a = p.parse_args()
    videos = a.videos or sorted((SHARED / "videos").glob("*.mp4"))
    net = open_stylizer(a.style)
    rows = []
    for src in videos:
        with tempfile.TemporaryDirectory() as d:
            import av

            with av.open(str(src)) as c:
                frames = []
                for f in c.decode(video=0):
                    frames.append(f.to_ndarray(format="rgb24"))
                    if len(frames) >= min(a.max_frames, 30):
                        break
            t0 = time.perf_counter()
            for f in frames:
                net(f)
            engine_fps = len(frames) / (time.perf_counter() - t0)
            for smooth in (0.0, DEFAULT_SMOOTH):
                stats = stylize_video(src, Path(d) / "out.mp4", net, FrameOptions(), progress=False, max_frames=a.max_frames,
                                      frame_hook=TemporalSmoother(smooth) if smooth else None)
                rows.append({"video": src.name, "size": f"{frames[0].shape[1]}x{frames[0].shape[0]}", "smooth": smooth,
                             "frames": stats["frames"], "pipeline_fps": stats["fps"], "engine_fps": engine_fps,
                             "pipeline_over_engine": stats["fps"] / engine_fps})
                print(rows[-1], flush=True)
    cam_src = videos[0]
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "runtime.cam", "--source", str(cam_src), "--style", a.style, "--no-window",
                          "--max-frames", "40", "--no-smooth"], cwd=ROOT, capture_output=True, text=True)
    fps_lines = [l for l in out.stdout.splitlines() if "FPS" in l]
    print(table(rows, ["video", "size", "smooth", "frames", "pipeline_fps", "engine_fps", "pipeline_over_engine"]))
    print("stylecam --no-window:", fps_lines[-1] if fps_lines else out.stderr[-300:])
    print("saved", save(f"video_{a.style}", {"style": a.style, "rows": rows, "stylecam": fps_lines[-3:]}))


if __name__ == "__main__":
    main()
