"""Shared fixtures: paths to ../shared (skip cleanly without it), tiny models and photo folders."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("STYLECAST_SHARED", ROOT.parent / "shared" / "data"))
VGG16 = SHARED / "vgg" / "vgg16_features_imagenet_fp16.safetensors"
VGG19_CAFFE = SHARED / "vgg" / "vgg19_caffe_features_q8_fp16.safetensors"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Compiled models and precision decisions go to a temporary cache, never the user's ~/.cache."""
    old = os.environ.get("STYLECAST_CACHE")
    os.environ["STYLECAST_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if old is None:
        os.environ.pop("STYLECAST_CACHE", None)
    else:
        os.environ["STYLECAST_CACHE"] = old


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} absent (../shared/data is only on developer machines and CI)")
    return path


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run `python -m ...` as a user would; returns the completed process (text output)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", *args], cwd=cwd or ROOT, env=full_env, capture_output=True, text=True, timeout=timeout)


def assert_user_error(proc: subprocess.CompletedProcess, *fragments: str) -> None:
    """Exit 2, exactly one line on stderr, no traceback, mentioning each fragment."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    lines = [l for l in proc.stderr.strip().splitlines() if l.strip()]
    assert "Traceback" not in proc.stderr
    assert "error:" in lines[-1]
    for f in fragments:
        assert f in lines[-1], (f, lines[-1])


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory) -> Path:
    """8 small, structured (not noise) RGB photos."""
    import cv2

    d = tmp_path_factory.mktemp("photos")
    rng = np.random.default_rng(0)
    for i in range(8):
        img = np.zeros((72, 96, 3), np.uint8)
        img[:] = rng.integers(40, 200, 3)
        for _ in range(6):
            c = tuple(int(v) for v in rng.integers(0, 255, 3))
            p1 = tuple(int(v) for v in rng.integers(0, 90, 2))
            cv2.rectangle(img, p1, (p1[0] + 30, p1[1] + 20), c, -1)
            cv2.circle(img, tuple(int(v) for v in rng.integers(0, 90, 2)), 12, c[::-1], -1)
        cv2.imwrite(str(d / f"photo_{i}.jpg"), img)
    return d


@pytest.fixture(scope="session")
def style_png(tmp_path_factory) -> Path:
    import cv2

    d = tmp_path_factory.mktemp("style")
    y, x = np.mgrid[0:96, 0:96]
    img = np.stack([(np.sin(x / 3.0) * 127 + 128), (np.cos(y / 5.0) * 127 + 128), ((x + y) % 32) * 8], -1).astype(np.uint8)
    path = d / "stripes.png"
    cv2.imwrite(str(path), img)
    return path


@pytest.fixture(scope="session")
def small_model(tmp_path_factory) -> Path:
    """A narrow random-weight transform net saved as our safetensors + card (fast on CPU)."""
    import torch

    from train.model_io import save_style_model
    from train.transformer_net import TransformerNet

    torch.manual_seed(0)
    net = TransformerNet((8, 16, 32), residual_blocks=2)
    with torch.no_grad():  # non-trivial affine params so the output depends on the input in detail
        for m in net.modules():
            if isinstance(m, torch.nn.InstanceNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        net.deconv3.conv2d.bias.fill_(128.0)
        net.deconv3.conv2d.weight.mul_(40.0)  # outputs spanning most of 0-255, like a trained net
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_style_model(path, net, {"name": "tiny", "style_image": "none"})
    return path


@pytest.fixture(scope="session")
def small_onnx(small_model: Path) -> Path:
    from export.onnx import export

    dst = small_model.with_suffix(".onnx")
    export(small_model, dst, check=False, verbose=False)
    return dst


@pytest.fixture(scope="session")
def random_vgg16(tmp_path_factory) -> Path:
    """VGG16 conv1_1..conv4_3 with random weights, truncated after relu4_3 (no download, no ../shared)."""
    import torch
    from safetensors.torch import save_file

    from train.vgg import layer_table

    torch.manual_seed(0)
    state, in_ch = {}, 3
    for i, (name, kind) in enumerate(layer_table("vgg16")):
        if name == "pool4":
            break
        if kind == "conv":
            out_ch = 64 * 2 ** (int(name[4]) - 1)
            state[f"features.{i}.weight"] = (torch.randn(out_ch, in_ch, 3, 3) * (2.0 / (9 * in_ch)) ** 0.5).half()
            state[f"features.{i}.bias"] = torch.zeros(out_ch).half()
            in_ch = out_ch
    path = tmp_path_factory.mktemp("vgg") / "vgg16_random_to_relu4_3.safetensors"
    save_file(state, str(path), metadata={"stylecast.net": "vgg16", "input": "RGB in [0,1], torchvision mean/std"})
    return path
