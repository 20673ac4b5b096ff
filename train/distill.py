"""Distil a trained style net into the small CPU net: `python -m train.distill --teacher mosaic.safetensors ...`.

The student (LiteTransformerNet) learns to reproduce the teacher's output pixel for pixel on random
crops of natural photos. No VGG and no style image are involved, so it is cheap: the teacher runs once
per crop (its outputs are kept in memory as uint8), then the student trains on those pairs.
Loss: L1 on the 0-255 image plus L1 on its horizontal and vertical differences (keeps stroke edges),
plus, with --stability-weight, a noise-stability term (Gupta et al. 2017): the student's output for the
crop with a little Gaussian noise added must equal its output for the clean crop. Per-frame nets
flicker because tiny input changes (sensor and codec noise) change their strokes; this term trains that
sensitivity out, which the teacher cannot teach.
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from runtime.errors import InputError, cli_entry
from runtime.files import check_output_dir, sha256_file
from train.data import PhotoCrops
from train.device import amp_label, autocast_dtype, describe, pick_device
from train.losses import gram_matrix, relative_gram_distance
from train.model_io import load_style_model, save_style_model
from train.transformer_net import LITE_CHANNELS, LITE_RESIDUAL_BLOCKS, LiteTransformerNet


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m train.distill", description=__doc__.splitlines()[0])
    p.add_argument("--teacher", required=True, help="trained full net (.safetensors, or a pytorch/examples .pth)")
    p.add_argument("--data", required=True, help="folder tree of photos")
    p.add_argument("--out", required=True, help="student weights (.safetensors)")
    p.add_argument("--name", help="style name for the model card (default: the output's stem)")
    p.add_argument("--crops", type=int, default=2000, help="photo crops the teacher stylizes (default 2000)")
    p.add_argument("--image-size", type=int, default=256, help="crop size (default 256)")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3, help="Adam learning rate, cosine-decayed to 1%% of it")
    p.add_argument("--edge-weight", type=float, default=1.0, help="weight of the image-gradient L1 term")
    p.add_argument("--stability-weight", type=float, default=0.0, help="weight of the noise-stability term (0 = off)")
    p.add_argument("--noise", type=float, default=4.0, help="std of the input noise for --stability-weight (0-255 scale)")
    p.add_argument("--texture-weight", type=float, default=0.0,
                   help="weight of a texture term: the relative Gram distance (VGG16 relu1_2..relu3_3) of the student's "
                        "output to the teacher's; keeps the strokes an L1 copy blurs away (0 = off; 30 is a good start)")
    p.add_argument("--vgg", help="VGG16 weights for --texture-weight (default $STYLECAST_VGG, ../shared, or torchvision's download)")
    p.add_argument("--init", help="start from these student weights (fine-tuning) instead of random ones")
    p.add_argument("--channels", type=int, nargs=3, default=list(LITE_CHANNELS))
    p.add_argument("--residual-blocks", type=int, default=LITE_RESIDUAL_BLOCKS)
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--threads", type=int, help="CPU threads for torch")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="autocast (auto: bf16 on GPUs and on CPUs with AMX/AVX512-BF16; else fp32)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def distill_loss(student: torch.Tensor, target: torch.Tensor, edge_weight: float) -> torch.Tensor:
    """Mean absolute error on the 0-255 scale, plus the same on x/y finite differences."""
    loss = F.l1_loss(student, target)
    if edge_weight:
        for dim in (2, 3):
            loss = loss + edge_weight * F.l1_loss(torch.diff(student, dim=dim), torch.diff(target, dim=dim))
    return loss


TEXTURE_LAYERS = ("relu1_2", "relu2_2", "relu3_3")


def texture_loss(vgg: torch.nn.Module, student: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over TEXTURE_LAYERS of ||G(student) - G(target)||_F / ||G(target)||_F, batched (train.quality's style
    distance with the teacher's output in place of the painting; the ratio needs no Gram normalisation)."""
    fs, ft = vgg(student), vgg(target)
    terms = []
    for layer in TEXTURE_LAYERS:
        ga, gb = gram_matrix(fs[layer].float()), gram_matrix(ft[layer].float())
        terms.append(relative_gram_distance(ga, gb).mean())
    return torch.stack(terms).mean()


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    mse = F.mse_loss(a.clamp(0, 255), b.clamp(0, 255)).item()
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


