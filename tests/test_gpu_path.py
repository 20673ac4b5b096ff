"""The GPU path against fake TensorRT 10/11 and pycuda (tests/fakes): build, load, shape change, execute,
threads, exit, fallbacks, and a [gpu]-only install. Each test names the issue-13 finding it covers."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from runtime.errors import DependencyError, InputError, StylecastError
from runtime.trt_sidecar import EngineMismatch, sidecar_path
from tests.conftest import ROOT, assert_user_error
from tests.fakes import install, leftover_contexts, switch, tensorrt_fake

VERSIONS = ["10.8.0", "11.1.0"]
SMALL = dict(lo=(1, 3, 32, 32), opt=(1, 3, 128, 128), hi=(2, 3, 512, 512))


@pytest.fixture(params=VERSIONS)
def gpu(request, monkeypatch, tmp_path):
    """Fake TensorRT (both majors) + pycuda on an 'H100'; a private engine cache."""
    monkeypatch.setenv("STYLECAST_CACHE", str(tmp_path / "cache"))
    return install(monkeypatch, request.param)


@pytest.fixture
def engine(gpu, small_onnx, tmp_path):
    from runtime.trt_build import build_engine

    path = tmp_path / "tiny.trt"
    build_engine(small_onnx, path, timing_cache=tmp_path / "timing.cache", **SMALL)
    return path


def _frame(h=72, w=96, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def test_build_per_version_flags_profile_cache_and_sidecar(gpu, engine, tmp_path):
    """Builder: TensorRT 10 sets BuilderFlag.FP16 on a weakly typed network; 11 builds a strongly typed network
    from an fp16 graph with no FP16 flag; one profile; a timing cache per TensorRT version; sidecar facts."""
    info = json.loads(sidecar_path(engine).read_text())
    version = gpu.trt.__version__
    builds = tensorrt_fake.names("Builder.build_serialized_network")
    assert len(builds) == 1
    flags, config_flags = builds[0][1]
    if version.startswith("10."):
        assert config_flags == [gpu.trt.BuilderFlag.FP16] and flags == 0 and info["build"] == "BuilderFlag.FP16"
    else:
        assert not hasattr(gpu.trt.BuilderFlag, "FP16")
        assert config_flags == [] and flags & (1 << int(gpu.trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
        assert info["build"] == "strongly typed fp16 ONNX"
    assert tensorrt_fake.names("IOptimizationProfile.set_shape") == [
        ("IOptimizationProfile.set_shape", ("input", SMALL["lo"], SMALL["opt"], SMALL["hi"]))]
    assert (tmp_path / f"timing-trt{version}.cache").read_bytes() == f"FAKETC {version}".encode()
    assert info["tensorrt_version"] == version and info["gpu"] == "NVIDIA H100 80GB HBM3" and info["compute_capability"] == "9.0"
    assert info["precision"] == "fp16" and info["profile"]["max"] == list(SMALL["hi"]) and info["card"]["name"] == "tiny"


def test_default_profile_spans_webcam_to_1080p():
    from runtime.trt_build import DEFAULT_MAX, DEFAULT_MIN, DEFAULT_OPT

    assert DEFAULT_MIN[2:] <= (240, 240) and DEFAULT_OPT[2:] == (720, 1280) and min(DEFAULT_MAX[2:]) >= 1080


def test_run_shape_change_and_profile_limits(gpu, engine, small_onnx):
    """Execute through set_input_shape/set_tensor_address/execute_async_v3; a new shape re-binds; outside the profile: one line."""
    from runtime.engines import OrtStylizer
    from runtime.trt_engine import TrtStylizer

    st = TrtStylizer(engine)
    ref = OrtStylizer(small_onnx, use_cuda=False)
    for h, w in ((72, 96), (130, 200), (72, 96)):
        img = _frame(h, w)
        assert np.abs(st(img).astype(int) - ref(img).astype(int)).max() <= 1
    shapes = [c[1][1] for c in tensorrt_fake.names("IExecutionContext.set_input_shape")]
    assert shapes == [(1, 3, 72, 96), (1, 3, 136, 200), (1, 3, 72, 96)]
    assert len(tensorrt_fake.names("IExecutionContext.execute_async_v3")) == 3
    with pytest.raises(StylecastError, match="outside the engine's profile"):
        st(_frame(600, 64))
    st.close()
    assert leftover_contexts() == {}


def test_inference_from_another_thread_than_the_creator(gpu, engine):
    """Finding 1: created on the main thread, called from the pipeline's worker thread (pycuda's stack is per thread)."""
    from runtime.trt_engine import TrtStylizer

    st = TrtStylizer(engine)
    result: dict = {}

    def worker():
        try:
            result["out"] = st(_frame())
        except Exception as exc:  # noqa: BLE001
            result["err"] = exc

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert "err" not in result, result.get("err")
    assert result["out"].shape == (72, 96, 3)
    assert leftover_contexts() == {}  # nothing left pushed on either thread


@pytest.mark.parametrize("version", VERSIONS)
def test_clean_exit_after_build_load_and_run(version, small_onnx, tmp_path):
    """Finding 2: a process that builds, loads and runs exits 0 (the fake pycuda aborts, like the real one,
    when a context is left on the stack at exit)."""
    code = f"""
