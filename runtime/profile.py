"""`--profile`: where a frame's time goes in the running pipeline (each stage timed on its own thread).

Stages run concurrently (decode, inference and encode on three threads), so the stage times add up to
more than the wall time per frame when the pipeline overlaps well. The figure that matters is the share
of the wall time per frame that is not inference: 0% means the network is the only bottleneck.
"""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Iterator

STAGES = ("decode", "pre-process", "inference", "post-process", "smoothing", "encode")


class StageClock:
    """Thread-safe per-stage wall-time accumulator; `with clock("decode"): ...`."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.lock = threading.Lock()
        self.cpu0 = time.process_time()

    @contextlib.contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            dt = time.perf_counter() - t0
            with self.lock:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + dt

    def stop(self) -> None:
        """Freeze the process-CPU count (before the net is timed alone for the report)."""
        self.cpu1 = time.process_time()

    def report(self, frames: int, wall_seconds: float, engine_alone_ms: float | None = None) -> dict:
        """ms per frame for each stage, the wall and process-CPU time per frame, and the non-inference share.

        engine_alone_ms (the net timed with the pipeline idle) gives the honest share: on a 2-core machine
        the inference stage slows down while decode and encode threads take CPU from it, so
        1 - engine_alone / wall is what the pipeline around the net costs."""
        n = max(frames, 1)
        wall = wall_seconds * 1000 / n
        stages = {k: round(self.seconds[k] * 1000 / n, 2) for k in STAGES if k in self.seconds}
        infer = engine_alone_ms if engine_alone_ms is not None else stages.get("inference", 0.0)
        return {"frames": frames, "ms_per_frame": stages, "wall_ms_per_frame": round(wall, 2),
                "engine_alone_ms": None if engine_alone_ms is None else round(engine_alone_ms, 2),
                "process_cpu_ms_per_frame": round(((getattr(self, "cpu1", None) or time.process_time()) - self.cpu0) * 1000 / n, 2),
                "non_inference_share": round(max(0.0, 1 - infer / wall), 3) if wall > 0 else None}


def format_report(report: dict) -> str:
    """The --profile table, one stage per line."""
    wall = report["wall_ms_per_frame"]
    lines = [f"profile over {report['frames']} frames (stages overlap on three threads):"]
    for stage, ms in report["ms_per_frame"].items():
        lines.append(f"  {stage:<13} {ms:8.2f} ms/frame")
    lines.append(f"  {'wall':<13} {wall:8.2f} ms/frame ({1000 / wall if wall else 0:.1f} FPS), process CPU {report['process_cpu_ms_per_frame']:.1f} ms/frame")
    if report.get("engine_alone_ms") is not None:
        lines.append(f"  the net alone {report['engine_alone_ms']:.2f} ms/frame ({1000 / report['engine_alone_ms']:.1f} FPS): "
                     f"the pipeline around it costs {100 * report['non_inference_share']:.0f}% of the wall time per frame")
    elif report["non_inference_share"] is not None:
        lines.append(f"  not inference: {100 * report['non_inference_share']:.0f}% of the wall time per frame")
    return "\n".join(lines)
