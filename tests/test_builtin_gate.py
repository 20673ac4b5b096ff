"""export.builtin installs a style only if it passes the quality gate (issue 11): refusal with numbers, nothing written."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import assert_user_error, run_cli

CLIP = Path(__file__).resolve().parents[1] / "runtime" / "samples" / "clip.mp4"


def test_a_net_below_the_gate_is_refused_with_its_numbers(small_model, style_png, photo_dir, random_vgg16):
    styles = Path(__file__).resolve().parents[1] / "runtime" / "styles"
    before = {p.name: p.stat().st_mtime_ns for p in styles.iterdir() if not p.name.startswith(".")}
    proc = run_cli("export.builtin", str(small_model), "--style-image", f"tiny={style_png}", "--photos", str(photo_dir),
                   "--video", str(CLIP), env={"STYLECAST_VGG": str(random_vgg16)})
    assert_user_error(proc, "refused", "tiny: style", "> 0.42")
    assert {p.name: p.stat().st_mtime_ns for p in styles.iterdir() if not p.name.startswith(".")} == before  # nothing installed or rewritten


def test_a_net_that_passes_is_installed_with_its_figures(small_model, style_png, photo_dir, random_vgg16, tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    import export.builtin as builtin
    from train import quality

    monkeypatch.setenv("STYLECAST_VGG", str(random_vgg16))
    monkeypatch.setitem(quality.GATE, "johnson", {k: 1e9 for k in quality.GATE["johnson"]})  # a gate any net passes
    entries = builtin.build([small_model], {"tiny": style_png}, photo_dir, CLIP, styles_dir=tmp_path)
    (entry,) = entries
    assert (tmp_path / "tiny.onnx").is_file() and entry["quality"]["passes"]
    assert {"style", "content", "flicker", "flicker_smoothed"} <= set(entry["quality"])
    saved = json.loads((tmp_path / "styles.json").read_text())["styles"][0]
    assert saved["quality"]["style"] == entry["quality"]["style"] > 0


def test_a_lite_net_is_installed_with_its_flicker_measured_but_not_gated(style_png, photo_dir, random_vgg16, tmp_path, monkeypatch):
    """Users watch lite nets on webcams: their flicker is recorded like a full net's, but issue 11's lite gate has no limit on it."""
    pytest.importorskip("onnx")
    import torch

    import export.builtin as builtin
    from train import quality
    from train.model_io import save_style_model
    from train.transformer_net import LiteTransformerNet

    torch.manual_seed(0)
    weights = save_style_model(tmp_path / "tiny-lite.safetensors", LiteTransformerNet(), {"name": "tiny-lite", "style_image": "none"})
    monkeypatch.setenv("STYLECAST_VGG", str(random_vgg16))
    monkeypatch.setitem(quality.GATE, "lite", {k: 1e9 for k in quality.GATE["lite"]})  # style and content: any net passes
    (tmp_path / "styles").mkdir()
    (entry,) = builtin.build([weights], {"tiny-lite": style_png}, photo_dir, CLIP, styles_dir=tmp_path / "styles")
    q = entry["quality"]
    assert entry["variant"] == "lite" and q["passes"] and q["video"] and q["flicker"] > 0 and q["flicker_smoothed"] > 0
    assert set(quality.GATE["lite"]) == {"style", "content"}  # the patch above lifted no flicker limit: the lite gate has none


def test_remeasure_updates_the_figures_of_installed_styles_all_or_nothing(small_model, style_png, photo_dir, random_vgg16, tmp_path,
                                                                         monkeypatch):
    pytest.importorskip("onnx")
    import export.builtin as builtin
    from runtime.errors import InputError, StylecastError
    from train import quality

    monkeypatch.setenv("STYLECAST_VGG", str(random_vgg16))
    monkeypatch.setitem(quality.GATE, "johnson", {k: 1e9 for k in quality.GATE["johnson"]})
    (installed,) = builtin.build([small_model], {"tiny": style_png}, photo_dir, CLIP, styles_dir=tmp_path)
    catalogue = tmp_path / "styles.json"
    data = json.loads(catalogue.read_text())
    data["styles"][0]["quality"]["style"] = 99.0  # a stale figure
    catalogue.write_text(json.dumps(data))
    (again,) = builtin.remeasure(["tiny"], {"tiny": style_png}, photo_dir, CLIP, styles_dir=tmp_path)
    # the shipped ONNX (float16 weights) on ONNX Runtime reads what the net read in torch, to a rounding
    assert again["quality"]["style"] == pytest.approx(installed["quality"]["style"], rel=0.02)
    assert json.loads(catalogue.read_text())["styles"][0]["quality"]["measured_on"].startswith("the shipped ONNX")
    monkeypatch.setitem(quality.GATE, "johnson", {k: 1e-9 for k in quality.GATE["johnson"]})  # a gate no net passes
    before = catalogue.read_text()
    with pytest.raises(StylecastError, match="refused.*tiny"):
        builtin.remeasure(["tiny"], {"tiny": style_png}, photo_dir, CLIP, styles_dir=tmp_path)
    assert catalogue.read_text() == before
    with pytest.raises(InputError, match="not a built-in style: nope"):
        builtin.remeasure(["nope"], None, photo_dir, CLIP, styles_dir=tmp_path)


def test_a_legacy_style_is_replaced_only_by_a_net_no_worse_on_every_figure(small_model, style_png, photo_dir, random_vgg16,
                                                                          tmp_path, monkeypatch):
    pytest.importorskip("onnx")
    import export.builtin as builtin
    from runtime.errors import StylecastError
    from train import quality

    monkeypatch.setenv("STYLECAST_VGG", str(random_vgg16))
    monkeypatch.setitem(quality.GATE, "johnson", {k: 1e9 for k in quality.GATE["johnson"]})
    measured, real_measure = {}, builtin.measure

    def measure_once(weights, *args):  # the same net reads the same figures: measure it once, judge by today's gate
        scores = dict(measured.setdefault(weights, real_measure(weights, *args)))
        scores["gate_failures"] = quality.gate_failures(scores, scores["variant"])
        return {**scores, "passes": not scores["gate_failures"]}

    monkeypatch.setattr(builtin, "measure", measure_once)
    (installed,) = builtin.build([small_model], {"tiny": style_png}, photo_dir, CLIP, styles_dir=tmp_path)
    figures = {k: installed["quality"][k] for k in ("style", "content", "flicker", "flicker_smoothed")}
    monkeypatch.setitem(quality.GATE, "johnson", {k: 1e-9 for k in quality.GATE["johnson"]})  # now nothing passes
    catalogue = tmp_path / "styles.json"
    stale_int8 = [tmp_path / "tiny.int8.xml", tmp_path / "tiny.int8.bin"]

    def flag_legacy(**recorded: float) -> None:
        data = json.loads(catalogue.read_text())
        data["styles"][0]["quality"].update(recorded, legacy="predates the gate")
        catalogue.write_text(json.dumps(data))

    with pytest.raises(StylecastError, match="tiny: style"):  # not legacy: the gate alone decides, flag or not
        builtin.build([small_model], {"tiny": style_png}, photo_dir, CLIP, styles_dir=tmp_path, replace_legacy=True)
    flag_legacy(**{**figures, "content": figures["content"] * 0.9})  # the legacy net reads better on content
    before = catalogue.read_text()
    with pytest.raises(StylecastError, match=r"worse than the legacy net it would replace: content"):
        builtin.build([small_model], {"tiny": style_png}, photo_dir, CLIP, styles_dir=tmp_path, replace_legacy=True)
    assert catalogue.read_text() == before
    with pytest.raises(StylecastError, match="tiny: style"):  # without the flag a legacy style is not replaced either
        builtin.build([small_model], {"tiny": style_png}, photo_dir, CLIP, styles_dir=tmp_path)
    worse_legacy = {k: v * 1.5 for k, v in figures.items()}
    flag_legacy(**worse_legacy)
    for f in stale_int8:
        f.write_bytes(b"the old net's int8 model")
    (entry,) = builtin.build([small_model], {"tiny": style_png}, photo_dir, CLIP, styles_dir=tmp_path, replace_legacy=True)
    q = entry["quality"]
    assert not q["passes"] and "legacy" in q and q["replaced"] == pytest.approx(worse_legacy)
    assert q["style"] == pytest.approx(figures["style"], rel=1e-3)
    assert not any(f.exists() for f in stale_int8)  # the runtime must not run the replaced net's int8 model
    assert json.loads(catalogue.read_text())["styles"][0]["quality"]["replaced"] == q["replaced"]


def test_replace_legacy_does_not_go_with_remeasure():
    proc = run_cli("export.builtin", "--remeasure", "mosaic", "--replace-legacy")
    assert proc.returncode == 2 and "does not go with --remeasure" in proc.stderr and "Traceback" not in proc.stderr
