"""Does a long run leak? `stylecam` on a looped video for 30 minutes, its memory (RSS) sampled every 10 s.

python benchmarks/soak.py [--minutes 30] [--style starry-lite] [--video ../shared/data/videos/slow_traffic_small.mp4]

The process is the real command (`stylecam --source VIDEO --loop --no-window`, smoothing on), watched
from outside through /proc/PID/status. After a warm-up (the first 2 minutes: model compilation, caches,
allocator pools) the RSS must stay within 5% of its post-warm-up median. Writes
benchmarks/results/soak.json and soak.png (the curve, drawn with OpenCV).
"""
from __future__ import annotations

import argparse
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import RESULTS, ROOT, SHARED, save  # noqa: E402
from runtime.errors import StylecastError, cli_entry  # noqa: E402

WARMUP_S = 120
TOLERANCE = 0.05


def rss_mib(pid: int) -> float | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    m = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) / 1024 if m else None


def plot(times: list[float], rss: list[float], path: Path) -> None:
    import cv2

    w, h, pad = 900, 360, 50
    img = np.full((h, w, 3), 255, np.uint8)
    lo, hi = min(rss) * 0.95, max(rss) * 1.05
    xs = [pad + (w - 2 * pad) * t / max(times[-1], 1) for t in times]
    ys = [h - pad - (h - 2 * pad) * (r - lo) / max(hi - lo, 1e-9) for r in rss]
    cv2.rectangle(img, (pad, pad), (w - pad, h - pad), (200, 200, 200), 1)
    warm_x = int(pad + (w - 2 * pad) * WARMUP_S / max(times[-1], 1))
    cv2.line(img, (warm_x, pad), (warm_x, h - pad), (180, 180, 255), 1)
    for i in range(1, len(xs)):
        cv2.line(img, (int(xs[i - 1]), int(ys[i - 1])), (int(xs[i]), int(ys[i])), (160, 60, 0), 2, cv2.LINE_AA)
    font = cv2.FONT_HERSHEY_SIMPLEX
    cv2.putText(img, f"stylecam RSS (MiB) over {times[-1] / 60:.0f} min", (pad, 30), font, 0.6, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"{hi:.0f}", (5, pad + 5), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"{lo:.0f}", (5, h - pad), font, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, "warm-up", (warm_x + 4, h - pad - 6), font, 0.4, (120, 120, 255), 1, cv2.LINE_AA)
    cv2.imwrite(str(path), img)


@cli_entry
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--style", default="starry-lite")
    p.add_argument("--video", type=Path, default=SHARED / "videos" / "slow_traffic_small.mp4")
    p.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    a = p.parse_args()
    cmd = [sys.executable, "-m", "runtime.cam", "--source", str(a.video), "--loop", "--no-window", "--style", a.style]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.perf_counter()
    times, rss = [], []
    fps_curve: list[tuple[float, float]] = []  # (seconds, FPS) from stylecam's once-a-second line: it keeps working

    def read_fps() -> None:
        for line in proc.stdout:
            m = re.match(r"([\d.]+) FPS", line)
            if m:
                fps_curve.append((round(time.perf_counter() - t0, 1), float(m.group(1))))

    reader = threading.Thread(target=read_fps, daemon=True)
    reader.start()
    try:
        while time.perf_counter() - t0 < a.minutes * 60:
            time.sleep(a.every)
            if proc.poll() is not None:
                raise StylecastError(f"stylecam ended early (rc {proc.returncode}): {proc.stderr.read()[-500:]}")
            value = rss_mib(proc.pid)
            if value is not None:
                times.append(round(time.perf_counter() - t0, 1))
                rss.append(round(value, 1))
                print(f"{times[-1]:7.0f} s  {rss[-1]:7.1f} MiB", flush=True)
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        reader.join(timeout=10)
    after = [r for t, r in zip(times, rss) if t >= WARMUP_S]
    median = float(np.median(after)) if after else float("nan")
    spread = (max(after) - min(after)) / median if after else float("nan")
    fps = [f for _, f in fps_curve]
    last_minute = [f for t, f in fps_curve if t >= times[-1] - 60] if times else []
    result = {"command": " ".join(cmd[1:]), "minutes": a.minutes, "samples": len(rss), "warmup_s": WARMUP_S,
              "rss_median_after_warmup_mib": median, "rss_min_mib": min(after) if after else None,
              "rss_max_mib": max(after) if after else None, "spread_after_warmup": spread,
              "flat_within_5_percent": bool(after) and max(after) <= median * (1 + TOLERANCE) and min(after) >= median * (1 - TOLERANCE),
              "fps_median": float(np.median(fps)) if fps else None,
              "fps_median_last_minute": float(np.median(last_minute)) if last_minute else None, "exit_code": proc.returncode,
              "curve": {"t_s": times, "rss_mib": rss}, "fps_curve": fps_curve}
    plot(times, rss, RESULTS / "soak.png")
    print({k: v for k, v in result.items() if k != "curve"})
    print("saved", save("soak", result), RESULTS / "soak.png")


if __name__ == "__main__":
    main()
