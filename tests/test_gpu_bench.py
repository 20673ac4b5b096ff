"""benchmarks/gpu.py (issue 13, item 5): one line and exit 0 without a GPU; with the fake TensorRT, pycuda and
ONNX Runtime CUDA (which run the real model on the CPU: the timings mean nothing, the code path is real) it
fills the TensorRT FP16 and ONNX Runtime CUDA rows and writes gpu.json / gpu.md."""
from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT
from tests.fakes import install, install_ort_cuda


def test_without_a_gpu_it_says_so_in_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "benchmarks/gpu.py", "--out-dir", str(tmp_path / "out")], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert proc.stdout.strip().splitlines() == [proc.stdout.strip()] and "no GPU here" in proc.stdout
    assert proc.stderr.strip() == "" and not (tmp_path / "out").exists()


def test_tensorrt_and_ort_cuda_rows_with_the_fakes(monkeypatch, tmp_path, small_model, capsys):
    install(monkeypatch, "10.8.0")  # fake tensorrt + pycuda: an "H100" with no torch CUDA
    install_ort_cuda(monkeypatch)
    monkeypatch.setenv("STYLECAST_CACHE", str(tmp_path / "cache"))
    from benchmarks import gpu

    out = tmp_path / "out"
    rc = gpu.main(["--model", str(small_model), "--sizes", "96x64,128x72", "--repeats", "2",
                   "--video-size", "128x72", "--video-frames", "6", "--out-dir", str(out)])
    assert rc == 0
    data = json.loads((out / "gpu.json").read_text())
    assert data["gpu"] == "NVIDIA H100 80GB HBM3"
    by = {(r["backend"], r["size"]): r for r in data["rows"]}
    for size in ("96x64", "128x72"):
        trt = by[("TensorRT 10.8.0 FP16", size)]
        ort = by[("ONNX Runtime CUDA fp16 + IO binding", size)]
        for r in (trt, ort):
            assert r["engine_ms"] > 0 and r["fps"] > 0 and r["with_host_copies_ms"] > 0
    assert any("PSNR vs ONNX Runtime fp32" in n for n in data["notes"])  # the TensorRT gate ran
    assert any(k.startswith("torch fp16") for k in data["skipped"])  # no torch CUDA: said, not crashed
    assert "TensorRT FP16" not in data["skipped"] and "ONNX Runtime CUDA" not in data["skipped"]
    video = data["stylevideo"]
    if video is None:  # no PyAV here
        assert any(k.startswith("stylevideo") for k in data["skipped"])
    else:
        assert video["fps_whole_process"] > 0 and video["what"].startswith("stylevideo 128x72, 6 frames")
        assert any(c["stage"] == "decode" for c in data["codecs"]) and any("NVDEC" in n or "h264_cuvid" in n for n in data["notes"] + [c["codec"] for c in data["codecs"]])
    md = (out / "gpu.md").read_text()
    assert "| TensorRT 10.8.0 FP16 | 96x64 |" in md and "| ONNX Runtime CUDA fp16 + IO binding | 128x72 |" in md
    assert md.strip() in capsys.readouterr().out
