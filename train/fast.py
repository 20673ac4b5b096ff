"""`python -m train.fast --style starry.jpg --data PHOTOS/ --out starry.safetensors`: train one fast style net.

Johnson et al.'s perceptual loss on VGG16 with pytorch/examples' normalisation (Normalisation.MEAN).
Checkpoints (model, optimizer, step, RNG) every --checkpoint-every steps; --resume continues exactly.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from runtime.errors import InputError, StylecastError, cli_entry
from runtime.files import atomic_path, sha256_file
from runtime.validate import Parser, float_range, int_range, non_negative_float, non_negative_int, positive_int
from runtime.frames import cap_long_side, from_nchw, read_image, resize_to, to_nchw, write_image
from train import distributed, losses
from train.data import PhotoCrops
from train.device import amp_label, autocast_dtype, describe, pick_device
from train.model_io import save_style_model
from train.transformer_net import DEFAULT_CHANNELS, TransformerNet
from train.vgg import build_vgg, validate_layers

DEFAULT_CONTENT_LAYERS = ["relu2_2"]
DEFAULT_STYLE_LAYERS = ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
LOG_FIELDS = ["step", "content", "style", "tv", "total", "images_per_s"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = Parser(prog="python -m train.fast", description=__doc__.splitlines()[0])
    p.add_argument("--style", required=True, help="style image")
    p.add_argument("--data", required=True, help="folder tree of training photos")
    p.add_argument("--out", required=True, help="output weights (.safetensors, or .pth for pytorch/examples format)")
    p.add_argument("--name", help="style name for the model card (default: the output's stem)")
    p.add_argument("--image-size", type=int_range(16, 4096), default=256, help="training crop size (default 256)")
    p.add_argument("--style-size", type=int_range(16, 8192), default=512, help="long side of the style image (default 512)")
    p.add_argument("--batch-size", type=int_range(1, 1024), default=4)
    p.add_argument("--steps", type=positive_int, default=10000, help="optimizer steps (default 10000)")
    p.add_argument("--lr", type=float_range(0.0, 10.0, lo_open=True), default=1e-3)
    p.add_argument("--content-weight", type=non_negative_float, default=1e5)
    p.add_argument("--style-weight", type=non_negative_float, default=1e10)
    p.add_argument("--tv-weight", type=non_negative_float, default=0.0)
    p.add_argument("--content-layers", nargs="+", default=DEFAULT_CONTENT_LAYERS)
    p.add_argument("--style-layers", nargs="+", default=DEFAULT_STYLE_LAYERS)
    p.add_argument("--net", choices=["vgg16", "vgg19"], default="vgg16")
    p.add_argument("--vgg", help="local VGG weights (.pth/.safetensors); default $STYLECAST_VGG or torchvision's URL")
    p.add_argument("--vgg-input", choices=["torchvision", "caffe"], help="input convention of --vgg (default: from its metadata)")
    p.add_argument("--width", type=float_range(0.0, 8.0, lo_open=True), default=1.0, help="channel multiplier of the transform net (1.0 = Johnson's)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="autocast (auto: bf16 on GPUs and on CPUs with AMX/AVX512-BF16, about 2x per step there; else fp32)")
    p.add_argument("--threads", type=int_range(1, 1024), help="CPU threads for torch")
    p.add_argument("--workers", type=int_range(0, 256), help="data loader workers (default 0 on CPU, 4 on CUDA)")
    p.add_argument("--seed", type=non_negative_int, default=42)
    p.add_argument("--workdir", help="checkpoints, log.csv and samples (default: <out>.run/)")
    p.add_argument("--checkpoint-every", type=positive_int, default=200)
    p.add_argument("--sample-every", type=non_negative_int, default=500)
    p.add_argument("--val", nargs="*", help="photos to stylize as samples (default: two from --data)")
    p.add_argument("--resume", action="store_true", help="continue from <workdir>/checkpoint.pt")
    p.add_argument("--stop-after", type=positive_int, help="end this process after N steps, as a kill would (time-boxed runs, tests)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p.parse_args(argv)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _rng_state() -> dict:
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {"torch": torch.get_rng_state(), "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
             "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, gauss))
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, net: TransformerNet, opt: torch.optim.Optimizer, step: int, args: argparse.Namespace, elapsed: float) -> None:
    with atomic_path(path) as tmp:
        torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "step": step, "rng": _rng_state(),
                    "args": vars(args), "elapsed": elapsed}, tmp)


def _read_log(path: Path, upto: int | None = None) -> list[dict]:
    if not path.is_file():
        return []
    with path.open() as f:
        rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
    return [r for r in rows if upto is None or r["step"] <= upto]


def _rewrite_log(path: Path, rows: list[dict]) -> None:
    with atomic_path(path) as tmp, tmp.open("w", newline="") as f:
        w = csv.DictWriter(f, LOG_FIELDS)
        w.writeheader()
        for r in rows:
            w.writerow({k: (int(r[k]) if k == "step" else r[k]) for k in LOG_FIELDS})


def _scaled_channels(width: float) -> tuple[int, int, int]:
    return tuple(max(4, int(round(c * width))) for c in DEFAULT_CHANNELS)  # type: ignore[return-value]


def _default_val(dataset: PhotoCrops, count: int = 2) -> list[np.ndarray]:
    """The first readable photos of the first and second half of the data, for sample stylizations."""
    photos: list[np.ndarray] = []
    n = len(dataset.files)
    for start in range(0, n, max(1, n // count))[:count]:
        for path in dataset.files[start:]:
            try:
                photos.append(cap_long_side(read_image(path), 256))
                break
            except InputError:
                continue
    return photos


def _sample(net: TransformerNet, photos: list[np.ndarray], device: torch.device, path: Path) -> None:
    net.eval()
    with torch.no_grad():
        outs = [from_nchw(net(torch.from_numpy(to_nchw(p)).to(device)).float().cpu().numpy())[0] for p in photos]
    net.train()
    height = 256  # photos of any shape side by side: each (input above output) scaled to one height
    cols = [np.concatenate([p, o], 0) for p, o in zip(photos, outs)]
    cols = [resize_to(c, 2 * height, max(1, round(c.shape[1] * 2 * height / c.shape[0]))) for c in cols]
    write_image(path, np.concatenate(cols, 1))


def train(args: argparse.Namespace) -> Path | None:
    """One process, or one rank of `torchrun --nproc_per_node N -m train.fast ...` (DDP; rank 0 writes)."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    ranks = distributed.setup(device)
    device = distributed.rank_device(device, ranks)
    try:
        return _train(args, device, ranks)
    finally:
        distributed.teardown(ranks)


