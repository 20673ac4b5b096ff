"""Sample inputs shipped with the package, so the first command needs no files of the user's.

- coffee.jpg: "Coffee cup", photo by Rachel Michetti, CC0, from scikit-image 0.26 (skimage/data/coffee.png).
- chelsea.jpg: "Chelsea the cat", photo by Stefan van der Walt, CC0, from scikit-image 0.26 (skimage/data/chelsea.png).
- clip.mp4: made by make_clip.py from chelsea.jpg (a slow pan and zoom, 3 s at 24 fps) with a generated tone as AAC audio.
"""
from __future__ import annotations

from pathlib import Path

SAMPLES = Path(__file__).resolve().parent


def sample_images() -> list[Path]:
    return [SAMPLES / "coffee.jpg", SAMPLES / "chelsea.jpg"]


def sample_clip() -> Path:
    return SAMPLES / "clip.mp4"
