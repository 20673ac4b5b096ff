"""Many styles in one training run: conditional instance norm (Dumoulin et al. 2017) over one shared trunk.

    python -m train.multistyle train --plan plan.json --data PHOTOS/ --workdir runs/ten [--steps N] [--resume]
    python -m train.multistyle eval --workdir runs/ten --photos CONTENT/ --video CLIP.mp4 --out quality.json
    python -m train.multistyle export --workdir runs/ten --slot mosaic=mosaic@5e9 ... --out-dir nets/

Every *slot* is one (painting, loss settings) pair with its own instance-norm scale and shift; the
convolutions are shared. A slot folded into a plain TransformerNet (its row of the norm parameters
copied into the affine InstanceNorm) is exactly a single-style Johnson net, so everything downstream
(export, runtime, pytorch/examples loaders) is unchanged. Slots make a loss-weight sweep cheap: the
same painting at three style weights trains in one run, and the benchmark picks the winner.

With --teacher the run distils instead: a lite student with the same slots learns the teacher's
outputs (train.distill's loss), with no VGG.

The stability term (Gupta et al. 2017) compares the outputs of two crops of one photo, offset by up
to --max-shift pixels and with Gaussian noise on the second: over their overlap they must agree.
This is what per-frame video flicker comes from, so training it down is cheaper than smoothing it away.
With the plan's subpixel_shift the second crop is also moved by a random fraction of a pixel (bilinear),
and the first output is resampled by the same fraction before the comparison: real camera motion is
rarely a whole pixel, and the flicker benchmark warps frames with bilinear flow exactly so.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from runtime.errors import InputError, StylecastError, cli_entry
from runtime.files import atomic_path, sha256_file
from runtime.frames import PAD_MULTIPLE, cap_long_side, pad_amounts, read_image, resize_long_side, resize_to
from runtime.stylizer import BORDER_SIDES, border_margin
from train import losses
from train.data import list_images
from train.device import autocast_dtype, describe, pick_device
from train.distill import distill_loss
from train.model_io import save_style_model
from train.transformer_net import TransformerNet, build_net

CKPT = "checkpoint.pt"
WEIGHTS = "weights.pt"  # model and plan only (no optimizer): a third of the size, enough to evaluate, export or --init
FIT_WARMUP, FIT_AFTER = 10, 40  # --fit-schedule times steps FIT_WARMUP..FIT_AFTER of the process, then fixes --steps
REFIT_AT = 0.25  # ... and times again from FIT_AFTER to this fraction of --time-limit: runs started side by side
# (one GPU, or two on a CPU's cores) time their first steps while the others still load, which misjudges the pace
STYLE_NORMALISATIONS = ("absolute", "relative")
CONTENT_DISTANCES = ("mse", "rms")
CROP_MARGIN = 16  # pixels of the shifted-crop overlap ignored at each border (padding effects differ there)


@dataclass
class Slot:
    name: str
    style: str
    style_weight: float = 5e9
    content_weight: float = 1e5
    tv_weight: float = 0.0
    style_size: int = 512  # the style image's long side is capped here (never enlarged), as the quality metric does
    # then resized by this factor: the texture scale the net learns to paint (issue 11 item 4's "style image scale");
    # the metric's target stays the painting at its capped size, so a scale other than 1 trades style for content
    style_scale: float = 1.0
    stability_weight: float = 0.0
    # weight of train.losses.border_band_excess on the scored crop (0 = off): the style term rewards a band of
    # noise along any border a net can locate, even the scored crop's inside a larger context (see border_sides)
    band_weight: float = 0.0


@dataclass
class Plan:
    slots: list[Slot]
    variant: str = "johnson"
    image_size: int = 256
    batch_per_slot: int = 2
    lr: float = 1e-3
    content_layers: list[str] = field(default_factory=lambda: ["relu2_2"])
    style_layers: list[str] = field(default_factory=lambda: ["relu1_2", "relu2_2", "relu3_3", "relu4_3"])
    noise: float = 4.0
    max_shift: int = 4
    subpixel_shift: bool = False  # stability pairs also shifted by a random fraction of a pixel (bilinear)
    edge_weight: float = 1.0  # distillation only
    # "absolute": pytorch/examples' Gram MSE, whose layers differ in scale by up to 1000x (relu4_3 barely counts);
    # "relative": each layer's ||G(out) - G(style)|| / ||G(style)||, the quality metric's own per-layer style
    # distance, so every layer counts as the metric counts it (style weights ~1e6 with content 1e5)
    style_normalisation: str = "absolute"
    # "mse": each content layer's mean squared feature difference (pytorch/examples); "rms": its square root, the
    # quality metric's own content distance, so relu2_2 and relu3_3 count as the metric counts them (mse weighs
    # each layer by twice its own distance, favouring relu3_3); content weights ~5e5 match mse's 1e5 near 2.5
    content_distance: str = "mse"
    seed: int = 42
    # pixels of photo the net sees beyond the scored crop's bottom/right border (a larger crop of the same photo,
    # cut off before the losses): None = the margin the runtime runs this variant with (runtime.stylizer.border_margin:
    # 24 for lite), so the net's own bottom/right border, where lite nets painted a noisy band that the style loss
    # rewarded, is never scored. Real photo rather than reflection: a net trained on a reflected margin learned
    # to find the mirror line and paint its band there instead.
    border_margin: int | None = None
    # "bottom-right": the margin lies beyond the scored crop's bottom/right only, and the net's own top/left input
    # edges are scored (a net can learn to paint its band there instead: feathers-lite and wave-lite did);
    # "all": photo context on all four sides and only the centre scored; the model card then tells the runtime
    # to stylize the margin on all four sides too (runtime.stylizer.border_margins)
    border_sides: str = "bottom-right"
    band_width: int = 24  # pixels of each border of the scored crop that border_band_excess compares with its interior
    # {"channels": [c1, c2, c3], "residual_blocks": n} instead of the variant's default: a wider or deeper net,
    # which --init grows from a smaller trained one without changing its output (see grow_state); a lite net
    # also takes "refine": [k, r], its full-resolution refinement stage (train.transformer_net.LiteTransformerNet)
    arch: dict | None = None

    def net_arch(self) -> dict:
        return {**_default_arch(self.variant), **(self.arch or {})}

    @staticmethod
    def load(path: str | os.PathLike) -> "Plan":
        try:
            raw = json.loads(Path(path).read_text())
            raw["slots"] = [Slot(**s) for s in raw["slots"]]
            plan = Plan(**raw)
        except FileNotFoundError:
            raise InputError(f"plan not found: {path}") from None
        except (json.JSONDecodeError, TypeError, KeyError) as exc:
            raise InputError(f"{path} is not a valid plan: {exc}") from None
        if plan.arch is not None and (not isinstance(plan.arch, dict) or set(plan.arch) - {"channels", "residual_blocks", "refine"}
                                      or len(plan.arch.get("channels", [0, 0, 0])) != 3):
            raise InputError(f"{path}: arch takes channels (three numbers), residual_blocks and (lite) refine")
        refine = (plan.arch or {}).get("refine")
        if refine is not None and (plan.variant != "lite" or not isinstance(refine, list) or len(refine) != 2
                                   or not all(isinstance(n, int) and n >= 0 for n in refine) or refine[1] < 1):
            raise InputError(f"{path}: arch's refine is [k, r] (k >= 0 full-resolution features, r >= 1 channels), lite nets only")
        if plan.border_sides not in BORDER_SIDES:
            raise InputError(f"{path}: border_sides must be one of {', '.join(BORDER_SIDES)}")
        if plan.style_normalisation not in STYLE_NORMALISATIONS:
            raise InputError(f"{path}: style_normalisation must be one of {', '.join(STYLE_NORMALISATIONS)}")
        if plan.content_distance not in CONTENT_DISTANCES:
            raise InputError(f"{path}: content_distance must be one of {', '.join(CONTENT_DISTANCES)}")
        names = [s.name for s in plan.slots]
        if not names or len(set(names)) != len(names):
            raise InputError(f"{path}: slot names must be present and unique")
        return plan

    def to_json(self) -> dict:
        return asdict(self)

    def margin(self) -> int:
        return border_margin({"arch": {"variant": self.variant}}) if self.border_margin is None else int(self.border_margin)

    def lead(self) -> int:
        """Pixels of context above and left of the scored crop."""
        return self.margin() if self.border_sides == "all" else 0

    def context_size(self) -> int:
        """Side of the crops the net runs on: image_size plus the margins, up to the next multiple of 8."""
        margin, lead = self.margin(), self.lead()
        return self.image_size + lead + (pad_amounts(self.image_size, self.image_size, PAD_MULTIPLE, margin, lead)[0] if margin else 0)

    def card_border(self) -> dict:
        """What a model card must say for the runtime to run this net as it was trained (only a four-sided margin
        differs from the runtime's default for the variant)."""
        return {"border_margin": self.margin(), "border_sides": "all"} if self.lead() else {}


class CondInstanceNorm(nn.Module):
    """Instance norm whose scale and shift are chosen per batch item by a (B, slots) mixing matrix."""

    def __init__(self, channels: int, slots: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(slots, channels))
        self.bias = nn.Parameter(torch.zeros(slots, channels))
        self.mix: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mix = self.mix.to(self.weight.dtype)
        w, b = mix @ self.weight, mix @ self.bias
        return F.instance_norm(x) * w[:, :, None, None].to(x.dtype) + b[:, :, None, None].to(x.dtype)


class MultiStyleNet(nn.Module):
    """A transform net (Johnson or lite) whose InstanceNorms are CondInstanceNorms over `slots` styles."""

    def __init__(self, slots: int, variant: str = "johnson", arch: dict | None = None):
        super().__init__()
        self.slots = slots
        self.body: TransformerNet = build_net(arch or _default_arch(variant))
        self.norms: list[CondInstanceNorm] = []
        for name, module in list(self.body.named_modules()):
            if isinstance(module, nn.InstanceNorm2d):
                parent = self.body.get_submodule(name.rpartition(".")[0]) if "." in name else self.body
                cin = CondInstanceNorm(module.num_features, slots)
                setattr(parent, name.rpartition(".")[2], cin)
                self.norms.append(cin)

    def forward(self, x: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
        for n in self.norms:
            n.mix = mix
        return self.body(x)

    def load_single(self, state: dict[str, torch.Tensor]) -> None:
        """Start every slot from one trained single-style net (fine-tuning beats training from scratch)."""
        own = self.body.state_dict()
        missing = sorted(set(own) - set(state))
        if missing:
            raise InputError(f"--init: the single-style net has no '{missing[0]}'; it must be the same kind of net as the plan's "
                             f"({self.body.arch()})")
        for k, v in state.items():
            norm = own.get(k) is not None and own[k].dim() == 2 and v.dim() == 1
            if k not in own or (v.shape != own[k].shape[1:] if norm else v.shape != own[k].shape):
                here = tuple(own[k].shape[1:] if norm else own[k].shape) if k in own else "absent"
                raise InputError(f"--init: '{k}' is {tuple(v.shape)} in the single-style net, {here} in the plan's net "
                                 f"({self.body.arch()}); give the plan the same variant and channels")
            own[k] = v.float().expand_as(own[k]).clone() if norm else v.float()
        self.body.load_state_dict(own)

    def fold(self, mix: torch.Tensor | list[float]) -> TransformerNet:
        """A plain single-style net: shared weights plus the mixed norm parameters (a one-hot mix = one slot)."""
        mix = torch.as_tensor(mix, dtype=torch.float32)
        state = {}
        for k, v in self.body.state_dict().items():
            v = v.detach().float().cpu()
            state[k] = mix @ v if v.dim() == 2 and v.shape[0] == self.slots and k.endswith((".weight", ".bias")) and _is_norm_key(k) else v
        net = build_net(self.body.arch())
        net.load_state_dict(state)
        return net.eval()


def _is_norm_key(key: str) -> bool:
    return key.rsplit(".", 2)[-2].startswith("in")


def _default_arch(variant: str) -> dict:
    from train.transformer_net import DEFAULT_CHANNELS, DEFAULT_RESIDUAL_BLOCKS, LITE_CHANNELS, LITE_RESIDUAL_BLOCKS

    if variant == "lite":
        return {"variant": "lite", "channels": list(LITE_CHANNELS), "residual_blocks": LITE_RESIDUAL_BLOCKS}
    if variant == "johnson":
        return {"variant": "johnson", "channels": list(DEFAULT_CHANNELS), "residual_blocks": DEFAULT_RESIDUAL_BLOCKS}
    raise InputError(f"unknown variant '{variant}'; choose johnson or lite")


class PhotoPack:
    """All training photos decoded once (uint8, on the training device); random crops drawn from a generator.

    The photos are small (short side a little above the crop), so a few thousand fit in memory and
    crops cost a slice, not a JPEG decode: the GPU is never starved by the loader.
    """

    def __init__(self, root: str | os.PathLike, crop: int, extra: int, device: torch.device, threads: int = 8):
        files = list_images(root)
        need = crop + extra

        def load(path: Path) -> torch.Tensor | None:
            try:
                rgb = read_image(path)
            except InputError:
                return None
            h, w = rgb.shape[:2]
            if min(h, w) < need:
                s = need / min(h, w)
                rgb = resize_to(rgb, max(need, round(h * s)), max(need, round(w * s)))
            return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)

        with ThreadPoolExecutor(threads) as ex:
            images = [im for im in ex.map(load, files) if im is not None]
        if not images:
            raise InputError(f"no readable photos under {root}")
        self.images = [im.to(device) for im in images]
        self.crop, self.extra = crop, extra

    def __len__(self) -> int:
        return len(self.images)

    def pairs(self, n: int, gen: torch.Generator, max_shift: int) -> tuple[torch.Tensor, torch.Tensor, list[tuple[int, int]]]:
        """n crops a, n crops b of the same photos, and offsets (dy, dx) with b[i, j] = a[i + dy, j + dx]."""
        a, b, shifts = [], [], []
        for idx, ry, rx, sy, sx, flip in torch.randint(0, 2**31 - 1, (n, 6), generator=gen).tolist():
            im = self.images[idx % len(self.images)]
            h, w = im.shape[1:]
            dy, dx = sy % (max_shift + 1), sx % (max_shift + 1)
            y, x = ry % (h - self.crop - dy + 1), rx % (w - self.crop - dx + 1)
            ca = im[:, y: y + self.crop, x: x + self.crop]
            cb = im[:, y + dy: y + dy + self.crop, x + dx: x + dx + self.crop]
            if flip % 2:  # mirrored, b lies to the left of a
                ca, cb, dx = ca.flip(2), cb.flip(2), -dx
            a.append(ca)
            b.append(cb)
            shifts.append((dy, dx))
        return torch.stack(a).float(), torch.stack(b).float(), shifts


def fractional_shift(x: torch.Tensor, fractions: torch.Tensor) -> torch.Tensor:
    """x resampled (bilinear) at (i + fy, j + fx) for each item's fractions (N, 2) in [0, 1); the last row and
    column repeat the edge, which the overlap's margin excludes."""
    fy = fractions[:, 0].view(-1, 1, 1, 1).to(x.dtype)
    fx = fractions[:, 1].view(-1, 1, 1, 1).to(x.dtype)
    x = (1 - fy) * x + fy * torch.cat([x[:, :, 1:], x[:, :, -1:]], dim=2)
    return (1 - fx) * x + fx * torch.cat([x[..., 1:], x[..., -1:]], dim=3)


def overlap_difference(ya: torch.Tensor, yb: torch.Tensor, shifts: list[tuple[int, int]], margin: int = CROP_MARGIN,
                       fractions: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared difference (0-255 scale) of two outputs over the overlap of their crops, borders excluded.
    With fractions, yb's input was also shifted by that fraction of a pixel, so ya is resampled to match."""
    h, w = ya.shape[2:]
    margin = max(1, min(margin, min(h, w) // 8))  # small crops (tests) keep most of their overlap
    if fractions is not None:
        ya = fractional_shift(ya, fractions)
    total = ya.new_zeros((), dtype=torch.float32)
    for k, (dy, dx) in enumerate(shifts):
        i0, i1 = max(0, -dy) + margin, h - max(0, dy) - margin
        j0, j1 = max(0, -dx) + margin, w - max(0, dx) - margin
        pa = ya[k, :, i0 + dy: i1 + dy, j0 + dx: j1 + dx]
        pb = yb[k, :, i0:i1, j0:j1]
        total = total + (pa.float() - pb.float()).pow(2).mean()
    return total / len(shifts)


def style_grams(plan: Plan, vgg: nn.Module, device: torch.device) -> dict[str, torch.Tensor]:
    """{layer: (slots, C, C)} per-position Gram targets, one row per slot."""
    rows: dict[str, list[torch.Tensor]] = {l: [] for l in plan.style_layers}
    with torch.no_grad():
        for slot in plan.slots:
            rgb = cap_long_side(read_image(slot.style), slot.style_size)
            if slot.style_scale != 1.0:
                rgb = resize_long_side(rgb, round(max(rgb.shape[:2]) * slot.style_scale))
            feats = vgg(torch.from_numpy(rgb).permute(2, 0, 1)[None].float().to(device))
            for l in plan.style_layers:
                rows[l].append(losses.gram_per_position(feats[l].float())[0])
    return {l: torch.stack(v) for l, v in rows.items()}


def style_term(plan: Plan, feat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """One layer's style loss per batch item in the plan's normalisation; target (B, C, C) per position."""
    if plan.style_normalisation == "relative":
        return losses.relative_gram_distance(losses.gram_per_position(feat), target)
    return per_item_style(feat, target)


def content_term(plan: Plan, feat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """One layer's content loss per batch item in the plan's content distance."""
    mse = F.mse_loss(feat, target, reduction="none").mean(dim=(1, 2, 3))
    return (mse + 1e-8).sqrt() if plan.content_distance == "rms" else mse


def per_item_style(feat: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """pytorch/examples' style loss (Gram / (C*H*W), MSE) per batch item; target (B, C, C) per position."""
    _, c, h, w = feat.shape
    return (losses.gram_matrix(feat) / (c * h * w) - target / c).pow(2).mean(dim=(1, 2))


def _rng_state(gen: torch.Generator) -> dict:
    state = {"torch": torch.get_rng_state(), "data": gen.get_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict, gen: torch.Generator) -> None:
    torch.set_rng_state(state["torch"])
    gen.set_state(state["data"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_checkpoint(workdir: Path, map_location: str | torch.device = "cpu") -> dict:
    """The full checkpoint, or the weights-only file when that is all a folder holds (runs moved between machines)."""
    path = workdir / CKPT if (workdir / CKPT).is_file() else workdir / WEIGHTS
    if not path.is_file():
        raise InputError(f"no {CKPT} or {WEIGHTS} in {workdir}")
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:
        raise InputError(f"cannot read {path}: {type(exc).__name__}") from None


def net_from_checkpoint(ckpt: dict) -> MultiStyleNet:
    plan = Plan(**{**ckpt["plan"], "slots": [Slot(**s) for s in ckpt["plan"]["slots"]]})
    net = MultiStyleNet(len(plan.slots), plan.variant, ckpt.get("arch") or plan.net_arch())
    net.load_state_dict({k: v.float() for k, v in ckpt["model"].items()})
    return net.eval()


def phase_record(ckpt: dict) -> dict:
    """One finished run of a checkpoint, as a model card's schedule lists it: what a continued net went through."""
    plan = ckpt["plan"]
    shared = ("variant", "image_size", "batch_per_slot", "lr", "content_layers", "style_normalisation", "content_distance")
    return {"steps": int(ckpt["step"]), "training_minutes": round(float(ckpt["elapsed"]) / 60, 1),
            "slots": {s["name"]: {k: s[k] for k in ("style_weight", "content_weight", "stability_weight") if k in s}
                      for s in plan["slots"]},
            **{k: plan[k] for k in shared if k in plan},
            "teacher": bool(ckpt.get("teacher")), "hardware": ckpt.get("hardware", "?"),
            **({"data": ckpt["data"]} if "data" in ckpt else {})}


def _init_from(net: MultiStyleNet, spec: str, plan: Plan) -> tuple[str, list[dict]]:
    """--init FILE: a single-style net (.safetensors/.pth) or a multistyle checkpoint; slots matched by name,
    by painting (the part before '@'), else the first slot of the source. Also returns the source's phases
    (its own history, then its run), which the new run carries on to its model cards."""
    path = Path(spec)
    if path.is_dir() or path.name in (CKPT, WEIGHTS):
        ckpt = load_checkpoint(path if path.is_dir() else path.parent)
        src_net = net_from_checkpoint(ckpt)
        names = [s["name"] for s in ckpt["plan"]["slots"]]
        src = src_net.state_dict()
        if src_net.body.arch() != net.body.arch():
            src = grow_state(src, net.state_dict())
        own = net.state_dict()
        for k, v in src.items():
            if v.dim() == 2 and _is_norm_key(k):
                for i, slot in enumerate(plan.slots):
                    j = _match_slot(slot.name, names)
                    own[k][i] = v[j]
            else:
                own[k] = v
        net.load_state_dict(own)
        return f"{path} (multistyle, {len(names)} slots)", [*ckpt.get("history", []), phase_record(ckpt)]
    from train.model_io import load_style_model

    single, card = load_style_model(path)
    net.load_single(single.state_dict())
    earlier = card.get("schedule") or [{"steps": card.get("steps"), "training_minutes": round((card.get("training_seconds") or 0) / 60, 1),
                                        "single_style": card.get("name", path.stem), "hardware": card.get("hardware", "?")}]
    return f"{path} (single style, copied to every slot)", list(earlier)


def grow_state(small: dict[str, torch.Tensor], fresh: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A trained net's weights embedded in a wider and/or deeper net of the same kind, same output.

    Each tensor goes into the leading corner of the fresh one. New channels keep their fresh weights as
    producers, but every old output reads them through zero weights, so they change nothing until
    training moves those weights; a new residual block starts as the identity (its last norm's scale and
    shift are zero), and so does a new lite refinement stage (its last conv starts at zero). Training then
    grows capacity from where the small net stands instead of from scratch.
    Norm tensors are (slots, channels); the result keeps the trained net's slots (the caller maps them after).
    """
    n_src = next(v.shape[0] for k, v in small.items() if v.dim() == 2 and _is_norm_key(k))
    out = {}
    for k, f in fresh.items():
        norm = f.dim() == 2 and _is_norm_key(k)
        f = f[:1].expand(n_src, -1).clone() if norm else f.clone()  # fresh norms: every slot alike
        s = small.get(k)
        if s is None:
            if not k.startswith(("body.res", "body.refine", "body.in6.")):
                raise InputError(f"--init: the trained net has no '{k}'; it must be the same kind of net (lite or johnson)")
            if ".in2." in k:
                f.zero_()
            out[k] = f
            continue
        if s.dim() != f.dim() or any(a > b for a, b in zip(s.shape, f.shape)) or (s.dim() == 4 and s.shape[2:] != f.shape[2:]):
            raise InputError(f"--init: '{k}' is {tuple(s.shape)} in the trained net, {tuple(f.shape)} here; "
                             "a plan's arch may only widen or deepen it")
        if norm:
            f[:, : s.shape[1]] = s
        elif s.dim() == 4:  # conv (out, in, kh, kw): old outputs read new inputs through zeros
            f[: s.shape[0], : s.shape[1]] = s
            f[: s.shape[0], s.shape[1]:] = 0
        else:
            f[: s.shape[0]] = s
        out[k] = f
    extra = set(small) - set(fresh)
    if extra:
        raise InputError(f"--init: the trained net is deeper or differs ({sorted(extra)[0]}, ...); a plan's arch may only grow it")
    return out


def _match_slot(name: str, names: list[str]) -> int:
    if name in names:
        return names.index(name)
    painting = name.split("@")[0]
    for j, n in enumerate(names):
        if n.split("@")[0] == painting:
            return j
    return 0


def train(args: argparse.Namespace) -> bool:
    """Returns True when the schedule is complete, False when stopped early (time limit / --stop-after)."""
    t_start = time.perf_counter()
    if args.fit_schedule and not args.time_limit:
        raise InputError("--fit-schedule needs --time-limit")
    device = pick_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ckpt_path = workdir / CKPT
    resume = args.resume and ckpt_path.is_file()
    if resume:
        ckpt = load_checkpoint(workdir, device)
        plan = plan_of(ckpt)
    else:
        if not args.plan:
            raise InputError("--plan is needed to start a run (or --resume with a checkpoint in --workdir)")
        plan = Plan.load(args.plan)
    for slot in plan.slots:
        if not Path(slot.style).is_file() and not args.teacher:
            raise InputError(f"style image not found: {slot.style} (slot {slot.name})")
    steps = args.steps
    n_slots, per = len(plan.slots), plan.batch_per_slot
    gen = torch.Generator().manual_seed(plan.seed)
    torch.manual_seed(plan.seed)
    net = MultiStyleNet(n_slots, plan.variant, plan.net_arch()).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=plan.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, steps))
    start, elapsed, log, history = 0, 0.0, [], []
    if resume:
        net.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        start, elapsed, log = int(ckpt["step"]), float(ckpt["elapsed"]), ckpt.get("log", [])
        history = ckpt.get("history", [])
        _set_rng_state(ckpt["rng"], gen)
        origin = f"resumed at step {start}"
    elif args.init:
        source, history = _init_from(net, args.init, plan)
        origin = "initialised from " + source
    else:
        origin = "from scratch"
    amp = autocast_dtype(device) if args.precision == "auto" else (None if args.precision == "fp32" else torch.bfloat16)
    print(f"{plan.variant} net, {n_slots} slots x {per} photos, {steps} steps, {origin}; {describe(device)}, "
          f"{'autocast ' + str(amp).replace('torch.', '') if amp else 'fp32'}", flush=True)

    pack = PhotoPack(args.data, plan.context_size(), plan.max_shift, device)
    teacher = vgg = grams = None
    if args.teacher:
        teacher = net_from_checkpoint(load_checkpoint(Path(args.teacher), device)).to(device)
        teacher.requires_grad_(False)
    else:
        from train.vgg import build_vgg

        vgg = build_vgg(sorted(set(plan.content_layers + plan.style_layers)), "vgg16", args.vgg).to(device)
        grams = style_grams(plan, vgg, device)
    slot_idx = torch.arange(n_slots, device=device).repeat_interleave(per)
    mix = F.one_hot(slot_idx, n_slots).float()
    col = lambda values: torch.tensor(values, device=device, dtype=torch.float32)[slot_idx]  # noqa: E731
    w_content = col([s.content_weight for s in plan.slots])
    w_style = col([s.style_weight for s in plan.slots])
    w_tv = col([s.tv_weight for s in plan.slots])
    w_stab = col([s.stability_weight for s in plan.slots])
    w_band = col([s.band_weight for s in plan.slots])
    target = {l: g[slot_idx] for l, g in grams.items()} if grams is not None else {}
    noise_gen = torch.Generator(device=device).manual_seed(plan.seed + 1)
    if resume and "noise" in ckpt["rng"]:
        noise_gen.set_state(ckpt["rng"]["noise"].cpu())

    def save(step: int) -> None:
        rng = _rng_state(gen)
        rng["noise"] = noise_gen.get_state()
        light = {"model": net.state_dict(), "step": step, "elapsed": elapsed, "plan": plan.to_json(), "arch": net.body.arch(),
                 "log": log, "hardware": describe(device), "history": history, "teacher": bool(args.teacher),
                 "data": f"{args.data} ({len(pack)} photos)"}
        with atomic_path(workdir / WEIGHTS) as tmp:
            torch.save(light, tmp)
        with atomic_path(ckpt_path) as tmp:
            torch.save({**light, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "rng": rng}, tmp)

    size, lead = plan.image_size, plan.lead()
    scored = (..., slice(lead, lead + size), slice(lead, lead + size))
    if plan.context_size() != size:
        print(f"the net sees {plan.context_size()} px crops; the losses score {'their centre' if lead else 'their top-left'} "
              f"{size} px (the runtime's border margin of {plan.margin()} px is never scored)", flush=True)
    net.train()
    step, step_time, fit_t0 = start, 0.0, 0.0
    refit_from: tuple[int, float] | None = None  # (step, clock) where the second timing window opens
    while step < steps:
        t0 = time.perf_counter()
        xa, xb, shifts = pack.pairs(n_slots * per, gen, plan.max_shift)
        use_stab = bool((w_stab > 0).any())
        fractions = None
        if use_stab:
            if plan.subpixel_shift:  # drawn only then, so older plans resume bit-identically
                fractions = torch.rand((len(xb), 2), generator=noise_gen, device=device)
                xb = fractional_shift(xb, fractions)
            xb = (xb + plan.noise * torch.randn(xb.shape, generator=noise_gen, device=device)).clamp(0, 255)
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device.type, dtype=amp or torch.float32, enabled=amp is not None):
            x = torch.cat([xa, xb]) if use_stab else xa
            y_all = net(x, torch.cat([mix, mix]) if use_stab else mix)[scored]  # the margin is not scored
            xa = xa[scored]
            ya = y_all[: len(xa)]
            terms: dict[str, torch.Tensor] = {}
            if teacher is not None:
                with torch.no_grad():
                    ty = teacher(xa, mix)
                terms["distill"] = distill_loss(ya.float(), ty.float(), plan.edge_weight) * len(xa)
            else:
                fy = vgg(ya)
                with torch.no_grad():
                    fx = vgg(xa)
                content = sum(content_term(plan, fy[l].float(), fx[l].float()) for l in plan.content_layers)
                style = sum(style_term(plan, fy[l].float(), target[l]) for l in plan.style_layers)
                terms["content"] = (w_content * content).sum()
                terms["style"] = (w_style * style).sum()
                if (w_tv > 0).any():
                    tv = (ya[:, :, 1:] - ya[:, :, :-1]).float().pow(2).mean(dim=(1, 2, 3)) + (ya[..., 1:] - ya[..., :-1]).float().pow(2).mean(dim=(1, 2, 3))
                    terms["tv"] = (w_tv * tv).sum()
            if (w_band > 0).any():
                terms["band"] = (w_band * losses.border_band_excess(ya, xa, plan.band_width)).sum()
            if use_stab:
                yb = y_all[len(xa):]
                fr = [None if fractions is None else fractions[k: k + 1] for k in range(len(xa))]
                diffs = torch.stack([overlap_difference(ya[k: k + 1], yb[k: k + 1], [shifts[k]], fractions=fr[k]) for k in range(len(xa))])
                terms["stability"] = (w_stab * diffs).sum()
        total = sum(terms.values()) / len(xa)
        if not torch.isfinite(total):
            raise StylecastError(f"loss became {float(total.detach())} at step {step + 1}; lower the learning rate or the loss weights")
        total.backward()
        opt.step()
        sched.step()
        step += 1
        step_time = time.perf_counter() - t0
        elapsed += step_time
        if step % args.log_every == 0 or step == steps or step == start + 1:
            row = {"step": step, "total": float(total.detach()), **{k: float(v.detach()) / len(xa) for k, v in terms.items()},
                   "s_per_step": round(step_time, 4)}
            log.append(row)
            print(json.dumps(row), flush=True)
        if args.fit_schedule and step - start == FIT_AFTER:
            steps = _fitted_steps(steps, step, fit_t0, time.perf_counter(), t_start, args.time_limit)
            refit_from = (step, time.perf_counter())
            print(f"schedule fitted to --time-limit: {steps} steps (the learning-rate decay ends there)", flush=True)
        elif refit_from and time.perf_counter() - t_start >= REFIT_AT * args.time_limit:
            refitted = _fitted_steps(args.steps, step, refit_from[1], time.perf_counter(), t_start, args.time_limit,
                                     timed_steps=step - refit_from[0])
            refit_from = None
            if step < _decay_start(min(steps, refitted)):  # the learning rate is still constant under both schedules
                if refitted != steps:
                    print(f"schedule refitted at step {step}: {refitted} steps (pace since step {start + FIT_AFTER})", flush=True)
                steps = refitted
        if step - start == FIT_WARMUP:
            fit_t0 = time.perf_counter()
        out_of_time = args.time_limit and (time.perf_counter() - t_start) + 3 * step_time > args.time_limit
        stop_now = args.stop_after and step - start >= args.stop_after
        if step % args.checkpoint_every == 0 or step == steps or out_of_time or stop_now:
            save(step)
        if step < steps and (out_of_time or stop_now):
            print(f"stopped at step {step} of {steps} ({elapsed / 60:.1f} min of training); continue with --resume", flush=True)
            return False
    print(f"done: {steps} steps, {elapsed / 60:.1f} min of training", flush=True)
    return True


def _fitted_steps(steps: int, step: int, t_warm: float, now: float, t_start: float, time_limit: float,
                  timed_steps: int | None = None) -> int:
    """The step count whose schedule ends inside the time limit, from the pace of the last timed_steps steps
    (default: those after FIT_WARMUP; never more than asked).

    The first steps are not timed (they pay for cuDNN's algorithm search); a margin of three steps and 2% is
    left for the final checkpoint."""
    pace = (now - t_warm) / (timed_steps or FIT_AFTER - FIT_WARMUP)
    left = time_limit * 0.98 - (now - t_start) - 3 * pace
    return max(step + 1, min(steps, step + int(left / pace)))


def _decay_start(steps: int) -> int:
    return 2 * steps // 3


def _lr_factor(step: int, steps: int) -> float:
    """Constant, then a cosine decay to 10% over the last third (the last few thousand steps polish the strokes)."""
    start = _decay_start(steps)
    if step < start:
        return 1.0
    t = (step - start) / max(1, steps - start)
    return 0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, t)))


def evaluate_run(args: argparse.Namespace) -> list[dict]:
    """Quality figures (train.quality) for every slot of a checkpoint; JSON rows, one per slot."""
    from train import quality

    device = pick_device(args.device)
    ckpt = load_checkpoint(Path(args.workdir), device)
    net = net_from_checkpoint(ckpt)
    meter = quality.QualityMeter(args.vgg, device)
    photos = quality.load_photos(args.photos)
    frames = quality.read_video_frames(args.video, args.frames) if args.video else None
    warp_meter = quality.WarpingError(frames) if frames else None
    rows = []
    for i, slot in enumerate(ckpt["plan"]["slots"]):
        if args.slots and slot["name"] not in args.slots:
            continue
        single = net.fold(F.one_hot(torch.tensor(i), len(ckpt["plan"]["slots"])).float())
        stylize = quality.NetStylizer(single, device, slot["name"], plan_of(ckpt).card_border())
        t0 = time.perf_counter()
        style_path = args.style_dir and Path(args.style_dir) / Path(slot["style"]).name
        style_rgb = read_image(style_path if style_path and style_path.is_file() else slot["style"])
        row = {"slot": slot["name"], "step": ckpt["step"], **quality.evaluate(stylize, ckpt["plan"]["variant"], meter, photos, style_rgb, frames, warp_meter)}
        row["eval_s"] = round(time.perf_counter() - t0, 1)
        rows.append(row)
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items() if k != "per_photo"}), flush=True)
    if args.out:
        with atomic_path(Path(args.out)) as tmp:
            tmp.write_text(json.dumps(rows, indent=1) + "\n")
    return rows


def plan_of(ckpt: dict) -> Plan:
    """The Plan a checkpoint was trained with (one from before border_margin trained, and resumes, without one)."""
    return Plan(**{"border_margin": 0, **ckpt["plan"], "slots": [Slot(**s) for s in ckpt["plan"]["slots"]]})


def export_slots(args: argparse.Namespace) -> list[Path]:
    """Fold chosen slots into single-style nets (.safetensors + model card), named as the user says."""
    ckpt = load_checkpoint(Path(args.workdir))
    net = net_from_checkpoint(ckpt)
    names = [s["name"] for s in ckpt["plan"]["slots"]]
    earlier = _read_history(args.history) if args.history else ckpt.get("history", [])
    phases = [*earlier, phase_record(ckpt)] if earlier else []
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in args.slot:
        style_name, _, slot_name = spec.partition("=")
        slot_name = slot_name or style_name
        if slot_name not in names:
            raise InputError(f"no slot '{slot_name}' in the checkpoint; slots: {', '.join(names)}")
        i = names.index(slot_name)
        slot = ckpt["plan"]["slots"][i]
        plan = {k: v for k, v in ckpt["plan"].items() if k != "slots"}
        card = {
            "name": style_name,
            "style_image": Path(slot["style"]).name,
            "style_sha256": sha256_file(slot["style"]) if Path(slot["style"]).is_file() else None,
            "hyperparameters": {**plan, **{k: v for k, v in slot.items() if k not in ("name", "style")},
                                "steps": ckpt["step"], "slot": slot_name, "slots_in_run": len(names)},
            "training": "train.multistyle (conditional instance norm, folded to a single-style net)",
            "loss_normalisation": "pytorch/examples (MSE of features; Gram / (C*H*W))",
            "steps": ckpt["step"],
            "training_seconds": round(float(ckpt["elapsed"]), 1),
            "hardware": ckpt.get("hardware", "?"),
            "date": time.strftime("%Y-%m-%d"),
            **({"data": ckpt["data"]} if "data" in ckpt else {}),
            **plan_of(ckpt).card_border(),
        }
        if phases:  # a continued run: the card counts every phase, and lists them
            card["steps"] = sum(int(p.get("steps") or 0) for p in phases)
            card["training_seconds"] = round(60 * sum(float(p.get("training_minutes") or 0) for p in phases), 1)
            card["schedule"] = phases
        out = out_dir / f"{style_name}.safetensors"
        save_style_model(out, net.fold(F.one_hot(torch.tensor(i), len(names)).float()), card)
        written.append(out)
        print(f"wrote {out} (slot {slot_name}, step {ckpt['step']})")
    return written


def _read_history(path: str) -> list[dict]:
    """--history FILE: the earlier phases of a run started from weights that lost them (moved at reduced precision)."""
    try:
        phases = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read --history {path}: {exc}") from None
    def valid(p) -> bool:  # steps may be null: a pytorch/examples net's card does not know them (as _init_from writes)
        return isinstance(p, dict) and "steps" in p and (p["steps"] is None or (isinstance(p["steps"], int) and p["steps"] > 0))

    if not isinstance(phases, list) or not all(valid(p) for p in phases):
        raise InputError(f"--history {path}: expected a JSON list of phases, each with its 'steps' (a count, or null)")
    return phases


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m train.multistyle", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train (or distil) a multi-style net")
    t.add_argument("--plan", help="JSON plan: slots (name, style, weights) and shared settings")
    t.add_argument("--data", required=True, help="folder tree of training photos")
    t.add_argument("--workdir", required=True, help="checkpoint folder")
    t.add_argument("--steps", type=int, required=True, help="total optimizer steps of the schedule")
    t.add_argument("--resume", action="store_true", help="continue from <workdir>/checkpoint.pt")
    t.add_argument("--init", help="start from a trained net: single-style file or multistyle workdir")
    t.add_argument("--teacher", help="multistyle workdir of a trained full net: distil it into --plan's (lite) variant")
    t.add_argument("--vgg", help="local VGG16 weights (default $STYLECAST_VGG or torchvision's URL)")
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    t.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"], help="autocast (auto: bf16 where the hardware has it)")
    t.add_argument("--threads", type=int)
    t.add_argument("--checkpoint-every", type=int, default=250)
    t.add_argument("--log-every", type=int, default=50)
    t.add_argument("--time-limit", type=float, help="seconds: checkpoint and stop before this much wall time")
    t.add_argument("--fit-schedule", action="store_true",
                   help="shorten --steps so the whole schedule (with its learning-rate decay) fits --time-limit, "
                        "from the pace of the first steps; the chosen count is printed (pass it to --resume)")
    t.add_argument("--stop-after", type=int, help="stop after N steps of this process (tests, time-boxed runs)")
    e = sub.add_parser("eval", help="quality figures of every slot")
    e.add_argument("--workdir", required=True)
    e.add_argument("--photos", required=True)
    e.add_argument("--video")
    e.add_argument("--frames", type=int, default=60)
    e.add_argument("--slots", nargs="*")
    e.add_argument("--style-dir", help="look for style images here first (runs moved between machines)")
    e.add_argument("--vgg")
    e.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    e.add_argument("--out")
    x = sub.add_parser("export", help="fold slots into single-style nets")
    x.add_argument("--workdir", required=True)
    x.add_argument("--slot", nargs="+", required=True, help="STYLE=SLOT (or SLOT): write STYLE.safetensors from SLOT")
    x.add_argument("--out-dir", required=True)
    x.add_argument("--history", help="JSON list of the phases before this run, for a run whose --init weights lacked "
                                     "them (the card's schedule then lists those phases and this run)")
    a = p.parse_args(argv)
    for name in ("steps", "checkpoint_every", "log_every"):
        if getattr(a, name, 1) is not None and getattr(a, name, 1) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    return a


@cli_entry
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.command == "train":
        train(args)
    elif args.command == "eval":
        evaluate_run(args)
    else:
        export_slots(args)


if __name__ == "__main__":
    main()
