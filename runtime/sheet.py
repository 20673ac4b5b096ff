"""`stylevideo photo.jpg sheet.jpg --sheet`: the photo in every built-in style (or `--style a,b,c`), labelled,
on one contact sheet.

Why: choosing a style from names ("mosaic", "starry-lite") is guesswork; one picture of *your* photo in
each style, with the original first and each cell named as `--style` wants it, answers it at a glance.
Cells are small (--cell, default 320 px long side), so a sheet of every style takes seconds on a CPU.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from runtime import catalog
from runtime.errors import InputError, StylecastError
from runtime.files import check_output_dir
from runtime.frames import IMAGE_SUFFIXES, FrameOptions, read_image, resize_long_side, stylize_frames, write_image

MARGIN = 10
LABEL_H = 44
BACKGROUND = (245, 245, 242)
INK = (20, 20, 20)
FADED = (90, 90, 90)
FONT = cv2.FONT_HERSHEY_SIMPLEX


def sheet_styles(args: argparse.Namespace) -> list[str]:
    """The styles the sheet shows: --style a,b,c (names or model files), else every built-in style; checked
    now, so an unknown name is one line before any net runs."""
    specs = [s.strip() for s in (args.style or "").split(",") if s.strip()] or catalog.style_names()
    if getattr(args, "model", None):
        specs.append(args.model)
    if not specs:
        raise InputError("no built-in styles are installed; pass --style a,b or --model FILE")
    seen: list[str] = []
    for spec in specs:
        if not Path(spec).suffix and not Path(spec).exists():
            catalog.style_path(spec)  # InputError naming the built-in styles
        elif not Path(spec).is_file():
            raise InputError(f"model file not found: {spec}")
        if spec not in seen:
            seen.append(spec)
    return seen


def label_for(spec: str) -> tuple[str, str]:
    """(the name to pass to --style, the painting and artist) for a cell's caption."""
    for entry in catalog.load_catalogue():
        if entry["name"] == spec:
            artist = entry.get("artist", "")
            title = entry.get("title", spec)
            return spec, f"{title}, {artist}" if artist and not artist.startswith(spec.split("-")[0] + ".jpg") else title
    return Path(spec).stem, Path(spec).name


def _fit_text(text: str, width: int, scale: float, thickness: int) -> str:
    """The text, cut with '...' until it fits `width` pixels (OpenCV's fonts do not wrap)."""
    if cv2.getTextSize(text, FONT, scale, thickness)[0][0] <= width:
        return text
    while text and cv2.getTextSize(text + "...", FONT, scale, thickness)[0][0] > width:
        text = text[:-1]
    return text.rstrip(" ,") + "..."


def contact_sheet(cells: list[tuple[np.ndarray, str, str]], columns: int | None = None) -> np.ndarray:
    """Lay out (RGB image, caption, sub-caption) cells on a grid (all images the same size), captions below
    each: an RGB uint8 sheet. columns default to a near-square grid."""
    if not cells:
        raise StylecastError("a contact sheet needs at least one picture")
    h, w = cells[0][0].shape[:2]
    cols = columns or math.ceil(math.sqrt(len(cells)))
    rows = math.ceil(len(cells) / cols)
    sheet = np.empty((MARGIN + rows * (h + LABEL_H + MARGIN), MARGIN + cols * (w + MARGIN), 3), np.uint8)
    sheet[:] = BACKGROUND
    for i, (image, caption, sub) in enumerate(cells):
        r, c = divmod(i, cols)
        y, x = MARGIN + r * (h + LABEL_H + MARGIN), MARGIN + c * (w + MARGIN)
        sheet[y:y + h, x:x + w] = image
        cv2.putText(sheet, _fit_text(caption, w, 0.6, 2), (x, y + h + 20), FONT, 0.6, INK, 2, cv2.LINE_AA)
        if sub:
            cv2.putText(sheet, _fit_text(sub, w, 0.42, 1), (x, y + h + 38), FONT, 0.42, FADED, 1, cv2.LINE_AA)
    return sheet


def render(photo: np.ndarray, specs: list[str], args: argparse.Namespace, cell: int) -> tuple[np.ndarray, list[str]]:
    """The sheet for these styles, and the backend each ran on."""
    from runtime.engines import open_stylizer

    small = resize_long_side(photo, cell) if max(photo.shape[:2]) > cell else photo
    opts = FrameOptions(None, args.strength, args.preserve_color)
    cells = [(small, "original", f"{photo.shape[1]}x{photo.shape[0]}")]
    backends: list[str] = []
    device = getattr(args, "device", "cpu")
    extra = {"device": device} if device != "cpu" else {}
    for spec in specs:
        net = open_stylizer(spec, args.backend, args.threads, announce=lambda _m: None, precision=args.precision, **extra)
        cells.append((stylize_frames(net, small[None], opts)[0], *label_for(spec)))
        backends.append(net.backend)
    return contact_sheet(cells), backends


def run_sheet(args: argparse.Namespace) -> dict:
    """stylevideo IN OUT --sheet (or --style a,b,c): checks, render, atomic write, a one-line summary."""
    src, dst = Path(args.input), Path(args.output)
    if src.suffix.lower() not in IMAGE_SUFFIXES or src.is_dir():
        raise InputError(f"a contact sheet is made from one photo ({', '.join(IMAGE_SUFFIXES)}), got {src.name}"
                         + ("" if args.sheet else "; several --style names make a sheet"))
    if dst.suffix.lower() not in IMAGE_SUFFIXES:
        raise InputError(f"the contact sheet is an image: give OUT as .jpg or .png, got {dst.name}")
    if not src.is_file():
        raise InputError(f"input not found: {src}")
    if src.resolve() == dst.resolve():
        raise InputError("output would overwrite the input")
    check_output_dir(dst)
    specs = sheet_styles(args)
    photo = read_image(src)
    t0 = time.perf_counter()
    sheet, backends = render(photo, specs, args, getattr(args, "cell", 320))
    write_image(dst, sheet)
    secs = time.perf_counter() - t0
    backend = backends[0] if len(set(backends)) == 1 else ", ".join(sorted(set(backends)))
    print(f"{dst}: contact sheet of {len(specs)} style{'s' if len(specs) > 1 else ''} ({sheet.shape[1]}x{sheet.shape[0]}) "
          f"in {secs:.1f} s, backend {backend}", file=sys.stderr)
    return {"frames": len(specs), "seconds": secs, "fps": len(specs) / max(secs, 1e-9), "audio": "none",
            "backend": backend, "output": str(dst), "styles": specs}
