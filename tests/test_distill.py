import numpy as np
import pytest
import torch

from export.onnx import export
from runtime.engines import OrtStylizer
from train import distill
from train.model_io import load_style_model
from train.transformer_net import LiteTransformerNet, TransformerNet, net_from_state_dict
from tests.conftest import assert_user_error, run_cli


def test_lite_net_shapes_keys_and_size():
    net = LiteTransformerNet().eval()
    y = net(torch.rand(2, 3, 64, 96) * 255)
    assert y.shape == (2, 3, 64, 96)
    params = sum(p.numel() for p in net.parameters())
    assert params < 0.3 * sum(p.numel() for p in TransformerNet().parameters())  # Johnson: 1.68 M
    loaded = net_from_state_dict(net.state_dict())
    assert isinstance(loaded, LiteTransformerNet) and loaded.arch() == net.arch()
    x = torch.rand(1, 3, 40, 48) * 255
    torch.testing.assert_close(loaded(x), net(x))


def _refined_lite_net() -> LiteTransformerNet:
    """A lite net with the full-resolution refinement stage, its last conv moved off zero so the stage counts."""
    net = LiteTransformerNet(refine=(4, 8)).eval()
    with torch.no_grad():
        net.refine2.conv2d.weight.normal_(0, 0.05)
    return net


def test_refined_lite_net_loads_back_as_itself_and_its_stage_changes_the_output():
    torch.manual_seed(0)
    net = _refined_lite_net()
    assert net.arch() == {"variant": "lite", "channels": [16, 32, 64], "residual_blocks": 5, "refine": [4, 8]}
    loaded = net_from_state_dict(net.state_dict())
    assert loaded.arch() == net.arch()
    x = torch.rand(1, 3, 40, 48) * 255
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net(x))
        net.refine2.conv2d.weight.zero_()  # a zero last conv: the plain lite net's output, its first 12 head channels
        plain = LiteTransformerNet().eval()
        plain.load_state_dict({k: v[:12] if k.startswith("deconv3.") else v for k, v in net.state_dict().items()
                               if not k.startswith(("refine", "in6."))})
        torch.testing.assert_close(net(x), plain(x))
        assert (loaded(x) - net(x)).abs().max() > 0.1


@pytest.mark.parametrize("refine", [False, True])
def test_lite_net_exports_with_dynamic_shapes(tmp_path, refine):
    from train.model_io import save_style_model

    torch.manual_seed(0)
    src = save_style_model(tmp_path / "l.safetensors", _refined_lite_net() if refine else LiteTransformerNet(), {"name": "l"})
    report = export(src, tmp_path / "l.onnx", fp16_weights=True, verbose=False)  # parity-checked inside
    assert max(r["max_abs_err"] for r in report["parity"]) < 1e-2
    net = OrtStylizer(tmp_path / "l.onnx", use_cuda=False)
    for h, w in ((37, 53), (64, 64), (90, 161)):  # odd sizes: the runtime pads to a multiple of 8
        assert net(np.zeros((h, w, 3), np.uint8)).shape == (h, w, 3)


def _distill(teacher, photo_dir, out, *extra):
    distill.main(["--teacher", str(teacher), "--data", str(photo_dir), "--out", str(out), "--crops", "24", "--image-size", "32",
                  "--batch-size", "4", "--steps", "60", "--lr", "5e-3", "--threads", "2", "--quiet", *extra])
    return out


@pytest.fixture(scope="module")
def tiny_lite(small_model, photo_dir, tmp_path_factory):
    return _distill(small_model, photo_dir, tmp_path_factory.mktemp("lite") / "tiny-lite.safetensors")


def test_distillation_copies_the_teacher(small_model, tiny_lite):
    student, card = load_style_model(tiny_lite)
    teacher, _ = load_style_model(small_model)
    assert isinstance(student, LiteTransformerNet) and card["distilled_from"]["name"] == "tiny"
    x = torch.rand(2, 3, 32, 32) * 255
    with torch.no_grad():
        fresh = distill.psnr(LiteTransformerNet().eval()(x), teacher(x))
        learned = distill.psnr(student(x), teacher(x))
    assert learned > fresh + 3, (fresh, learned)
    assert card["val_psnr_vs_teacher_db"] > fresh


def test_stability_fine_tune_makes_the_student_less_noise_sensitive(small_model, photo_dir, tiny_lite, tmp_path):
    common = ["--init", str(tiny_lite), "--noise", "8", "--lr", "2e-3"]
    control = _distill(small_model, photo_dir, tmp_path / "control.safetensors", *common, "--stability-weight", "0")
    stable = _distill(small_model, photo_dir, tmp_path / "stable.safetensors", *common, "--stability-weight", "20")
    from train.data import PhotoCrops

    x = torch.stack([PhotoCrops(photo_dir, 32, seed=99)[k] for k in range(8)])  # photos, not noise images
    noise = 8 * torch.randn(x.shape, generator=torch.Generator().manual_seed(1))

    def sensitivity(path):
        net, _ = load_style_model(path)
        with torch.no_grad():
            return (net(x + noise) - net(x)).abs().mean().item()

    print(sensitivity(tiny_lite), sensitivity(control), sensitivity(stable))
    assert sensitivity(stable) < 0.7 * sensitivity(control)  # the same fine-tune without the term
    assert load_style_model(stable)[1]["init"] == tiny_lite.name


def test_distill_bad_inputs_exit_2(small_model, photo_dir, tmp_path):
    proc = run_cli("train.distill", "--teacher", str(tmp_path / "nope.safetensors"), "--data", str(photo_dir), "--out", str(tmp_path / "o.safetensors"))
    assert_user_error(proc, "not found")
    proc = run_cli("train.distill", "--teacher", str(small_model), "--data", str(photo_dir), "--out", str(tmp_path / "o.pth"))
    assert_user_error(proc, ".safetensors")


def test_texture_loss_is_zero_on_itself_and_grows_with_blur(random_vgg16):
    from train.vgg import build_vgg

    vgg = build_vgg(list(distill.TEXTURE_LAYERS), "vgg16", str(random_vgg16)).eval()
    torch.manual_seed(0)
    target = torch.rand(2, 3, 48, 48) * 255
    blurred = torch.nn.functional.avg_pool2d(target, 3, 1, 1)
    assert distill.texture_loss(vgg, target, target).item() == pytest.approx(0.0, abs=1e-6)
    mild = distill.texture_loss(vgg, 0.5 * (target + blurred), target).item()
    assert 0 < mild < distill.texture_loss(vgg, blurred, target).item()


def test_texture_term_runs_and_is_recorded(small_model, photo_dir, random_vgg16, tmp_path):
    out = _distill(small_model, photo_dir, tmp_path / "t-lite.safetensors", "--texture-weight", "5",
                   "--vgg", str(random_vgg16), "--precision", "fp32", "--steps", "4")
    _, card = load_style_model(out)
    assert card["hyperparameters"]["texture_weight"] == 5 and card["precision"] == "fp32"