def _train(args: argparse.Namespace, device: torch.device, ranks: distributed.Ranks) -> Path | None:
    out = Path(args.out)
    if out.suffix not in (".safetensors", ".pth", ".model"):
        raise InputError(f"--out must end in .safetensors or .pth, got {out.name}")
    workdir = Path(args.workdir or f"{out}.run")
    ckpt_path = workdir / "checkpoint.pt"
    for name in ("image_size", "batch_size", "steps", "checkpoint_every"):
        if getattr(args, name) < 1:
            raise StylecastError(f"--{name.replace('_', '-')} must be >= 1")

    style_rgb = cap_long_side(read_image(args.style), args.style_size)
    dataset = PhotoCrops(args.data, args.image_size, seed=args.seed, length=args.steps * args.batch_size * ranks.world)
    vgg = build_vgg(validate_layers(args.net, args.content_layers + args.style_layers), args.net, args.vgg, args.vgg_input).to(device)
    if args.image_size < vgg.min_size():
        raise StylecastError(f"--image-size {args.image_size} is below the {vgg.min_size()} px the deepest layer needs")

    _seed_everything(args.seed)
    net = TransformerNet(_scaled_channels(args.width)).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)

    cuda = device.type == "cuda"
    if cuda:
        net = net.to(memory_format=torch.channels_last)
        vgg = vgg.to(memory_format=torch.channels_last)
    amp_dtype = autocast_dtype(device) if args.precision == "auto" else (torch.bfloat16 if args.precision == "bf16" else None)
    scaler = torch.amp.GradScaler("cuda", enabled=cuda and amp_dtype == torch.float16)
    if ranks.main:
        print(f"train.fast: {describe(device)}, {amp_label(amp_dtype)}"
              + (f", {ranks.world} ranks (DDP {'nccl' if cuda else 'gloo'}), {args.batch_size} photos per rank" if ranks.enabled else ""), flush=True)

    with torch.no_grad():
        style_feats = vgg(torch.from_numpy(to_nchw(style_rgb)).to(device))
        grams = losses.style_targets([{k: v.float() for k, v in style_feats.items()}], [1.0], args.style_layers)
    weights = losses.LossWeights(args.content_weight, args.style_weight, args.tv_weight)
    val_photos = [cap_long_side(read_image(v), 256) for v in args.val] if args.val else _default_val(dataset)

    created = not workdir.exists()  # made as late as possible, and removed again if no checkpoint came of it
    if ranks.main:
        workdir.mkdir(parents=True, exist_ok=True)
    try:
        return _train_loop(args, device, out, workdir, net, opt, vgg, scaler, amp_dtype, grams, weights, val_photos, dataset, ranks)
    except BaseException:
        if ranks.main and created and not ckpt_path.is_file():
            shutil.rmtree(workdir, ignore_errors=True)
        raise


