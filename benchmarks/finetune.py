"""Does a new style converge faster from an already-trained net than from scratch? (issue 11, item 6)

python benchmarks/finetune.py [--style ../shared/data/styles/frida-kahlo.jpg] [--init starry] [--steps 240]

Trains the same one-slot plan twice with train.multistyle (same seed, data order and schedule): once
initialised from a trained built-in net (exported from train/checkpoints/ten_styles_full.pt), once from
scratch. Reports the loss curves and, at the end, the quality figures of both (train.quality), and how
many steps scratch needs to reach the fine-tuned run's loss. Workdirs are kept, so a rerun with the same
--workdir only re-evaluates.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import ROOT, SHARED, save, table  # noqa: E402

CHECKPOINT = ROOT / "train" / "checkpoints" / "ten_styles_full.pt"


def run(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "train.multistyle", *args], cwd=ROOT, check=True)


def losses(workdir: Path) -> list[dict]:
    import torch

    return torch.load(workdir / "weights.pt", weights_only=False)["log"]


def smoothed_total(log: list[dict], window: int = 3) -> dict[int, float]:
    """Mean total loss over `window` logged points ending at each step (single batches are noisy)."""
    steps = [r["step"] for r in log]
    return {s: sum(r["total"] for r in log[max(0, i - window + 1): i + 1]) / len(log[max(0, i - window + 1): i + 1])
            for i, s in enumerate(steps)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--style", type=Path, default=SHARED / "styles" / "frida-kahlo.jpg", help="a painting none of the built-ins uses")
    p.add_argument("--init", default="starry@1.2e+09", help="slot of ten_styles_full.pt to start from")
    p.add_argument("--steps", type=int, default=240)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--style-weight", type=float, default=5e9)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/stylecast_finetune"))
    a = p.parse_args()
    a.workdir.mkdir(parents=True, exist_ok=True)
    vgg = str(SHARED / "vgg" / "vgg16_features_imagenet_fp16.safetensors")
    plan = {"slots": [{"name": f"{a.style.stem}@{a.style_weight:g}", "style": str(a.style.resolve()), "style_weight": a.style_weight,
                       "content_weight": 1e5, "tv_weight": 0.0, "style_size": 512, "stability_weight": 2000.0}],
            "image_size": a.image_size, "batch_per_slot": 4}
    (a.workdir / "plan.json").write_text(json.dumps(plan))
    source = a.workdir / "source"
    if not (source / "weights.pt").exists():
        source.mkdir(exist_ok=True)
        (source / "weights.pt").symlink_to(CHECKPOINT)
    init_net = a.workdir / "init.safetensors"
    if not init_net.exists():
        run("export", "--workdir", str(source), "--slot", f"init={a.init}", "--out-dir", str(a.workdir))
    runs = {"finetune": ["--init", str(init_net)], "scratch": []}
    results = {}
    for name, extra in runs.items():
        wd = a.workdir / name
        if not (wd / "weights.pt").exists() or losses(wd)[-1]["step"] < a.steps:
            run("train", "--plan", str(a.workdir / "plan.json"), "--data", str(SHARED / "train"), "--workdir", str(wd),
                "--steps", str(a.steps), "--vgg", vgg, "--log-every", "10", "--checkpoint-every", "40", *(["--resume"] if (wd / "checkpoint.pt").exists() else []), *extra)
        out = a.workdir / f"{name}_quality.json"
        run("eval", "--workdir", str(wd), "--photos", str(SHARED / "content"), "--vgg", vgg, "--out", str(out))
        results[name] = {"log": losses(wd), "quality": json.loads(out.read_text())}
    ft, sc = (smoothed_total(results[k]["log"]) for k in ("finetune", "scratch"))
    rows = []
    for step in sorted(set(ft) & set(sc)):
        if step % 40 == 0 or step == 10:
            # the first step at which the fine-tuned run's smoothed loss is at or below scratch's final loss
            rows.append({"step": step, "finetune_loss": ft[step], "scratch_loss": sc[step]})
    final_scratch = sc[max(sc)]
    reach = next((s for s in sorted(ft) if ft[s] <= final_scratch), None)
    summary = {"painting": a.style.name, "init": a.init, "steps": a.steps, "image_size": a.image_size,
               "finetune_steps_to_scratch_final_loss": reach, "speedup_at_least": (a.steps / reach) if reach else None,
               "quality": {k: v["quality"] for k, v in results.items()}}
    print(table(rows, ["step", "finetune_loss", "scratch_loss"]))
    print(json.dumps({k: v for k, v in summary.items() if k != "quality"}))
    print(json.dumps(summary["quality"], indent=1)[:2000])
    print("saved", save("finetune_vs_scratch", {**summary, "curve": rows}))


if __name__ == "__main__":
    main()
