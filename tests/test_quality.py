"""The quality metric (train.quality), its gate, the truncated-VGG loader and the GPU benchmark's no-GPU path."""
import subprocess
import sys

import numpy as np
import pytest

from runtime.errors import InputError
from train import quality
from train.vgg import build_vgg
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def meter(random_vgg16):
    return quality.QualityMeter(str(random_vgg16))


def _photo(seed: int = 0, h: int = 64, w: int = 80) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 3, y * 4, (x + y) * 2], -1) % 256
    return (base + rng.integers(0, 30, (h, w, 3))).clip(0, 255).astype(np.uint8)


def test_distances_are_zero_for_the_image_itself_and_positive_for_a_shuffled_copy(meter):
    photo, style = _photo(0), _photo(1)
    grams = meter.style_grams(style)
    s_self, c_self = meter.distances(photo, photo, meter.style_grams(photo))
    assert s_self == pytest.approx(0.0, abs=1e-6) and c_self == pytest.approx(0.0, abs=1e-6)
    shuffled = photo.reshape(-1, 3)[np.random.default_rng(2).permutation(photo.shape[0] * photo.shape[1])].reshape(photo.shape)
    s_shuf, c_shuf = meter.distances(photo, shuffled, grams)
    assert s_shuf > 0.05 and c_shuf > 0.05
    # the style image itself is closer to its own style than a shuffled photo is
    assert meter.distances(photo, style, grams)[0] < s_shuf


def test_gradient_descent_on_feature_distances_lowers_the_distances_the_gate_reads(meter):
    """benchmarks/gate_frontier.py optimizes pixels on feature_distances; distances (what the gate reads) is the
    same function, so a few descent steps on the one must lower the other."""
    import torch

    photo = _photo(0)
    checks = (np.indices((64, 80)).sum(0) // 4 % 2).astype(np.uint8)
    grams = meter.style_grams(np.stack([checks * 255, checks * 40, 255 - checks * 200], -1))
    target = meter.features(photo)
    x = torch.from_numpy(photo).permute(2, 0, 1)[None].float().requires_grad_(True)
    s0, c0 = meter.feature_distances(meter.vgg(x), target, grams)
    assert (float(s0), float(c0)) == pytest.approx(meter.distances(photo, photo, grams), abs=1e-4)
    opt = torch.optim.Adam([x], lr=4.0)
    for _ in range(15):
        opt.zero_grad()
        meter.feature_distances(meter.vgg(x), target, grams)[0].backward()
        opt.step()
    out = x.detach()[0].permute(1, 2, 0).round().clamp(0, 255).byte().numpy()
    assert float(s0) > 0.1 and meter.distances(photo, out, grams)[0] < 0.8 * float(s0)


def test_photo_scores_take_the_median_over_photos(meter):
    photos = [_photo(i) for i in range(3)]
    scores = meter.photo_scores(lambda p: p, photos, _photo(9))
    assert scores["content"] == pytest.approx(0.0, abs=1e-6)
    assert len(scores["per_photo"]) == 3 and scores["style"] == pytest.approx(np.median([r["style"] for r in scores["per_photo"]]), abs=1e-3)


def test_warping_error_ratio_separates_a_stable_from_a_flickering_output():
    rng = np.random.default_rng(0)
    base = _photo(3, 96, 128)
    frames = [np.roll(base, t, axis=1) for t in range(6)]  # a slow pan
    meter = quality.WarpingError(frames)
    stable = quality.flicker(lambda f: 255 - f, frames, meter)  # a per-pixel function: moves with the scene
    noisy = quality.flicker(lambda f: rng.integers(0, 256, f.shape, dtype=np.uint8), frames, meter)
    assert stable["flicker"] < 3.0
    assert noisy["flicker"] > 10 * stable["flicker"]
    assert noisy["flicker_smoothed"] < noisy["flicker"]


def test_gate_lists_each_failing_figure():
    good = {"style": 0.2, "content": 1.0, "flicker": 5.0, "flicker_smoothed": 1.0}
    assert quality.gate_failures(good, "johnson") == []
    bad = {**good, "content": 3.0, "flicker": float("nan")}
    fails = quality.gate_failures(bad, "johnson")
    assert len(fails) == 2 and fails[0].startswith("content 3.000 > 2.49") and fails[1].startswith("flicker")
    assert quality.gate_failures({"style": 0.5, "content": 1.5}, "lite") == []
    assert quality.gate_failures({"style": 0.3}, "lite") == ["content not measured"]


def test_flicker_is_measured_for_every_net_and_limited_for_full_nets_only(meter):
    """A lite net's flicker is reported (users watch lite nets on webcams) but, as issue 11's gate says, not limited."""
    rng = np.random.default_rng(0)
    frames = [np.roll(_photo(3, 64, 80), t, axis=1) for t in range(4)]
    noisy = lambda f: rng.integers(0, 256, f.shape, dtype=np.uint8)  # noqa: E731 - flickers far beyond 8x
    lite = quality.evaluate(noisy, "lite", meter, [_photo(0)], _photo(1), frames, quality.WarpingError(frames))
    assert lite["flicker"] > 8 and not any(f.startswith("flicker") for f in lite["gate_failures"])
    full = quality.evaluate(noisy, "johnson", meter, [_photo(0)], _photo(1), frames, quality.WarpingError(frames))
    assert any(f.startswith("flicker ") for f in full["gate_failures"])


def test_gate_is_the_issues_carried_over_by_the_anchor_nets():
    """The distance limits are the issue's times the stricter anchor ratio; the old built-ins stay refused."""
    from runtime import gate

    for variant, limits in gate.ISSUE_GATE.items():
        for key, value in limits.items():
            assert quality.GATE[variant][key] == pytest.approx(value * gate.ANCHOR_RATIO.get(key, 1.0), abs=0.005)
    assert gate.ANCHOR_RATIO["style"] > 1 and gate.ANCHOR_RATIO["content"] > 1
    assert quality.gate_failures({"style": 0.407, "content": 4.376, "flicker": 15.2, "flicker_smoothed": 1.96}, "johnson")
    assert quality.gate_failures({"style": 0.416, "content": 3.336, "flicker": 10.3, "flicker_smoothed": 1.41}, "johnson")


def test_truncated_vgg_loads_its_layers_and_refuses_deeper_ones(random_vgg16):
    vgg = build_vgg(["relu4_3"], "vgg16", random_vgg16)
    assert vgg.min_size() == 8
    with pytest.raises(InputError, match="ends before conv5_1"):
        build_vgg(["relu5_1"], "vgg16", random_vgg16)


def test_gpu_benchmark_says_no_gpu_in_one_line_and_exits_0():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the benchmark would run for real")
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1 and "no GPU" in lines[0]


def test_the_gate_measures_a_lite_net_as_the_runtime_runs_it():
    from runtime.stylizer import LITE_BORDER_MARGIN, border_margin
    from train.transformer_net import LiteTransformerNet, TransformerNet

    assert border_margin(quality.NetStylizer(LiteTransformerNet()).card) == LITE_BORDER_MARGIN
    assert border_margin(quality.NetStylizer(TransformerNet()).card) == 0
    shapes = []
    net = quality.NetStylizer(LiteTransformerNet())
    net.run_nchw = lambda x: shapes.append(x.shape) or x  # the identity, recording what the net was given
    photo = np.zeros((64, 80, 3), np.uint8)
    assert net(photo).shape == photo.shape and shapes[0][2:] == (88, 104)
