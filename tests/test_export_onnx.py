import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from export import onnx as exporter
from runtime.errors import StylecastError
from runtime.onnx_meta import CARD_KEY, PRECISION_KEY, card_from_session
from train.model_io import load_style_model
from tests.conftest import assert_user_error, run_cli


def _session(path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_export_parity_batch_and_dynamic_shapes(small_model, tmp_path):
    dst = tmp_path / "m.onnx"
    report = exporter.export(small_model, dst, verbose=False)
    assert max(r["max_abs_err"] for r in report["parity"]) <= exporter.PARITY_TOLERANCE
    net, _ = load_style_model(small_model)
    sess = _session(dst)
    n, c, h, w = sess.get_inputs()[0].shape
    assert c == 3 and all(isinstance(d, str) for d in (n, h, w))  # N, H, W symbolic
    rng = np.random.default_rng(1)
    for shape in [(1, 3, 64, 64), (2, 3, 120, 200), (1, 3, 36, 52)]:  # one file, three sizes, batch 2
        x = rng.uniform(0, 255, shape).astype(np.float32)
        got = sess.run(["output"], {"input": x})[0]
        with torch.no_grad():
            ref = net(torch.from_numpy(x)).numpy()
        assert got.shape == shape
        assert np.abs(got - ref).max() <= 1e-2


def test_metadata_round_trip(small_model, tmp_path):
    dst = tmp_path / "m.onnx"
    exporter.export(small_model, dst, check=False, verbose=False)
    card = card_from_session(_session(dst))
    assert card["name"] == "tiny" and card["arch"]["channels"] == [8, 16, 32]
    model = onnx.load(str(dst))
    props = {p.key: p.value for p in model.metadata_props}
    assert props[PRECISION_KEY] == "fp32" and json.loads(props[CARD_KEY])["style_image"] == "none"


@pytest.mark.parametrize("flag", ["fp16_weights", "fp16"])
def test_fp16_variants_are_smaller_and_pass_psnr(small_model, tmp_path, flag):
    fp32, half = tmp_path / "a.onnx", tmp_path / "b.onnx"
    exporter.export(small_model, fp32, check=False, verbose=False)
    report = exporter.export(small_model, half, verbose=False, **{flag: True})
    assert report["psnr_vs_fp32_db"] >= exporter.PSNR_GATE_DB
    assert half.stat().st_size < 0.7 * fp32.stat().st_size  # graph overhead is large in this tiny net; 0.51 on the full one
    assert {p.key: p.value for p in onnx.load(str(half)).metadata_props}[PRECISION_KEY] == flag.replace("_", "-")


def test_psnr_gate_fails_on_a_corrupted_fp16_model(small_model, tmp_path, monkeypatch):
    real = exporter.to_fp16_weights

    def corrupted(model):
        half = real(model)
        for init in half.graph.initializer:
            if init.name.startswith("deconv3.conv2d.weight"):
                arr = onnx.numpy_helper.to_array(init) * -3.0  # a damaged last layer
                init.CopyFrom(onnx.numpy_helper.from_array(arr.astype(np.float16), init.name))
        return half

    monkeypatch.setattr(exporter, "to_fp16_weights", corrupted)
    dst = tmp_path / "bad.onnx"
    with pytest.raises(StylecastError, match="PSNR"):
        exporter.export(small_model, dst, fp16_weights=True, verbose=False)
    assert not dst.exists() and not list(tmp_path.glob(".bad*"))


def test_psnr_helper():
    a = np.zeros((4, 4))
    assert exporter.psnr(a, a) == float("inf")
    assert exporter.psnr(a, a + 255) == pytest.approx(0.0)
    assert exporter.psnr(a, np.full((4, 4), np.nan)) == float("-inf")


def test_cli_errors(tmp_path, small_model):
    assert_user_error(run_cli("export.onnx", str(tmp_path / "none.pth"), str(tmp_path / "x.onnx")), "not found")
    assert_user_error(run_cli("export.onnx", str(small_model), str(tmp_path / "x.bin")), ".onnx")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"junk")
    assert_user_error(run_cli("export.onnx", str(junk), str(tmp_path / "x.onnx")), "cannot read style model")


@pytest.mark.parametrize("flag", [None, "fp16_weights", "fp16"])
def test_exported_onnx_loads_back_as_a_trainable_net(small_model, tmp_path, flag):
    """A shipped style (.onnx) is the start of a fine-tuning run: its initializers are the state dict."""
    dst = tmp_path / "m.onnx"
    exporter.export(small_model, dst, check=False, verbose=False, **({flag: True} if flag else {}))
    net, card = load_style_model(dst)
    assert card["name"] == "tiny" and net.arch()["channels"] == [8, 16, 32]
    x = np.random.default_rng(3).uniform(0, 255, (1, 3, 40, 56)).astype(np.float32)
    got = _session(dst).run(["output"], {"input": x})[0]
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    assert np.abs(got - ref).max() <= (2.0 if flag == "fp16" else 1e-2)  # fp16 graph: activations rounded too


def test_an_onnx_file_that_is_not_a_style_net_is_a_one_line_error(tmp_path):
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(StylecastError, match="not a transform-net"):
        load_style_model(path)
    (tmp_path / "junk.onnx").write_bytes(b"not onnx")
    with pytest.raises(StylecastError, match="cannot read style model"):
        load_style_model(tmp_path / "junk.onnx")
