"""Fault injection: stylevideo killed at random moments (seeded) by each signal never leaves a temporary
or a damaged output; a run that finished before the signal left a complete, playable video."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import pytest

from tests.conftest import ROOT

CLIP = ROOT / "runtime" / "samples" / "clip.mp4"
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
KILLS = [(sig, delay) for sig, delay in zip(SIGNALS * 3, random.Random(14).sample(range(5, 400), 9))]  # delays in 10 ms


@pytest.mark.parametrize("sig,delay", KILLS, ids=[f"{signal.Signals(s).name}-{d * 10}ms" for s, d in KILLS])
def test_killed_at_a_random_moment(sig, delay, small_onnx, tmp_path):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"old output")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STYLECAST_CACHE": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "runtime.video", str(CLIP), str(out), "--model", str(small_onnx),
                             "--backend", "ort-cpu", "--threads", "1", "--quiet"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(delay / 100)  # anywhere from interpreter start-up to the last frames
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    left = sorted(p.name for p in tmp_path.iterdir() if p.name not in ("out.mp4", "cache"))
    assert left == [], left  # no hidden temporaries, whatever moment the signal came
    assert "Traceback" not in err
    if proc.returncode == 0:  # it finished first: the new output is whole
        with av.open(str(out)) as c:
            assert sum(1 for _ in c.decode(video=0)) == 72
    else:
        assert proc.returncode in (128 + sig, -sig), (proc.returncode, err[-800:])  # -sig: killed before our handler existed
        if out.read_bytes() != b"old output":  # the signal came after the finished output was renamed into place
            with av.open(str(out)) as c:
                assert sum(1 for _ in c.decode(video=0)) == 72  # whole, never half-written