@torch.no_grad()
@torch.no_grad()
def teacher_pairs(teacher: torch.nn.Module, photos: PhotoCrops, device: torch.device, batch: int, quiet: bool,
                  amp_dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """All crops and the teacher's stylizations of them, uint8 NCHW on the CPU."""
    n, s = len(photos), photos.image_size
    inputs = torch.empty((n, 3, s, s), dtype=torch.uint8)
    targets = torch.empty_like(inputs)
    for start in tqdm(range(0, n, batch), desc="teacher", unit="batch", disable=quiet):
        x = torch.stack([photos[k] for k in range(start, min(n, start + batch))])
        inputs[start : start + len(x)] = x.round().to(torch.uint8)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            y = teacher(x.to(device)).float().clamp(0, 255).round().to("cpu", torch.uint8)
        targets[start : start + len(x)] = y
    return inputs, targets


def distill(args: argparse.Namespace) -> Path:
    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise InputError(f"--out must end in .safetensors, got {out.name}")
    check_output_dir(out)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    device = pick_device(args.device)
    amp_dtype = autocast_dtype(device) if args.precision == "auto" else (torch.bfloat16 if args.precision == "bf16" else None)
    if not args.quiet:
        print(f"train.distill: {describe(device)}, {amp_label(amp_dtype)}", flush=True)
    teacher, teacher_card = load_style_model(args.teacher)
    teacher = teacher.to(device).eval()
    photos = PhotoCrops(args.data, args.image_size, seed=args.seed, length=args.crops)
    started = time.time()
    inputs, targets = teacher_pairs(teacher, photos, device, args.batch_size, args.quiet, amp_dtype)
    teacher_s = time.time() - started
    n_val = max(args.batch_size, args.crops // 20)
    train_idx = torch.arange(n_val, args.crops)

    if args.init:
        student, _ = load_style_model(args.init)
        if not isinstance(student, LiteTransformerNet):
            raise InputError(f"--init {args.init} is not a lite net")
        student = student.to(device).train()
    else:
        student = LiteTransformerNet(tuple(args.channels), args.residual_blocks).to(device)
    vgg = None
    if args.texture_weight:
        from train.quality import default_vgg_path
        from train.vgg import build_vgg

        vgg = build_vgg(list(TEXTURE_LAYERS), "vgg16", args.vgg or default_vgg_path()).to(device).eval()
        vgg.requires_grad_(False)
    opt = torch.optim.Adam(student.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * k / args.steps)))
    gen = torch.Generator().manual_seed(args.seed)
    bar = tqdm(range(args.steps), desc="distil", unit="step", disable=args.quiet)
    running = None
    for _ in bar:
        pick = train_idx[torch.randint(len(train_idx), (args.batch_size,), generator=gen)]
        x = inputs[pick].to(device, torch.float32)
        y = targets[pick].to(device, torch.float32)
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            pred = student(x).float()
            loss = distill_loss(pred, y, args.edge_weight)
            if vgg is not None:
                loss = loss + args.texture_weight * texture_loss(vgg, pred, y)
            if args.stability_weight:
                noisy = student(x + args.noise * torch.randn(x.shape, generator=gen).to(device)).float()
                loss = loss + args.stability_weight * F.l1_loss(noisy, pred)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        bar.set_postfix(loss=f"{running:.2f}")
    student.eval()
    val_psnr = _validate(student, inputs[:n_val], targets[:n_val], device, args.batch_size)
    card = {
        "name": args.name or out.stem,
        "variant": "lite",
        "distilled_from": {"name": teacher_card.get("name", Path(args.teacher).stem), "sha256": sha256_file(args.teacher)},
        **{k: teacher_card[k] for k in ("title", "style_image", "style_sha256") if k in teacher_card},
        "hyperparameters": {k: getattr(args, k) for k in ("crops", "image_size", "steps", "batch_size", "lr", "edge_weight", "stability_weight", "noise", "seed", "texture_weight")},
        "precision": amp_label(amp_dtype),
        "init": Path(args.init).name if args.init else None,
        "final_loss": running,
        "val_psnr_vs_teacher_db": round(val_psnr, 2),
        "training_seconds": round(time.time() - started),
        "teacher_seconds": round(teacher_s),
        "hardware": describe(device),
        "data": str(args.data),
    }
    save_style_model(out, student.cpu(), card)
    print(f"wrote {out}: {args.steps} steps, held-out PSNR vs teacher {val_psnr:.2f} dB")
    return out


@torch.no_grad()
def _validate(student: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, device: torch.device, batch: int) -> float:
    scores = []
    for start in range(0, len(inputs), batch):
        x = inputs[start : start + batch].to(device, torch.float32)
        scores.append(psnr(student(x), targets[start : start + batch].to(device, torch.float32)))
    return float(np.mean(scores))


@cli_entry
def main(argv: list[str] | None = None) -> None:
    distill(parse_args(argv))


if __name__ == "__main__":
    main()
