"""Training photos: any folder tree of images, random rescaled crops with flips, corrupt files skipped.

Sample k of a run is drawn from an RNG seeded by (seed, k), so a resumed run sees exactly the
images and crops the uninterrupted run would have seen, with any number of loader workers.
"""
from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from runtime.errors import InputError, StylecastError
from runtime.frames import IMAGE_SUFFIXES, read_image, resize_to, to_nchw


def list_images(root: str | os.PathLike) -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"photo folder not found: {root}")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise InputError(f"no images ({', '.join(IMAGE_SUFFIXES)}) under {root}")
    return files


def random_crop(rgb: np.ndarray, size: int, rng: np.random.Generator, max_zoom: float = 1.25) -> np.ndarray:
    """Resize so the short side is size*U(1, max_zoom), take a random size x size crop, flip half the time."""
    h, w = rgb.shape[:2]
    short = size * rng.uniform(1.0, max_zoom)
    scale = short / min(h, w)
    nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
    rgb = resize_to(rgb, nh, nw)
    y = int(rng.integers(0, nh - size + 1))
    x = int(rng.integers(0, nw - size + 1))
    crop = rgb[y : y + size, x : x + size]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return np.ascontiguousarray(crop)


class PhotoCrops(Dataset):
    """Index k -> a deterministic random crop (float32 CHW, RGB 0-255) for global sample number k."""

    def __init__(self, root: str | os.PathLike, image_size: int, seed: int = 0, length: int | None = None):
        self.files = list_images(root)
        self.image_size = image_size
        self.seed = seed
        self.length = length or len(self.files)
        self._bad: set[Path] = set()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, k: int) -> torch.Tensor:
        rng = np.random.default_rng([self.seed, int(k)])
        for _ in range(32):
            path = self.files[int(rng.integers(len(self.files)))]
            if path in self._bad:
                continue
            try:
                rgb = read_image(path)
            except InputError:
                self._bad.add(path)
                warnings.warn(f"skipping unreadable image {path}", stacklevel=2)
                continue
            return torch.from_numpy(to_nchw(random_crop(rgb, self.image_size, rng))[0])
        raise StylecastError(f"too many unreadable images under the photo folder (last: {path})")