def _train_loop(args, device, out, workdir, net, opt, vgg, scaler, amp_dtype, grams, weights, val_photos, dataset,
                ranks: distributed.Ranks) -> Path | None:
    """Resume (or start) the log and run the optimizer steps; a checkpoint every --checkpoint-every (rank 0 writes)."""
    ckpt_path, log_path = workdir / "checkpoint.pt", workdir / "log.csv"
    cuda = device.type == "cuda"
    start, elapsed = 0, 0.0
    if args.resume and ckpt_path.is_file():
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        start, elapsed = int(ckpt["step"]), float(ckpt.get("elapsed", 0.0))
        _set_rng_state(ckpt["rng"])
        if ranks.main:
            _rewrite_log(log_path, _read_log(log_path, upto=start))
    elif not args.resume and ranks.main:
        log_path.unlink(missing_ok=True)
    if ranks.main and not log_path.is_file():
        _rewrite_log(log_path, [])
    model = net  # the plain module: checkpoints, samples and the output file hold its weights
    net = distributed.wrap(net, ranks, device)

    workers = args.workers if args.workers is not None else (4 if cuda else 0)
    loader = DataLoader(dataset, batch_size=args.batch_size, sampler=ranks.sample_indices(start, args.steps, args.batch_size),
                        num_workers=workers, pin_memory=cuda, drop_last=True, persistent_workers=workers > 0)
    bar = tqdm(total=args.steps, initial=start, desc=f"train {out.stem}", unit="step", disable=args.quiet or not ranks.main, dynamic_ncols=True)
    net.train()
    step = start
    t_last = time.perf_counter()
    with (log_path.open("a", newline="") if ranks.main else open(os.devnull, "w")) as log_file:
        log = csv.DictWriter(log_file, LOG_FIELDS)
        for batch in loader:
            t0 = time.perf_counter()
            x = batch.to(device, non_blocking=True)
            if cuda:
                x = x.contiguous(memory_format=torch.channels_last)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
                y = net(x)
                feats_y = vgg(y)
                with torch.no_grad():
                    feats_x = vgg(x)
            terms = losses.perceptual_loss(
                {k: v.float() for k, v in feats_y.items()}, y.float(),
                {l: feats_x[l].float() for l in args.content_layers}, grams, {}, weights, losses.Normalisation.MEAN)
            if not torch.isfinite(terms.total):
                raise StylecastError(f"loss became {float(terms.total)} at step {step + 1}; lower --lr or the loss weights")
            scaler.scale(terms.total).backward()
            scaler.step(opt)
            scaler.update()
            step += 1
            now = time.perf_counter()
            elapsed += now - t0
            row = {"step": step, **_weighted(terms, weights), "images_per_s": args.batch_size / max(now - t_last, 1e-9)}
            t_last = now
            log.writerow(row)
            bar.update(1)
            bar.set_postfix(content=f"{row['content']:.3g}", style=f"{row['style']:.3g}", total=f"{row['total']:.3g}")
            if ranks.main and (step % args.checkpoint_every == 0 or step == args.steps):
                log_file.flush()
                save_checkpoint(ckpt_path, model, opt, step, args, elapsed)
            if ranks.main and args.sample_every and (step % args.sample_every == 0 or step == args.steps):
                _sample(model, val_photos, device, workdir / f"sample_{step:06d}.png")
            if args.stop_after and step - start >= args.stop_after and step < args.steps:
                bar.close()
                print(f"stopped after step {step}; continue with --resume", flush=True)
                return None
    bar.close()
    digest = distributed.check_identical(net, ranks)
    if ranks.enabled and ranks.main:
        print(f"weights identical on all {ranks.world} ranks (sha256 {digest[:16]})", flush=True)
    if not ranks.main:
        return None

    rows = _read_log(log_path)
    tail = rows[-min(50, len(rows)):] if rows else []
    final = {k: float(np.mean([r[k] for r in tail])) for k in ("content", "style", "tv", "total")} if tail else {}
    card = {
        "name": args.name or out.stem.split(".")[0],
        "style_image": Path(args.style).name,
        "style_sha256": sha256_file(args.style),
        "hyperparameters": {k: getattr(args, k) for k in (
            "image_size", "style_size", "batch_size", "steps", "lr", "content_weight", "style_weight", "tv_weight",
            "content_layers", "style_layers", "net", "width", "seed", "precision")},
        "ranks": ranks.world,
        "loss_normalisation": "pytorch/examples (MSE of features; Gram / (C*H*W)); losses below are weighted",
        "vgg_weights": vgg_source(args),
        "data": {"folder": Path(args.data).name, "photos": len(dataset.files)},
        "steps": step,
        "final_losses_mean_last_50": final,
        "training_seconds": round(elapsed, 1),
        "hardware": describe(device),
        "date": time.strftime("%Y-%m-%d"),
    }
    save_style_model(out, model.float().to(memory_format=torch.contiguous_format), card)
    print(f"wrote {out} and {out.with_suffix('.json')} after {step} steps ({elapsed / 60:.1f} min); final {json.dumps(final)}")
    return out


def _weighted(terms: losses.LossTerms, w: losses.LossWeights) -> dict[str, float]:
    return {"content": w.content * terms.content.item(), "style": w.style * terms.style.item(),
            "tv": w.tv * terms.tv.item(), "total": terms.total.item()}


def vgg_source(args: argparse.Namespace) -> str:
    src = args.vgg or os.environ.get("STYLECAST_VGG") or f"torchvision {args.net}"
    return Path(src).name if os.path.exists(src) else src


@cli_entry
def main(argv: list[str] | None = None) -> None:
    train(parse_args(argv))


if __name__ == "__main__":
    main()