import sys, threading, numpy as np
from pathlib import Path
from tests.fakes import install_global
install_global({version!r}, abort_at_exit=True)
from runtime.engines import open_stylizer
st = open_stylizer({str(small_onnx)!r}, "trt", announce=lambda m: None)
t = threading.Thread(target=lambda: st(np.zeros((64, 64, 3), np.uint8)))
t.start()
t.join()  # one stylizer serves one thread at a time (the pipeline's inference thread); concurrent calls race
st(np.zeros((40, 48, 3), np.uint8))
print("ok", st.backend)
"""
    env = {"STYLECAST_CACHE": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, **env, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert "ok TensorRT" in proc.stdout and "context stack" not in proc.stderr


def test_output_dtype_and_shape_come_from_the_engine(gpu, engine, small_onnx):
    """Finding 7: an fp16 output tensor is read as fp16 (get_tensor_dtype), not assumed float32."""
    from runtime.engines import OrtStylizer
    from runtime.trt_engine import TrtStylizer

    gpu.config["output_dtype"] = gpu.trt.DataType.HALF
    st = TrtStylizer(engine)
    img = _frame()
    assert st.dtype_out == np.float16
    assert np.abs(st(img).astype(int) - OrtStylizer(small_onnx, use_cuda=False)(img).astype(int)).max() <= 1


def test_return_values_are_checked(gpu, engine, monkeypatch):
    """Finding 7: create_execution_context None and set_input_shape False become one-line errors."""
    from runtime.trt_engine import TrtStylizer

    gpu.config["fail_context"] = True
    with pytest.raises(StylecastError, match="execution context"):
        TrtStylizer(engine)
    gpu.config["fail_context"] = False
    st = TrtStylizer(engine)
    monkeypatch.setattr(type(st.context), "set_input_shape", lambda self, name, shape: False)
    with pytest.raises(StylecastError, match="rejected the input shape"):
        st(_frame())
    assert leftover_contexts() == {}


def test_timing_cache_mismatch_is_replaced(gpu, small_onnx, tmp_path):
    """Finding 7: set_timing_cache's False (a damaged or foreign cache) -> a note and a fresh cache, not a silent mismatch."""
    from runtime.trt_build import build_engine, timing_cache_file

    cache = tmp_path / "t.cache"
    timing_cache_file(cache, gpu.trt.__version__).write_bytes(b"garbage")
    said: list[str] = []
    build_engine(small_onnx, tmp_path / "a.trt", timing_cache=cache, say=said.append, **SMALL)
    assert any("ignoring the timing cache" in m for m in said)
    assert [c[1] for c in tensorrt_fake.names("IBuilderConfig.set_timing_cache")] == [(False, False), (True, False)]


def test_engine_mismatch_other_gpu_other_version_corrupt(gpu, engine, monkeypatch, tmp_path):
    """Loader: another GPU architecture or TensorRT version, or a corrupt file: one clear error each."""
    from runtime.trt_engine import TrtStylizer

    version = gpu.trt.__version__
    switch(monkeypatch, name="NVIDIA GeForce RTX 4090", cc=(8, 9))
    with pytest.raises(EngineMismatch, match="4090"):
        TrtStylizer(engine)
    switch(monkeypatch, name="NVIDIA H100 80GB HBM3", cc=(9, 0))
    switch(monkeypatch, version=version[:-1] + "9")
    with pytest.raises(EngineMismatch, match=version):
        TrtStylizer(engine)
    switch(monkeypatch, version=version)
    bad = tmp_path / "bad.trt"
    bad.write_bytes(b"not an engine")
    sidecar_path(bad).write_text(sidecar_path(engine).read_text())
    with pytest.raises(InputError, match="could not load"):
        TrtStylizer(bad)
    assert leftover_contexts() == {}


def test_engine_mismatch_cli_is_one_line(small_onnx, tmp_path):
    """Exit 2 with one line (no traceback) when stylevideo is handed a corrupt engine."""
    engine = tmp_path / "bad.trt"
    engine.write_bytes(b"junk")
    sidecar_path(engine).write_text(json.dumps({"tensorrt_version": "10.8.0", "gpu": "NVIDIA H100 80GB HBM3",
                                                "compute_capability": "9.0"}))
    code = ("import sys; from tests.fakes import install_global; install_global('10.8.0');"
            "from runtime.engines import open_stylizer; from runtime.errors import cli_entry;"
            f"cli_entry(lambda: open_stylizer({str(engine)!r}, 'trt'))()")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert_user_error(proc, "could not load")


