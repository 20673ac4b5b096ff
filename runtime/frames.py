"""Pre/post-processing in one place.

Conventions (DESIGN.md): images are RGB uint8 HxWx3 at the edges of the system and float32
NCHW in [0, 255] inside models. OpenCV speaks BGR, so every cv2 read/write goes through here.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, NamedTuple, Sequence

import cv2
import numpy as np

from runtime.errors import InputError
from runtime.files import atomic_path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
PAD_MULTIPLE = 8  # the Johnson net downsamples twice by 2, the lite net three times
# smaller frames are edge-padded to this side and cropped back: the nets' reflection padding needs
# every feature map (1/8 size for the lite net) wider than the pad
MIN_SIDE = 64


def bgr_to_rgb(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def rgb_to_bgr(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2BGR)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read any image file as RGB uint8 HxWx3 (greyscale and alpha are converted), or raise InputError."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"file not found: {p}")
    if p.is_dir():
        raise InputError(f"expected an image file, got a folder: {p}")
    data = np.fromfile(p, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise InputError(f"not a readable image: {p}")
    return bgr_to_rgb(image)


def write_image(path: str | os.PathLike, rgb: np.ndarray) -> None:
    """Write an RGB uint8 image atomically (temp file + rename); the suffix picks the format."""
    suffix = Path(path).suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise InputError(f"unsupported image format '{suffix or '(none)'}' for {path}; use one of {', '.join(IMAGE_SUFFIXES)}")
    ok, encoded = cv2.imencode(suffix, rgb_to_bgr(rgb))
    if not ok:
        raise InputError(f"could not encode image as {suffix}: {path}")
    with atomic_path(path) as tmp:
        encoded.tofile(tmp)


def resize_long_side(rgb: np.ndarray, long_side: int | None) -> np.ndarray:
    """Scale so that max(H, W) == long_side (area filter when shrinking); None keeps the size."""
    if not long_side:
        return rgb
    h, w = rgb.shape[:2]
    scale = long_side / max(h, w)
    if scale == 1:
        return rgb
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def cap_long_side(rgb: np.ndarray, max_size: int | None) -> np.ndarray:
    """Shrink only: keep images whose long side is already <= max_size."""
    if max_size and max(rgb.shape[:2]) > max_size:
        return resize_long_side(rgb, max_size)
    return rgb


def resize_to(rgb: np.ndarray, height: int, width: int) -> np.ndarray:
    if rgb.shape[:2] == (height, width):
        return rgb
    shrink = height * width < rgb.shape[0] * rgb.shape[1]
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


CHECK_SIZES = ((256, 256), (360, 640))  # (H, W) of the photo batches that parity and fidelity checks run


def photo_batches(images: Iterable[str | os.PathLike], sizes: Sequence[tuple[int, int]] = CHECK_SIZES) -> list[np.ndarray]:
    """NCHW float32 batches of real photos resized to each (H, W), the way the runtime feeds them: the common
    input of export.onnx's parity check, the TensorRT fidelity gate and the fp16 graph's gate."""
    photos = [read_image(p) for p in images]
    return [to_nchw(np.stack([resize_to(p, h, w) for p in photos])) for h, w in sizes]


def to_nchw(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 HxWx3 (or NxHxWx3) -> float32 NCHW in [0, 255], contiguous."""
    batch = rgb[None] if rgb.ndim == 3 else rgb
    return np.ascontiguousarray(batch.transpose(0, 3, 1, 2), dtype=np.float32)


def from_nchw(nchw: np.ndarray) -> np.ndarray:
    """float NCHW in [0, 255] -> contiguous RGB uint8 NxHxWx3, rounded and clipped (NaN becomes 0).

    OpenCV's saturating conversion per plane, then one interleave: 6x faster than numpy's
    clip/round/astype/transpose on a 640x360 frame (profiled: it was the largest post-processing cost).
    """
    arr = np.asarray(nchw, dtype=np.float32)
    if not np.isfinite(arr.sum()):
        arr = np.nan_to_num(arr, nan=0.0, posinf=255.0, neginf=0.0)
    out = np.empty((arr.shape[0], arr.shape[2], arr.shape[3], arr.shape[1]), np.uint8)
    for n in range(arr.shape[0]):
        out[n] = cv2.merge([cv2.add(plane, 0.0, dtype=cv2.CV_8U) for plane in arr[n]])
    return out


class Window(NamedTuple):
    """Where the original frame lies inside a padded one: its size, and the rows/columns added above/left of it."""

    height: int
    width: int
    top: int = 0
    left: int = 0


