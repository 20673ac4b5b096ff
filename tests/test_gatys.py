import cv2
import numpy as np
import pytest

from runtime.frames import read_image, resize_long_side
from train import gatys
from tests.conftest import SHARED, VGG16, assert_user_error, need, run_cli


def _args(content, style, out, *extra):
    return gatys.parse_args([str(content), str(style), "-o", str(out), "--net", "vgg16", "--vgg", str(need(VGG16)),
                             "--size", "128", "--iters", "20", "--quiet", *extra])


def test_twenty_iterations_halve_the_loss_and_move_away_from_content(tmp_path):
    content = need(SHARED / "content" / "golden_gate.jpg")
    out = tmp_path / "out.png"
    result = gatys.run(_args(content, SHARED / "styles" / "starry.jpg", out))
    assert result["final"]["total"] <= 0.5 * result["initial"]["total"]
    produced = read_image(out).astype(np.float32)
    original = resize_long_side(read_image(content), 128).astype(np.float32)
    assert produced.shape == original.shape
    assert np.abs(produced - original).mean() > 5.0  # the pixels moved away from the content image


def test_adam_and_blend_and_scales(tmp_path):
    content = need(SHARED / "content" / "stata.jpg")
    out = tmp_path / "blend.jpg"
    args = gatys.parse_args([str(content), "-o", str(out), "--style", f"{SHARED / 'styles' / 'mosaic.jpg'}:0.7",
                             "--style", f"{SHARED / 'styles' / 'wave.jpg'}:0.3", "--net", "vgg16", "--vgg", str(need(VGG16)),
                             "--optimizer", "adam", "--scales", "64", "96", "--iters", "15", "--quiet"])
    result = gatys.run(args)
    assert read_image(out).shape[:2] == resize_long_side(read_image(content), 96).shape[:2]
    first_scale = [h["total"] for h in result["history"] if h["scale"] == 64]
    assert first_scale[-1] < first_scale[0]


def test_preserve_color_keeps_content_chroma(tmp_path):
    content = need(SHARED / "content" / "golden_gate.jpg")
    plain, kept = tmp_path / "plain.png", tmp_path / "kept.png"
    gatys.run(_args(content, SHARED / "styles" / "starry.jpg", plain))
    gatys.run(_args(content, SHARED / "styles" / "starry.jpg", kept, "--preserve-color"))
    ref = cv2.cvtColor(resize_long_side(read_image(content), 128), cv2.COLOR_RGB2YCrCb).astype(np.float32)

    def chroma_err(path):
        ycc = cv2.cvtColor(read_image(path), cv2.COLOR_RGB2YCrCb).astype(np.float32)
        return np.abs(ycc[..., 1:] - ref[..., 1:]).mean(), np.abs(ycc[..., 0] - ref[..., 0]).mean()

    kept_c, kept_y = chroma_err(kept)
    plain_c, _ = chroma_err(plain)
    assert kept_c < 1.5 and kept_c < plain_c / 3  # chroma is the content's
    assert kept_y > 3.0  # while luminance was stylized


def test_save_every_writes_intermediates(tmp_path):
    content = need(SHARED / "content" / "stata.jpg")
    gatys.run(_args(content, SHARED / "styles" / "mosaic.jpg", tmp_path / "o.png", "--iters", "4", "--save-every", "2"))
    assert sorted(p.name for p in tmp_path.glob("o_*")) == ["o_128px_iter00002.png", "o_128px_iter00004.png"]


@pytest.mark.parametrize("case", ["missing", "corrupt", "layer", "small", "cuda"])
def test_bad_input_one_line_exit_2_no_output(tmp_path, case):
    content = need(SHARED / "content" / "stata.jpg")
    style = SHARED / "styles" / "mosaic.jpg"
    out = tmp_path / "out.png"
    extra: list[str] = []
    expect = ""
    if case == "missing":
        content, expect = tmp_path / "nope.jpg", "file not found"
    elif case == "corrupt":
        bad = tmp_path / "bad.jpg"
        bad.write_bytes(b"\xff\xd8garbage")
        content, expect = bad, "not a readable image"
    elif case == "layer":
        extra, expect = ["--style-layers", "relu1_2", "relu7_1"], "relu7_1"
    elif case == "small":
        extra, expect = ["--size", "8"], "deepest layer"
    else:
        import torch

        if torch.cuda.is_available():
            pytest.skip("a GPU is present")
        extra, expect = ["--device", "cuda"], "no CUDA GPU"
    proc = run_cli("train.gatys", str(content), str(style), "-o", str(out), "--net", "vgg16", "--vgg", str(need(VGG16)),
                   "--size", "64", "--iters", "2", "--quiet", *extra)
    assert_user_error(proc, expect)
    assert not out.exists() and not list(tmp_path.glob(".out*"))