def test_version_compatible_engines(monkeypatch, small_onnx, tmp_path):
    """Finding 5: --version-compatible keeps the lean runtime in the plan (no EXCLUDE_LEAN_RUNTIME) and loads on a
    later 10.x and on 11.x (documented); a plain 10.x engine does not load on 11.x."""
    from runtime.trt_build import build_engine
    from runtime.trt_engine import TrtStylizer

    gpu = install(monkeypatch, "10.8.0")
    vc, plain = tmp_path / "vc.trt", tmp_path / "plain.trt"
    build_engine(small_onnx, vc, version_compatible=True, **SMALL)
    build_engine(small_onnx, plain, **SMALL)
    assert gpu.trt.BuilderFlag.EXCLUDE_LEAN_RUNTIME not in tensorrt_fake.names("Builder.build_serialized_network")[0][1][1]
    for later in ("10.9.1", "11.1.0"):
        switch(monkeypatch, version=later)
        assert TrtStylizer(vc)(_frame()).shape == (72, 96, 3)
    with pytest.raises(EngineMismatch, match="11.1.0"):
        TrtStylizer(plain)


def test_auto_falls_back_when_the_build_or_gate_fails(gpu, small_onnx, monkeypatch):
    """Finding 6: auto mode notes a failed build or fidelity gate and runs on the next backend; --backend trt raises."""
    from runtime.engines import open_stylizer

    gpu.config["output_bias"] = 40.0  # the engine's output is off: the fidelity gate fails
    said: list[str] = []
    st = open_stylizer(str(small_onnx), "auto", announce=said.append)
    assert not st.backend.startswith("TensorRT")
    assert any(m.startswith("note: TensorRT unusable") and "dB" in m for m in said)
    said.clear()
    st = open_stylizer(str(small_onnx), "auto", announce=said.append)  # remembered: no second build
    assert any("remembered" in m for m in said) and len(tensorrt_fake.names("Builder.build_serialized_network")) == 1
    with pytest.raises(StylecastError, match="remembered"):
        open_stylizer(str(small_onnx), "trt", announce=said.append)


def test_auto_falls_back_when_the_build_returns_none(gpu, small_onnx, tmp_path, monkeypatch):
    from runtime.engines import open_stylizer

    monkeypatch.setenv("STYLECAST_CACHE", str(tmp_path / "cache"))
    gpu.config["fail_build"] = True
    said: list[str] = []
    st = open_stylizer(str(small_onnx), "auto", announce=said.append)
    assert not st.backend.startswith("TensorRT") and any("failed to build" in m for m in said)


def test_auto_uses_tensorrt_when_it_works(gpu, small_onnx, tmp_path, monkeypatch):
    from runtime.engines import open_stylizer

    monkeypatch.setenv("STYLECAST_CACHE", str(tmp_path / "cache"))
    said: list[str] = []
    st = open_stylizer(str(small_onnx), "auto", announce=said.append)
    assert st.backend.startswith(f"TensorRT {gpu.trt.__version__} fp16 on NVIDIA H100")
    assert json.loads(next((tmp_path / "cache" / "engines").glob("*.trt.json")).read_text())["fidelity"]["psnr_db"] >= 40


def _block_onnx(monkeypatch):
    for name in ("onnx", "onnxconverter_common"):
        monkeypatch.setitem(sys.modules, name, None)  # "import onnx" raises ImportError, as in a [gpu]-only install


def test_gpu_only_install_without_onnx(monkeypatch, small_onnx, tmp_path):
    """Finding 3: TensorRT 10 builds without the onnx package; TensorRT 11 needs it for the fp16 conversion and
    says so in one line, and auto mode falls back instead of a traceback."""
    from runtime.engines import open_stylizer
    from runtime.trt_build import build_engine

    _block_onnx(monkeypatch)
    install(monkeypatch, "10.8.0")
    build_engine(small_onnx, tmp_path / "a.trt", **SMALL)
    install(monkeypatch, "11.1.0")
    with pytest.raises(DependencyError, match="onnxconverter-common"):
        build_engine(small_onnx, tmp_path / "b.trt", **SMALL)
    monkeypatch.setenv("STYLECAST_CACHE", str(tmp_path / "cache"))
    said: list[str] = []
    st = open_stylizer(str(small_onnx), "auto", announce=said.append)
    assert not st.backend.startswith("TensorRT") and any("float16 ONNX" in m for m in said)


