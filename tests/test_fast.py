import csv
import json
import shutil

import pytest
import torch

from train import fast
from train.model_io import load_style_model
from tests.conftest import VGG16, assert_user_error, run_cli


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    """The real VGG16 where ../shared exists; otherwise random weights (the loss still has to go down)."""
    if VGG16.exists():
        return VGG16
    from safetensors.torch import save_file

    from train import vgg

    torch.manual_seed(0)
    state, cin = {}, 3
    chans = iter([64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512])
    for i, (_, kind) in enumerate(vgg.layer_table("vgg16")):
        if kind == "conv":
            cout = next(chans)
            state[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3) * (2 / (9 * cin)) ** 0.5
            state[f"features.{i}.bias"] = torch.zeros(cout)
            cin = cout
    path = tmp_path_factory.mktemp("vgg") / "random_vgg16.safetensors"
    save_file(state, str(path))
    return path


def _argv(photo_dir, style_png, out, vgg_file, *extra):
    return ["--style", str(style_png), "--data", str(photo_dir), "--out", str(out), "--vgg", str(vgg_file),
            "--image-size", "32", "--style-size", "64", "--batch-size", "2", "--steps", "20", "--lr", "3e-3",
            "--checkpoint-every", "5", "--sample-every", "0", "--threads", "2", "--quiet", "--width", "0.5", *extra]


def _log(out):
    with open(f"{out}.run/log.csv") as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def test_twenty_steps_lower_the_loss_and_write_a_card(photo_dir, style_png, vgg_file, tmp_path):
    out = tmp_path / "s.safetensors"
    fast.train(fast.parse_args(_argv(photo_dir, style_png, out, vgg_file)))
    rows = _log(out)
    assert [int(r["step"]) for r in rows] == list(range(1, 21))
    first, last = sum(r["total"] for r in rows[:3]) / 3, sum(r["total"] for r in rows[-3:]) / 3
    assert last < 0.8 * first
    net, card = load_style_model(out)
    assert card["steps"] == 20 and card["style_image"] == style_png.name and len(card["style_sha256"]) == 64
    assert card["hyperparameters"]["image_size"] == 32 and set(card["final_losses_mean_last_50"]) >= {"style", "content"}
    assert json.loads(out.with_suffix(".json").read_text())["name"] == "s"


def test_resume_after_kill_continues_the_same_run(photo_dir, style_png, vgg_file, tmp_path):
    a = tmp_path / "a.safetensors"
    fast.train(fast.parse_args(_argv(photo_dir, style_png, a, vgg_file)))
    b = tmp_path / "b.safetensors"
    assert fast.train(fast.parse_args(_argv(photo_dir, style_png, b, vgg_file, "--stop-after", "12"))) is None
    assert not b.exists()
    ckpt = torch.load(f"{b}.run/checkpoint.pt", weights_only=False)
    assert ckpt["step"] == 10  # the killed process lost at most one checkpoint interval
    fast.train(fast.parse_args(_argv(photo_dir, style_png, b, vgg_file, "--resume")))
    rows_a, rows_b = _log(a), _log(b)
    assert [int(r["step"]) for r in rows_b] == list(range(1, 21))  # no duplicated steps 11-12
    for ra, rb in zip(rows_a, rows_b):
        assert rb["total"] == pytest.approx(ra["total"], rel=1e-3)
    _, card = load_style_model(b)
    assert card["steps"] == 20


def test_corrupt_image_is_skipped_with_a_warning(photo_dir, style_png, vgg_file, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(photo_dir, data)
    (data / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    out = tmp_path / "c.safetensors"
    with pytest.warns(UserWarning, match="broken.jpg"):
        fast.train(fast.parse_args(_argv(data, style_png, out, vgg_file, "--steps", "8")))
    assert out.is_file()


def test_bad_inputs_exit_2(photo_dir, style_png, vgg_file, tmp_path):
    proc = run_cli("train.fast", *_argv(tmp_path / "empty_missing", style_png, tmp_path / "x.safetensors", vgg_file))
    assert_user_error(proc, "photo folder not found")
    proc = run_cli("train.fast", *_argv(photo_dir, tmp_path / "nostyle.jpg", tmp_path / "x.safetensors", vgg_file))
    assert_user_error(proc, "file not found")