def pad_amounts(height: int, width: int, multiple: int = PAD_MULTIPLE, margin: int = 0, lead: int = 0) -> tuple[int, int]:
    """Rows and columns to add at the bottom/right: at least `margin`, up to the next multiple (counting `lead`
    rows/columns added at the top/left)."""
    return margin + (-(height + lead + margin)) % multiple, margin + (-(width + lead + margin)) % multiple


def pad_to_multiple(nchw: np.ndarray, multiple: int = PAD_MULTIPLE, margin: int = 0, lead: int = 0) -> tuple[np.ndarray, Window]:
    """Reflect-pad so H and W are multiples of `multiple`: `lead` rows/columns at the top/left, at least `margin`
    at the bottom/right; returns (padded, where the frame lies). Margins keep a net's border artefacts off the frame."""
    h, w = nchw.shape[2:]
    ph, pw = pad_amounts(h, w, multiple, margin, lead)
    if lead or ph or pw:
        mode = "reflect" if h > max(ph, lead) and w > max(pw, lead) else "edge"
        nchw = np.pad(nchw, ((0, 0), (0, 0), (lead, ph), (lead, pw)), mode=mode)
    return nchw, Window(h, w, lead, lead)


def crop_to(nchw: np.ndarray, size: tuple[int, ...]) -> np.ndarray:
    """The frame back out of a padded array: `size` is a Window or (height, width) at the top-left."""
    h, w, top, left = (*size, 0, 0)[:4]
    return nchw[:, :, top: top + h, left: left + w]


def blend_strength(styled: np.ndarray, original: np.ndarray, strength: float) -> np.ndarray:
    """Linear blend of uint8 images: strength 1 = fully styled, 0 = the input."""
    if strength >= 1:
        return styled
    if strength <= 0:
        return original
    return cv2.addWeighted(styled, float(strength), original, 1.0 - float(strength), 0.0)


def preserve_color(styled: np.ndarray, original: np.ndarray) -> np.ndarray:
    """Luminance-only transfer: the stylized image's Y with the original's Cr/Cb (same size, RGB uint8)."""
    y = cv2.cvtColor(styled, cv2.COLOR_RGB2YCrCb)
    c = cv2.cvtColor(original, cv2.COLOR_RGB2YCrCb)
    c[..., 0] = y[..., 0]
    return cv2.cvtColor(c, cv2.COLOR_YCrCb2RGB)


class FrameOptions:
    """What happens around the network: --max-size (cap the long side, scale back), --strength, --preserve-color."""

    def __init__(self, max_size: int | None = None, strength: float = 1.0, keep_color: bool = False):
        if not 0.0 <= strength <= 1.0:
            raise InputError(f"--strength must be within 0..1, got {strength}")
        if max_size is not None and max_size < 16:
            raise InputError(f"--max-size must be >= 16, got {max_size}")
        self.max_size = max_size
        self.strength = strength
        self.keep_color = keep_color


def _run_padded(net, frames: np.ndarray) -> np.ndarray:
    """net(frames), with frames smaller than MIN_SIDE edge-padded for the net and cropped back."""
    h, w = frames.shape[1:3]
    if min(h, w) >= MIN_SIDE:
        return net(frames)
    padded = np.pad(frames, ((0, 0), (0, max(0, MIN_SIDE - h)), (0, max(0, MIN_SIDE - w)), (0, 0)), mode="edge")
    return np.ascontiguousarray(net(padded)[:, :h, :w])


def stylize_frames(net, frames: np.ndarray, opts: FrameOptions) -> np.ndarray:
    """RGB uint8 NxHxWx3 (same size) -> stylized, same shape. `net` maps NxhxWx3 uint8 -> same (a Stylizer)."""
    h, w = frames.shape[1:3]
    if opts.max_size and max(h, w) > opts.max_size:
        small = np.stack([cap_long_side(f, opts.max_size) for f in frames])
        styled = np.stack([resize_to(s, h, w) for s in _run_padded(net, small)])
    else:
        styled = _run_padded(net, frames)
    if opts.keep_color:
        styled = np.stack([preserve_color(s, f) for s, f in zip(styled, frames)])
    if opts.strength < 1.0:
        styled = np.stack([blend_strength(s, f, opts.strength) for s, f in zip(styled, frames)])
    return styled


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB of two arrays on the 0-255 scale (inf when identical; NaN anywhere gives -inf)."""
    a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if not (np.isfinite(a64).all() and np.isfinite(b64).all()):
        return float("-inf")
    mse = float(np.mean((a64 - b64) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(peak * peak / mse)
