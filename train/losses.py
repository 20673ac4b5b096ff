"""Perceptual losses, written once for Gatys stills and fast-net training.

Two normalisations of the same losses, chosen by a parameter:
- ``PAPER`` (Gatys et al. 2016): content ``1/2 * sum((F - P)^2)``; style per layer
  ``1/(4 N^2 M^2) * sum((G - A)^2)`` with raw Gram matrices, N channels, M = H*W.
- ``MEAN`` (pytorch/examples fast_neural_style): mean squared errors of features and of
  Grams divided by C*H*W, averaged over the batch.

Style targets are stored per position (Gram / M) so a style image of any size is comparable:
in PAPER mode the target is scaled back to the generated image's M, which is exactly the
paper's A for a style image of the output's size.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Mapping, Sequence

import torch
import torch.nn.functional as F


class Normalisation(str, Enum):
    PAPER = "paper"
    MEAN = "mean"


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """Raw Gram matrix per batch item: (B, C, H, W) -> (B, C, C), G_ij = sum_k F_ik F_jk."""
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2)


def gram_per_position(features: torch.Tensor) -> torch.Tensor:
    """Gram / M: the size-independent form used as a style target."""
    return gram_matrix(features) / (features.shape[2] * features.shape[3])


def relative_gram_distance(gram: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """||G - A||_F / ||A||_F per batch item, (B, C, C) -> (B,): the quality metric's per-layer style distance
    (both Grams under the same normalisation, which the ratio then cancels)."""
    return torch.linalg.norm(gram - target, dim=(1, 2)) / torch.linalg.norm(target, dim=(1, 2)).clamp_min(1e-8)


def content_loss(generated: torch.Tensor, target: torch.Tensor, norm: Normalisation) -> torch.Tensor:
    if norm is Normalisation.PAPER:
        return 0.5 * (generated - target).pow(2).sum()
    return F.mse_loss(generated, target)


def style_layer_loss(generated: torch.Tensor, target_per_position: torch.Tensor, norm: Normalisation) -> torch.Tensor:
    """Style loss of one layer; target_per_position is (C, C) or (B, C, C)."""
    _, c, h, w = generated.shape
    m = h * w
    gram = gram_matrix(generated)
    target = target_per_position.expand_as(gram)
    if norm is Normalisation.PAPER:
        # 1/(4 N^2 M^2) sum (G - A)^2, scaled before squaring so Caffe-scale features cannot overflow float32
        return ((gram - target * m) / (2.0 * c * m)).pow(2).sum()
    return F.mse_loss(gram / (c * m), target / c)


def tv_loss(image: torch.Tensor, norm: Normalisation) -> torch.Tensor:
    """Squared total variation (sum in PAPER mode, mean per pixel in MEAN mode)."""
    dy = (image[:, :, 1:, :] - image[:, :, :-1, :]).pow(2)
    dx = (image[:, :, :, 1:] - image[:, :, :, :-1]).pow(2)
    if norm is Normalisation.PAPER:
        return dy.sum() + dx.sum()
    return dy.mean() + dx.mean()


@dataclass
class LossWeights:
    content: float
    style: float
    tv: float = 0.0


@dataclass
class LossTerms:
    content: torch.Tensor
    style: torch.Tensor
    tv: torch.Tensor
    total: torch.Tensor
    per_layer: dict[str, torch.Tensor] = field(default_factory=dict)

    def as_floats(self) -> dict[str, float]:
        return {"content": float(self.content), "style": float(self.style), "tv": float(self.tv), "total": float(self.total)}


def border_band_ratios(image: torch.Tensor, width: int) -> torch.Tensor:
    """(N, 4, width): the high-frequency energy of each of the outer `width` rows/columns at the top, bottom, left
    and right (line k = k-th from the edge) over the interior's (grey level minus its 5x5 box blur). Per line, so
    a band a few pixels wide reads as strongly as a wide one; the interior is a constant (only the borders get a
    gradient)."""
    grey = image.float().mean(dim=1, keepdim=True)
    hf = (grey[..., 2:-2, 2:-2] - F.avg_pool2d(grey, 5, stride=1)).abs()[:, 0]
    inner = hf[:, width:-width, width:-width].mean(dim=(1, 2)).detach().clamp_min(1e-3)
    rows, cols = hf.mean(dim=2), hf.mean(dim=1)  # (N, H), (N, W)
    sides = torch.stack([rows[:, :width], rows.flip(1)[:, :width], cols[:, :width], cols.flip(1)[:, :width]], dim=1)
    return sides / inner[:, None, None]


def border_band_excess(styled: torch.Tensor, photo: torch.Tensor, width: int, tolerance: float = 1.5) -> torch.Tensor:
    """Per item: the squared excess of the styled image's border-to-interior energy ratio, line by line, over the
    photo's own ratio on that line (or `tolerance`, whichever is larger), averaged over the lines of a side and
    summed over the four sides. A style loss counts a band of noise along a border as texture, and a net finds
    its borders (or the border of the scored crop) however much photo lies beyond them; this term makes such a
    band cost instead of pay."""
    with torch.no_grad():
        allowed = border_band_ratios(photo, width).clamp_min(tolerance)
    return F.relu(border_band_ratios(styled, width) - allowed).pow(2).mean(dim=2).sum(dim=1)


def style_targets(features: Sequence[Mapping[str, torch.Tensor]], blend: Sequence[float], layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """Blend several style images' per-position Grams with weights (normalised to sum 1) -> {layer: (C, C)}."""
    total = float(sum(blend))
    if total <= 0:
        raise ValueError("style blend weights must sum to a positive number")
    out = {}
    for layer in layers:
        out[layer] = sum((w / total) * gram_per_position(f[layer]).mean(0) for f, w in zip(features, blend))
    return out


def perceptual_loss(
    feats: Mapping[str, torch.Tensor],
    image: torch.Tensor,
    content_targets: Mapping[str, torch.Tensor],
    grams: Mapping[str, torch.Tensor],
    style_layer_weights: Mapping[str, float],
    weights: LossWeights,
    norm: Normalisation,
) -> LossTerms:
    """alpha * content + beta * style + tv_weight * TV, with the unweighted terms kept for logging."""
    zero = image.new_zeros(())
    content = sum((content_loss(feats[l], t, norm) for l, t in content_targets.items()), zero)
    per_layer = {l: style_layer_loss(feats[l], grams[l], norm) for l in grams}
    style = sum((style_layer_weights.get(l, 1.0) * v for l, v in per_layer.items()), zero)
    tv = tv_loss(image, norm) if weights.tv else zero
    total = weights.content * content + weights.style * style + weights.tv * tv
    return LossTerms(content, style, tv, total, per_layer)
