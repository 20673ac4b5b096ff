"""How good a style net is, in numbers: style distance, content distance and flicker (issue 11's metric).

- style distance: over VGG16 relu1_2, relu2_2, relu3_3, relu4_3, the mean of
  ``||G(out) - G(style)||_F / ||G(style)||_F`` with Gram matrices divided by C*H*W; median over photos.
  The style image is taken at the photos' long side (EVAL_LONG_SIDE) so both Grams see one texture scale.
- content distance: mean over relu2_2 and relu3_3 of ``||F(out) - F(photo)||_2 / sqrt(numel)`` on
  torchvision-normalised inputs; median over photos.
- flicker: the warping error (mean absolute difference, occlusions masked by a forward-backward flow
  check, flow computed on the source) of the stylized frames over that of the source frames; per-frame,
  and after the runtime's default temporal smoothing.

One module for the benchmark (benchmarks/quality.py), the gate of export.builtin and training-time
evaluation, so the numbers users read in styles.json are the numbers the gate checked.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np
import torch

from runtime.engines import Stylizer
from runtime.errors import InputError
from runtime.frames import cap_long_side, read_image
from runtime.media import FLICKER_FRAMES, read_video_frames  # noqa: F401 (re-exported: callers read the gate's clip here)
from runtime.gate import GATE
from runtime.temporal import TemporalSmoother, WarpingError
from train.losses import relative_gram_distance
from train.vgg import build_vgg

STYLE_LAYERS = ("relu1_2", "relu2_2", "relu3_3", "relu4_3")
CONTENT_LAYERS = ("relu2_2", "relu3_3")
EVAL_LONG_SIDE = 512

Stylize = Callable[[np.ndarray], np.ndarray]  # RGB uint8 HxWx3 -> RGB uint8 HxWx3


def default_vgg_path() -> str | None:
    """$STYLECAST_VGG, else the project's shared copy when it is there (developer machines, CI)."""
    env = os.environ.get("STYLECAST_VGG")
    if env:
        return env
    shared = Path(__file__).resolve().parents[2] / "shared/data/vgg/vgg16_features_imagenet_fp16.safetensors"
    return str(shared) if shared.is_file() else None


