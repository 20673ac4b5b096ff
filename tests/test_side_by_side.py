"""train/side_by_side.sh: several runs from their own inits, one deadline, weights tarred by variant."""
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from train import multistyle

SCRIPT = Path(__file__).resolve().parents[1] / "train" / "side_by_side.sh"
pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _plan(path: Path, style_png: Path, variant: str, arch: dict) -> Path:
    plan = {"slots": [{"name": "s0", "style": str(style_png), "style_weight": 1e9, "style_size": 64}],
            "variant": variant, "arch": arch, "image_size": 32, "batch_per_slot": 1, "max_shift": 2,
            "content_layers": ["relu2_2"], "style_layers": ["relu1_2", "relu2_2"]}
    path.write_text(json.dumps(plan))
    return path


def _init(plan: Path, workdir: Path, photo_dir: Path, vgg: Path) -> Path:
    multistyle.train(multistyle.parse_args(["train", "--plan", str(plan), "--workdir", str(workdir), "--data", str(photo_dir),
                                            "--steps", "1", "--vgg", str(vgg), "--device", "cpu", "--precision", "fp32"]))
    return workdir


def _run(tmp_path: Path, photo_dir: Path, vgg: Path, specs: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PY": sys.executable, "DEVICE": "cpu", "THREADS": "1", "WORK": str(tmp_path / "work"),
           "STYLECAST_VGG": str(vgg), "PYTHONPATH": str(SCRIPT.parents[1])}
    return subprocess.run(["bash", str(SCRIPT), "6", str(photo_dir), str(tmp_path / "out"), *specs],
                          cwd=SCRIPT.parents[1], env=env, capture_output=True, text=True, timeout=300)


def test_runs_train_from_their_inits_and_land_in_the_tar_of_their_variant(tmp_path, photo_dir, style_png, random_vgg16):
    full = _plan(tmp_path / "full.json", style_png, "johnson", {"channels": [8, 16, 32], "residual_blocks": 1})
    lite = _plan(tmp_path / "lite.json", style_png, "lite", {"channels": [8, 8, 16], "residual_blocks": 1})
    full_init = _init(full, tmp_path / "init_full", photo_dir, random_vgg16)
    lite_init = _init(lite, tmp_path / "init_lite", photo_dir, random_vgg16)
    done = _run(tmp_path, photo_dir, random_vgg16, [f"{full}={full_init}", f"{lite}={lite_init}", f"{lite}={tmp_path / 'missing'}"])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "style model not found" in done.stdout  # the run with a missing init says why, the others go on
    with tarfile.open(tmp_path / "out" / "full.tar") as t:
        assert t.getnames() == ["1_full/weights.pt"]
        (tmp_path / "full_back" / "1_full").mkdir(parents=True)
        (tmp_path / "full_back" / "1_full" / "weights.pt").write_bytes(t.extractfile("1_full/weights.pt").read())
    with tarfile.open(tmp_path / "out" / "lite.tar") as t:
        assert t.getnames() == ["2_lite/weights.pt"]
    with tarfile.open(tmp_path / "out" / "logs.tar") as t:
        assert sorted(Path(n).name for n in t.getnames()) == ["1_full.log", "2_lite.log", "3_lite.log"]
    ckpt = multistyle.load_checkpoint(tmp_path / "full_back" / "1_full")
    assert ckpt["step"] >= 1 and ckpt["history"]  # it trained, and knows it started from the init's phase


def test_no_run_leaving_weights_is_a_failure(tmp_path, photo_dir, style_png, random_vgg16):
    lite = _plan(tmp_path / "lite.json", style_png, "lite", {"channels": [8, 8, 16], "residual_blocks": 1})
    done = _run(tmp_path, photo_dir, random_vgg16, [f"{lite}={tmp_path / 'missing'}"])
    assert done.returncode != 0
    assert not (tmp_path / "out" / "lite.tar").exists()
