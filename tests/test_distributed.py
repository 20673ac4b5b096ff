"""`torchrun --nproc_per_node 2 -m train.fast`: two gloo processes train one net; weights identical on every rank."""
from __future__ import annotations

import os
import subprocess
import sys

import torch

from tests.conftest import ROOT
from tests.test_fast import _argv, vgg_file  # noqa: F401  (the fixture is used by name)
from train.distributed import Ranks
from train.model_io import load_style_model


def test_ranks_draw_disjoint_photos_and_resume_where_they_stopped():
    a, b = Ranks(0, 2), Ranks(1, 2)
    full_a, full_b = a.sample_indices(0, 5, 3), b.sample_indices(0, 5, 3)
    assert len(full_a) == len(full_b) == 15 and not set(full_a) & set(full_b)
    assert sorted(full_a + full_b) == list(range(30))  # together: exactly the samples of 5 steps x 2 ranks x 3 photos
    assert a.sample_indices(2, 5, 3) == full_a[6:]  # a resumed run continues the same sequence
    assert Ranks().sample_indices(0, 2, 2) == [0, 1, 2, 3]  # one process: the single-process order


def test_two_gloo_ranks_keep_identical_weights(photo_dir, style_png, vgg_file, tmp_path):  # noqa: F811
    out = tmp_path / "ddp.safetensors"
    argv = _argv(photo_dir, style_png, out, vgg_file)
    argv[argv.index("--threads") + 1] = "1"  # two processes on two cores
    argv[argv.index("--steps") + 1] = "6"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "train.fast", *argv], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "weights identical on all 2 ranks" in proc.stdout
    net, card = load_style_model(out)
    assert card["ranks"] == 2 and card["steps"] == 6
    final = torch.load(out.with_name(out.name + ".run") / "checkpoint.pt", weights_only=False)["model"]
    # one writer: the output is the checkpoint's weights (stored as float16)
    assert all(torch.equal(final[k].half(), v.half()) for k, v in net.state_dict().items())