class QualityMeter:
    """VGG16 features for the distances; one instance serves many nets and photos."""

    def __init__(self, vgg_path: str | None = None, device: str | torch.device = "cpu"):
        self.device = torch.device(device)
        self.vgg = build_vgg(sorted(set(STYLE_LAYERS) | set(CONTENT_LAYERS)), "vgg16", vgg_path or default_vgg_path()).to(self.device)

    @torch.no_grad()
    def features(self, rgb: np.ndarray) -> dict[str, torch.Tensor]:
        x = torch.from_numpy(np.ascontiguousarray(rgb)).to(self.device).permute(2, 0, 1)[None].float()
        return {k: v.float() for k, v in self.vgg(x).items()}

    @staticmethod
    def gram(feat: torch.Tensor) -> torch.Tensor:
        _, c, h, w = feat.shape
        flat = feat.reshape(c, h * w)
        return flat @ flat.T / (c * h * w)

    def style_grams(self, style_rgb: np.ndarray) -> dict[str, torch.Tensor]:
        feats = self.features(cap_long_side(style_rgb, EVAL_LONG_SIDE))
        return {layer: self.gram(feats[layer]) for layer in STYLE_LAYERS}

    def distances(self, photo: np.ndarray, out: np.ndarray, grams: Mapping[str, torch.Tensor]) -> tuple[float, float]:
        """(style distance, content distance) of one stylized photo."""
        style, content = self.feature_distances(self.features(out), self.features(photo), grams)
        return float(style), float(content)

    @classmethod
    def feature_distances(cls, out_feats: Mapping[str, torch.Tensor], photo_feats: Mapping[str, torch.Tensor],
                          grams: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """The metric on VGG features, as tensors: differentiable in out_feats, so an optimizer can descend
        the very numbers the gate reads (benchmarks/gate_frontier.py) instead of a copy that may drift."""
        style = torch.stack([relative_gram_distance(cls.gram(out_feats[l].float())[None], grams[l][None])[0] for l in STYLE_LAYERS]).mean()
        content = torch.stack([torch.linalg.norm(out_feats[l].float() - photo_feats[l]) / np.sqrt(photo_feats[l].numel())
                               for l in CONTENT_LAYERS]).mean()
        return style, content

    def photo_scores(self, stylize: Stylize, photos: Sequence[np.ndarray], style_rgb: np.ndarray) -> dict:
        """Median style and content distance of a net over photos (each capped to EVAL_LONG_SIDE)."""
        grams = self.style_grams(style_rgb)
        per = [self.distances(p, stylize(p), grams) for p in (cap_long_side(p, EVAL_LONG_SIDE) for p in photos)]
        return {"style": float(np.median([s for s, _ in per])), "content": float(np.median([c for _, c in per])),
                "per_photo": [{"style": round(s, 4), "content": round(c, 4)} for s, c in per]}


def load_photos(folder: str | os.PathLike) -> list[np.ndarray]:
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not paths:
        raise InputError(f"no photos (.jpg/.png) in {folder}")
    return [cap_long_side(read_image(p), EVAL_LONG_SIDE) for p in paths]


def flicker(stylize: Stylize, sources: Sequence[np.ndarray], meter: WarpingError | None = None) -> dict:
    """Per-frame and smoothed warping error of a net, as multiples of the source clip's own."""
    meter = meter or WarpingError(sources)
    styled = [stylize(f) for f in sources]
    smoother = TemporalSmoother()
    smoothed = [smoother(s, y) for s, y in zip(sources, styled)]
    return {"flicker": meter.ratio(styled), "flicker_smoothed": meter.ratio(smoothed), "source_warp_error": meter.source}


def gate_failures(scores: Mapping[str, float], variant: str, keys: Sequence[str] | None = None) -> list[str]:
    """The gate's verdict: one 'name value > limit' string per figure over its limit (empty = passes).
    keys: judge only these figures (e.g. the photo distances, where flicker was not measured)."""
    limits = GATE["lite" if variant == "lite" else "johnson"]
    failures = []
    for key, limit in limits.items():
        if keys is not None and key not in keys:
            continue
        value = scores.get(key)
        if value is None:
            failures.append(f"{key} not measured")
        elif not np.isfinite(value) or value > limit:
            failures.append(f"{key} {value:.3f} > {limit}")
    return failures


class NetStylizer(Stylizer):
    """A torch transform net in memory, behind the runtime's Stylizer interface (padding, uint8 conversion)."""

    backend = "torch (in memory)"

    def __init__(self, net: torch.nn.Module, device: str | torch.device = "cpu", name: str = "net", card: dict | None = None):
        self.device = torch.device(device)
        self.net = net.eval().to(self.device)
        self.name = name
        # the net's arch and its model card's border fields: a lite net is measured as the runtime runs it (border margin)
        self.card = {**({"arch": net.arch()} if hasattr(net, "arch") else {}), **(card or {})}

    @torch.no_grad()
    def run_nchw(self, x: np.ndarray) -> np.ndarray:
        return self.net(torch.from_numpy(x).to(self.device)).float().cpu().numpy()


def evaluate(stylize: Stylize, variant: str, meter: QualityMeter, photos: Sequence[np.ndarray], style_rgb: np.ndarray,
             frames: Sequence[np.ndarray] | None = None, warp_meter: WarpingError | None = None) -> dict:
    """All figures of one net plus the gate's verdict. Flicker is measured for every net (users watch lite nets on
    webcams and videos too) but limited by the gate for full nets only (issue 11's rule: GATE has no lite limit)."""
    scores = meter.photo_scores(stylize, photos, style_rgb)
    if frames is not None:
        scores.update(flicker(stylize, frames, warp_meter))
    scores["variant"] = variant
    scores["gate_failures"] = gate_failures(scores, variant)
    scores["passes"] = not scores["gate_failures"]
    return scores
