"""Make the README's pictures from the tool's own outputs (docs/*.jpg).

python benchmarks/figures.py styles          # each built-in style: style image, two stylized sample photos
python benchmarks/figures.py gatys C S R ... # rows of content | style | result triples
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import ROOT, SHARED  # noqa: E402
from runtime import catalog  # noqa: E402
from runtime.engines import open_stylizer  # noqa: E402
from runtime.frames import read_image, resize_to, write_image  # noqa: E402
from runtime.samples import sample_images  # noqa: E402

HEIGHT = 220


def _row(images: list[np.ndarray]) -> np.ndarray:
    scaled = [resize_to(i, HEIGHT, max(1, round(i.shape[1] * HEIGHT / i.shape[0]))) for i in images]
    gap = np.full((HEIGHT, 6, 3), 255, np.uint8)
    parts = []
    for s in scaled:
        parts += [s, gap]
    return np.concatenate(parts[:-1], 1)


def _stack(rows: list[np.ndarray]) -> np.ndarray:
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, 6), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    return np.concatenate(padded, 0)[:-6]


def styles_figure(out: Path) -> None:
    rows = []
    for entry in catalog.load_catalogue():
        net = open_stylizer(entry["name"], "ort-cpu", announce=lambda m: None)
        style_img = SHARED / "styles" / entry["card"]["style_image"]
        photos = [read_image(p) for p in sample_images()]
        row = ([read_image(style_img)] if style_img.is_file() else []) + [net(p) for p in photos]
        rows.append(_row(row))
    write_image(out, _stack(rows))


def gatys_figure(out: Path, triples: list[str]) -> None:
    rows = [_row([read_image(p) for p in triples[i : i + 3]]) for i in range(0, len(triples), 3)]
    write_image(out, _stack(rows))


if __name__ == "__main__":
    kind = sys.argv[1]
    if kind == "styles":
        styles_figure(ROOT / "docs" / "builtin_styles.jpg")
    elif kind == "gatys":
        gatys_figure(ROOT / "docs" / "gatys.jpg", sys.argv[2:])
    else:
        raise SystemExit(__doc__)
