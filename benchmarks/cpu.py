"""CPU speed, issue 12's benchmark: ONNX Runtime against OpenVINO f32/bf16/int8, end to end and per stage.

python benchmarks/cpu.py [--styles starry starry-lite] [--frames 120] [--quick]

1. The engine alone: ms per frame of each built-in style at 640x360, 1280x720 and 1920x1080 on ONNX
   Runtime fp32 and OpenVINO (f32, bf16 where the CPU has it, int8 where the style ships an int8 model),
   measured in interleaved rounds (a shared 2-core machine drifts), with PSNR against ONNX Runtime.
2. End to end: `stylevideo` (decode, stylize, smoothing, H.264 encode, audio copy) over 120 frames with
   smoothing on and off, backend auto (what a user gets) against `--backend ort-cpu`, and `stylecam
   --no-window` on a file; the lite net also at 1280x720 (a clip upscaled from the 640x360 one).
3. The per-stage profile of those runs (`stylevideo --profile`).
Writes benchmarks/results/cpu_<cpu>.json and prints Markdown tables (CPU model named).
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import ROOT, SHARED, machine, save, table  # noqa: E402
from runtime import catalog  # noqa: E402
from runtime.engines import OrtStylizer  # noqa: E402
from runtime.frames import psnr  # noqa: E402
from runtime.openvino_engine import OpenVinoStylizer, bf16_supported, import_openvino, int8_sibling  # noqa: E402

SIZES = ("640x360", "1280x720", "1920x1080")
VIDEO = SHARED / "videos" / "slow_traffic_small.mp4"


def engines_for(path: Path, threads: int) -> dict[str, object]:
    ov = import_openvino()
    nets: dict[str, object] = {"onnxruntime fp32": OrtStylizer(path, use_cuda=False, threads=threads),
                               "openvino f32": OpenVinoStylizer(path, "f32", threads)}
    if bf16_supported(ov.Core()):
        nets["openvino bf16"] = OpenVinoStylizer(path, "bf16", threads)
    if int8_sibling(path):
        nets["openvino int8"] = OpenVinoStylizer(path, "int8", threads)
    return nets


def engine_rows(style: str, threads: int, sizes: list[str], budget_s: float) -> list[dict]:
    path = catalog.style_path(style)
    nets = engines_for(path, threads)
    rows = []
    for size in sizes:
        w, h = (int(v) for v in size.split("x"))
        x = _frame(h, w)
        ref = None
        times: dict[str, list[float]] = {n: [] for n in nets}
        outs = {}
        for name, net in nets.items():  # warm-up (compiles) and output for PSNR
            outs[name] = net.run_nchw(x)
        ref = np.clip(outs["onnxruntime fp32"], 0, 255)
        t_first = time.perf_counter()
        rounds = 0
        while rounds < 3 or (time.perf_counter() - t_first < budget_s and rounds < 15):
            for name, net in nets.items():
                t0 = time.perf_counter()
                net.run_nchw(x)
                times[name].append(time.perf_counter() - t0)
            rounds += 1
        base = 1000 * float(np.median(times["onnxruntime fp32"]))
        for name in nets:
            ms = 1000 * float(np.median(times[name]))
            rows.append({"style": style, "size": size, "backend": name, "ms_per_frame": ms, "fps": 1000 / ms,
                         "vs_onnxruntime": base / ms, "psnr_vs_ort_db": min(99.0, psnr(np.clip(outs[name], 0, 255), ref)),
                         "rounds": rounds})
            print(rows[-1], flush=True)
    return rows


def _frame(h: int, w: int) -> np.ndarray:
    """A real video frame at the size (PSNR on noise would mislead)."""
    import av

    from runtime.frames import resize_to, to_nchw

    with av.open(str(VIDEO)) as c:
        rgb = next(c.decode(video=0)).to_ndarray(format="rgb24")
    return to_nchw(resize_to(rgb, h, w))


def upscaled_clip(src: Path, dst: Path, frames: int, size: tuple[int, int]) -> Path:
    """The first `frames` frames of src resized to (width, height), H.264 at high quality (test input only)."""
    import av

    from runtime.frames import resize_to

    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        v = inp.streams.video[0]
        stream = out.add_stream("libx264", rate=v.average_rate)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"crf": "16", "preset": "veryfast"}
        for i, f in enumerate(inp.decode(video=0)):
            if i >= frames:
                break
            out.mux(stream.encode(av.VideoFrame.from_ndarray(resize_to(f.to_ndarray(format="rgb24"), size[1], size[0]), format="rgb24")))
        out.mux(stream.encode())
    return dst


def stylevideo(src: Path, style: str, backend: str, smooth: bool, frames: int, threads: int) -> dict:
    from runtime.video import parse_args, run

    with tempfile.TemporaryDirectory() as d:
        args = ["--style", style, "--backend", backend, "--max-frames", str(frames), "--quiet", "--profile", "--threads", str(threads)]
        stats = run(parse_args([str(src), str(Path(d) / "out.mp4"), *args, *([] if smooth else ["--no-smooth"])]))
    return stats


def stylecam_fps(src: Path, style: str, threads: int, frames: int = 60) -> float | None:
    out = subprocess.run([sys.executable, "-m", "runtime.cam", "--source", str(src), "--style", style, "--no-window",
                          "--max-frames", str(frames), "--threads", str(threads), "--loop"], cwd=ROOT, capture_output=True, text=True)
    fps = [float(m.group(1)) for m in re.finditer(r"^([\d.]+) FPS", out.stdout, re.M)]
    return float(np.median(fps[1:])) if len(fps) > 1 else (fps[0] if fps else None)


STARTUP = ("import sys, numpy as np; from runtime.engines import open_stylizer; "
           "s = open_stylizer(sys.argv[1], 'openvino', int(sys.argv[2]), precision=sys.argv[3], announce=lambda m: None); "
           "s(np.zeros((360, 640, 3), np.uint8))")


def startup_rows(style: str, threads: int) -> list[dict]:
    """Seconds from process start to the first stylized 640x360 frame: empty cache, then the same cache again."""
    import os

    rows = []
    for precision in ("f32", "auto"):
        with tempfile.TemporaryDirectory() as cache:
            env = {**os.environ, "STYLECAST_CACHE": cache, "PYTHONPATH": str(ROOT)}
            for run in ("first run (empty cache)", "second run (cached)"):
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-c", STARTUP, style, str(threads), precision], cwd=ROOT, env=env, check=True)
                rows.append({"style": style, "precision": precision, "run": run, "seconds": time.perf_counter() - t0})
                print(rows[-1], flush=True)
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--styles", nargs="+", default=["starry", "starry-lite"])
    p.add_argument("--frames", type=int, default=120)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true", help="640x360 only, shorter rounds")
    a = p.parse_args()
    info = machine()
    print(f"CPU: {info['cpu']}, {info['cores']} cores")
    sizes = ["640x360"] if a.quick else list(SIZES)
    eng = [r for s in a.styles for r in engine_rows(s, a.threads, sizes, 5 if a.quick else 20)]
    starts = [r for s in a.styles for r in startup_rows(s, a.threads)]
    e2e, profiles = [], {}
    with tempfile.TemporaryDirectory() as d:
        clips = {"640x360": VIDEO}
        if not a.quick:
            clips["1280x720"] = upscaled_clip(VIDEO, Path(d) / "traffic_720p.mp4", a.frames, (1280, 720))
        for style in a.styles:
            for size, clip in clips.items():
                if size != "640x360" and not style.endswith("-lite"):
                    continue
                for backend in ("auto", "ort-cpu"):
                    for smooth in (True, False):
                        stats = stylevideo(clip, style, backend, smooth, a.frames, a.threads)
                        row = {"style": style, "size": size, "backend": backend, "smoothing": smooth, "frames": stats["frames"],
                               "fps": stats["fps"], "net_alone_fps": 1000 / stats["profile"]["engine_alone_ms"],
                               "pipeline_share": stats["profile"]["non_inference_share"]}
                        e2e.append(row)
                        profiles[f"{style} {size} {backend} smooth={smooth}"] = stats["profile"]
                        print(row, flush=True)
        cam = {s: stylecam_fps(VIDEO, s, a.threads) for s in a.styles}
    print(f"\nCPU: {info['cpu']}, {info['cores']} cores, {a.threads} threads\n")
    print(table(eng, ["style", "size", "backend", "ms_per_frame", "fps", "vs_onnxruntime", "psnr_vs_ort_db"]))
    print()
    print(table(e2e, ["style", "size", "backend", "smoothing", "frames", "fps", "net_alone_fps", "pipeline_share"]))
    print()
    print(table(starts, ["style", "precision", "run", "seconds"]))
    print("\nstylecam --source slow_traffic_small.mp4 --no-window:", cam)
    slug = re.sub(r"[^a-z0-9]+", "-", info["cpu"].lower()).strip("-")
    print("saved", save(f"cpu_{slug}", {"threads": a.threads, "engines": eng, "startup": starts, "stylevideo": e2e, "stylecam_fps": cam, "profiles": profiles}))


if __name__ == "__main__":
    main()
