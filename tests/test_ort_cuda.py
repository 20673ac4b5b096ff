"""ONNX Runtime CUDA (issue 13, item 4) against a fake CUDA provider over the real CPU onnxruntime
(tests/fakes/onnxruntime_cuda_fake.py): IO binding, no host round trip in run_device, a shape change
mid-stream, and the fp16 model with TensorRT's fidelity gate (pass, fail -> fp32 with one note, remembered)."""
from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from runtime.errors import StylecastError
from tests.conftest import ROOT
from tests.fakes import install_ort_cuda


@pytest.fixture
def ort(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLECAST_CACHE", str(tmp_path / "cache"))
    return install_ort_cuda(monkeypatch)


def _frame(h=72, w=96, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (h, w, 3), dtype=np.uint8)


def _open(model, said=None, **kw):
    from runtime.engines import open_stylizer

    return open_stylizer(str(model), kw.pop("backend", "ort-cuda"), announce=(said if said is not None else []).append, **kw)


def _reference(model):
    """fp32 on the CPU provider (the fake passes CPU sessions straight to the real onnxruntime)."""
    from runtime.engines import OrtStylizer

    return OrtStylizer(model, use_cuda=False)


def test_host_frames_go_through_io_binding(ort, small_onnx):
    """run_nchw on CUDA: host input bound with bind_cpu_input, output bound to 'cuda' device 0, one copy out."""
    st = _open(small_onnx)
    assert st.backend == "onnxruntime CUDA fp16 (IO binding)" and st.cuda
    img = _frame()
    expected = _reference(small_onnx)(img)
    ort.calls.clear()
    out = st(img)
    assert np.abs(out.astype(int) - expected.astype(int)).max() <= 1
    got = [c[0] for c in ort.calls]
    assert got == ["IOBinding.bind_cpu_input", "IOBinding.bind_output", "InferenceSession.run_with_iobinding",
                   "IOBinding.copy_outputs_to_cpu"]
    assert ort.names("IOBinding.bind_output")[0][1] == ("output", "cuda", 0, None)  # device only: ORT sizes it


def test_run_device_keeps_frames_on_the_gpu(ort, small_onnx):
    """GPU in, GPU out: chained runs make no host copy at all; OrtValue and torch-style pointer inputs."""
    st = _open(small_onnx)
    x = np.random.default_rng(1).uniform(0, 255, (1, 3, 64, 96)).astype(np.float32)
    ort.transfers.clear()  # the fidelity gate's photos
    on_gpu = st.to_device(x)
    assert on_gpu.device_name() == "cuda" and ort.transfers == [("htod", (1, 3, 64, 96), "ortvalue_from_numpy")]
    ort.transfers.clear()
    ort.calls.clear()
    y = st.run_device(on_gpu)
    z = st.run_device(y)  # the next GPU stage reads y where it is
    tensor = types.SimpleNamespace(is_cuda=True, dtype="torch.float32", shape=(1, 3, 64, 96), device=types.SimpleNamespace(index=0),
                                   data_ptr=on_gpu.data_ptr, is_contiguous=lambda: True)
    w = st.run_device(tensor)  # a torch CUDA tensor: bound by pointer (bind_input), no copy
    assert ort.transfers == []  # no host round trip
    assert y.device_name() == z.device_name() == w.device_name() == "cuda"
    got = [c[0] for c in ort.calls]
    assert "IOBinding.copy_outputs_to_cpu" not in got and "InferenceSession.run" not in got
    assert got[:5] == ["IOBinding.bind_ortvalue_input", "IOBinding.synchronize_inputs", "IOBinding.bind_output",
                       "InferenceSession.run_with_iobinding", "IOBinding.synchronize_outputs"]
    assert ort.names("IOBinding.bind_input")[0][1][:5] == ("input", "cuda", 0, np.dtype(np.float32), (1, 3, 64, 96))
    ref = _reference(small_onnx)
    np.testing.assert_allclose(y.numpy(), ref.run_nchw(x), atol=0.5)
    np.testing.assert_allclose(z.numpy(), ref.run_nchw(ref.run_nchw(x)), atol=1.0)
    np.testing.assert_allclose(w.numpy(), y.numpy(), atol=1e-4)
    with pytest.raises(StylecastError, match="float32 on 'cuda'"):
        st.run_device(ort.ort.OrtValue.ortvalue_from_numpy(x))  # a host OrtValue
    with pytest.raises(StylecastError, match="multiples of 8"):
        st.run_device(st.to_device(x[:, :, :60]))


def test_shape_change_mid_stream(ort, small_onnx):
    """A new frame size re-binds the output each run; the fake, like ORT, rejects a reused output buffer."""
    st = _open(small_onnx)
    ref = _reference(small_onnx)
    for h, w in ((72, 96), (130, 200), (72, 96), (40, 48)):
        img = _frame(h, w, seed=h)
        assert st(img).shape == (h, w, 3)
        assert np.abs(st(img).astype(int) - ref(img).astype(int)).max() <= 1
        d = st.run_device(st.to_device(np.zeros((1, 3, h + (-h) % 8, w + (-w) % 8), np.float32)))
        assert d.shape() == [1, 3, h + (-h) % 8, w + (-w) % 8]
    shapes = [c[1][0]["input"] for c in ort.names("InferenceSession.run_with_iobinding")]
    assert (1, 3, 136, 200) in shapes and (1, 3, 72, 96) in shapes
    b = st.session.io_binding()  # what happens without the rebinding (the bug run_device/run_nchw avoid)
    b.bind_output("output", "cuda", 0)
    for shape in ((1, 3, 64, 64), (1, 3, 72, 96)):
        b.bind_cpu_input("input", np.zeros(shape, np.float32))
        if shape[2] == 72:
            with pytest.raises(RuntimeError, match="Shape mismatch attempting to re-use buffer"):
                st.session.run_with_iobinding(b)
        else:
            st.session.run_with_iobinding(b)


def test_fake_checks_device_strings_and_binding_owner(ort, small_onnx):
    st = _open(small_onnx)
    x = np.zeros((1, 3, 8, 8), np.float32)
    with pytest.raises(Exception, match="Unsupported device type: CUDA"):
        ort.ort.OrtValue.ortvalue_from_numpy(x, "CUDA", 0)
    with pytest.raises(RuntimeError, match="device 1"):
        ort.ort.OrtValue.ortvalue_from_numpy(x, "cuda", 1)
    other = ort.ort.InferenceSession(str(small_onnx), providers=["CUDAExecutionProvider"])
    with pytest.raises(ValueError, match="session that created it"):
        other.run_with_iobinding(st.binding)


def test_fp16_model_made_once_gated_and_remembered(ort, small_onnx, tmp_path, monkeypatch):
    """First use converts to fp16 into the cache, gates it (>= 40 dB vs fp32 on real photos) and keeps the verdict."""
    from runtime import fp16

    said: list[str] = []
    st = _open(small_onnx, said)
    assert st.precision == "fp16" and st.fidelity_db >= 40
    assert st.model_path.parent == tmp_path / "cache" / "ort-cuda" and st.model_path.name.endswith(".fp16.onnx")
    assert ("InferenceSession", (("CUDAExecutionProvider", "CPUExecutionProvider"), "fp16")) in ort.calls
    record = next((tmp_path / "cache" / "ort-cuda").glob("*.gate.json"))
    assert json.loads(record.read_text())["passed"] is True
    assert any("made the fp16 model" in m for m in said)
    monkeypatch.setattr(fp16, "worst_psnr", lambda *a, **k: pytest.fail("the gate ran again"))
    monkeypatch.setattr(fp16, "fp16_graph_bytes", lambda *a, **k: pytest.fail("converted again"))
    assert _open(small_onnx).precision == "fp16"


def test_fp16_gate_failure_falls_back_to_fp32_with_one_note(ort, small_onnx):
    ort.config["fp16_output_bias"] = 30.0  # the fp16 model's output is off on the "GPU"
    said: list[str] = []
    st = _open(small_onnx, said)
    assert st.backend == "onnxruntime CUDA fp32 (IO binding)" and st.model_path == small_onnx
    notes = [m for m in said if "dB" in m]
    assert len(notes) == 1 and "\n" not in notes[0] and "gate 40 dB" in notes[0] and "fp32 model" in notes[0]
    img = _frame()
    assert np.abs(st(img).astype(int) - _reference(small_onnx)(img).astype(int)).max() <= 1
    said.clear()
    _open(small_onnx, said)
    assert any("remembered" in m for m in said)


def test_fp16_model_beside_the_onnx_is_used(ort, small_onnx, tmp_path):
    from runtime.fp16 import fp16_graph_bytes

    model = tmp_path / "m.onnx"
    shutil.copy(small_onnx, model)
    (tmp_path / "m.fp16.onnx").write_bytes(fp16_graph_bytes(model))
    st = _open(model)
    assert st.model_path == tmp_path / "m.fp16.onnx" and st.precision == "fp16"
    assert not list((tmp_path / "cache" / "ort-cuda").glob("*.fp16.onnx"))


def test_precision_f32_and_missing_converter(ort, small_onnx, monkeypatch):
    """--precision f32 keeps fp32; without onnx/onnxconverter-common: one note, fp32."""
    assert _open(small_onnx, precision="f32").backend == "onnxruntime CUDA fp32 (IO binding)"
    for name in ("onnx", "onnxconverter_common"):
        monkeypatch.setitem(sys.modules, name, None)
    said: list[str] = []
    st = _open(small_onnx, said)
    assert st.precision == "fp32"
    notes = [m for m in said if "onnxconverter-common" in m]
    assert len(notes) == 1 and "pip install onnx onnxconverter-common" in notes[0]


def test_cuda_provider_that_fails_to_load_is_cpu(ort, small_onnx):
    """ORT falls back to CPU when the CUDA EP cannot load: said once, and run with the CPU settings (threads)."""
    ort.config["cuda_loads"] = False
    said: list[str] = []
    st = _open(small_onnx, said)
    assert not st.cuda and st.binding is None and st.threads >= 1 and st.backend.startswith("onnxruntime CPU")
    assert sum("CUDA provider did not load" in m for m in said) == 1
    assert st(_frame()).shape == (72, 96, 3)


def test_shipped_fp16_weights_models_convert(tmp_path):
    """The built-ins are fp16-weights files: widened to float32, then converted (once, in runtime.fp16)."""
    import onnxruntime

    from runtime.engines import OrtStylizer
    from runtime.fp16 import fp16_graph_bytes, worst_psnr

    src = ROOT / "runtime" / "styles" / "mosaic-lite.onnx"
    half = tmp_path / "mosaic-lite.fp16.onnx"
    half.write_bytes(fp16_graph_bytes(src))
    session = onnxruntime.InferenceSession(str(half), providers=["CPUExecutionProvider"])
    assert session.get_modelmeta().custom_metadata_map["stylecast.precision"] == "fp16"
    assert [i.type for i in session.get_inputs()] == ["tensor(float)"]  # float32 I/O kept
    assert worst_psnr(OrtStylizer(half, use_cuda=False).run_nchw, OrtStylizer(src, use_cuda=False).run_nchw) >= 40


def test_one_fp16_conversion():
    """export --fp16, TensorRT 11 and ONNX Runtime CUDA share runtime.fp16's conversion."""
    for rel in ("export/onnx.py", "runtime/trt_build.py", "runtime/engines.py"):
        assert "convert_float_to_float16" not in (ROOT / rel).read_text(), rel
    from export import onnx as exporter
    from runtime import trt_build

    assert "runtime.fp16" in Path(exporter.__file__).read_text() and "runtime.fp16" in Path(trt_build.__file__).read_text()