def test_gpu_only_install_export_cli_is_one_line(small_onnx, tmp_path):
    code = ("import sys; sys.modules['onnx'] = None; sys.modules['onnxconverter_common'] = None;"
            "from tests.fakes import install_global; install_global('11.1.0');"
            f"from export.trt import main; main([{str(small_onnx)!r}, {str(tmp_path / 'x.trt')!r}])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={**__import__("os").environ, "PYTHONPATH": str(ROOT), "STYLECAST_CACHE": str(tmp_path)})
    assert_user_error(proc, "onnxconverter-common")


def test_export_cli_builds_and_gates(monkeypatch, small_onnx, tmp_path, capsys):
    from export import trt as trt_export

    install(monkeypatch, "10.8.0")
    trt_export.main([str(small_onnx), str(tmp_path / "m.trt"), "--min", "32x32", "--opt", "128x128", "--max", "2x3x512x512",
                     "--timing-cache", str(tmp_path / "t.cache")])
    assert "PSNR vs ONNX fp32" in capsys.readouterr().out
    assert json.loads((tmp_path / "m.trt.json").read_text())["fidelity"]["psnr_db"] >= 40


def test_runtime_never_imports_export():
    """The import circle is gone: no module under runtime/ imports export (statically, lazily or not)."""
    for py in (ROOT / "runtime").rglob("*.py"):
        for node in ast.walk(ast.parse(py.read_text())):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(m == "export" or m.startswith("export.") for m in mods), (py, mods)


def test_fake_rejects_removed_and_misspelled_apis(monkeypatch):
    """The fakes are strict: what TensorRT 10/11 removed is absent, as in the real bindings."""
    gpu = install(monkeypatch, "11.1.0")
    trt = gpu.trt
    builder = trt.Builder(trt.Logger())
    config = builder.create_builder_config()
    for obj, name in ((builder, "build_engine"), (builder, "platform_has_fast_fp16"), (trt.BuilderFlag, "FP16"),
                      (trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"), (trt.IExecutionContext, "execute_async_v2"),
                      (trt.ICudaEngine, "get_binding_index")):
        assert not hasattr(obj, name), name
    with pytest.raises(AttributeError):
        config.max_workspace_size = 1 << 30
    with pytest.raises(gpu.cuda.LogicError, match="no currently active context"):
        gpu.cuda.init()
        gpu.cuda.pagelocked_empty((1,), np.float32)


def test_torch_cuda_graph_cache_is_bounded(small_model, monkeypatch):
    """Finding 7: CUDA graphs are kept for at most MAX_GRAPHS shapes (least recently used evicted)."""
    from runtime.engines import TorchStylizer

    st = TorchStylizer(small_model, device="cpu")
    captured: list[tuple] = []
    monkeypatch.setattr(st, "_capture", lambda shape: captured.append(shape) or ("graph", shape))
    for shape in [(1, 3, 8, 8), (1, 3, 16, 16), (1, 3, 8, 8), (1, 3, 24, 24), (1, 3, 32, 32), (1, 3, 8, 8)]:
        assert st._graph(shape) == ("graph", shape)
    assert len(st.graphs) == st.MAX_GRAPHS == 3
    assert captured == [(1, 3, 8, 8), (1, 3, 16, 16), (1, 3, 24, 24), (1, 3, 32, 32)]  # 8x8 stayed in use
    assert list(st.graphs) == [(1, 3, 24, 24), (1, 3, 32, 32), (1, 3, 8, 8)]


def test_clobbered_onnxruntime_gpu_is_named(monkeypatch):
    """Finding 4: onnxruntime-gpu installed but overwritten by the CPU wheel -> the fix is said, not a silent CPU run."""
    from importlib import metadata

    from runtime import engines

    real = metadata.version
    monkeypatch.setattr(metadata, "version", lambda n: "1.20.0" if n == "onnxruntime-gpu" else real(n))
    why, broken = engines._ort_cuda_missing()
    assert broken and "--force-reinstall --no-deps onnxruntime-gpu" in why


def test_gpu_extra_and_readme_describe_the_replacement():
    text = (ROOT / "pyproject.toml").read_text()
    gpu_line = next(line for line in text.splitlines() if line.startswith("gpu ="))
    assert "onnxruntime-gpu" in gpu_line
    assert "pip uninstall -y onnxruntime" in (ROOT / "README.md").read_text()


@pytest.mark.skipif("not __import__('torch').cuda.is_available()", reason="needs a CUDA GPU (torch)")
def test_torch_cuda_fp16_against_onnxruntime_fp32(small_model, small_onnx):
    """Finding 8: fp16 CUDA output is held to a PSNR gate, not to max difference 1 against fp32."""
    from runtime.engines import OrtStylizer, TorchStylizer
    from runtime.frames import psnr

    img = _frame(241, 321)
    got = TorchStylizer(small_model, "cuda")(img).astype(np.float32)
    ref = OrtStylizer(small_onnx, use_cuda=False)(img).astype(np.float32)
    assert psnr(got, ref) >= 35
