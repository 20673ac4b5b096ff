"""Quality of the distilled lite styles beside the full nets they come from.

    python benchmarks/lite_quality.py [--size 512]

For each built-in `NAME-lite` and its teacher `NAME`, on every photo of ../shared/data/content (long
side --size), through the shipped ONNX files: the trainer's own perceptual losses (VGG16 relu2_2
content vs the photo, Gram style loss at relu1_2..relu4_3 vs the style image, pytorch/examples
normalisation, unweighted and weighted with the teacher's training weights), and the PSNR of the lite
output against the full net's. Lower losses are better; the lite net is trained to copy the full
net, not to minimise these, so "close to the full net" is the goal.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.common import SHARED, save, table  # noqa: E402
from runtime.catalog import load_catalogue  # noqa: E402
from runtime.engines import open_stylizer  # noqa: E402
from runtime.frames import cap_long_side, read_image, to_nchw  # noqa: E402
from train import losses  # noqa: E402
from train.vgg import build_vgg  # noqa: E402

CONTENT, STYLE = ["relu2_2"], ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@torch.no_grad()
def perceptual(vgg, photo: np.ndarray, styled: np.ndarray, grams: dict) -> tuple[float, float]:
    norm = losses.Normalisation.MEAN
    target = vgg(torch.from_numpy(to_nchw(photo)))
    feats = vgg(torch.from_numpy(to_nchw(styled)))
    content = sum(float(losses.content_loss(feats[l], target[l], norm)) for l in CONTENT)
    style = sum(float(losses.style_layer_loss(feats[l], grams[l], norm)) for l in STYLE)
    return content, style


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=512, help="long side of the test photos")
    p.add_argument("--vgg", type=Path, default=SHARED / "vgg" / "vgg16_features_imagenet_fp16.safetensors")
    a = p.parse_args()

    photos = [cap_long_side(read_image(f), a.size) for f in sorted((SHARED / "content").iterdir())]
    vgg = build_vgg(CONTENT + STYLE, "vgg16", a.vgg).eval()
    catalogue = {e["name"]: e for e in load_catalogue()}
    rows = []
    for name, entry in catalogue.items():
        teacher = entry["card"].get("distilled_from", {}).get("name")
        if teacher not in catalogue:
            continue
        style_rgb = cap_long_side(read_image(SHARED / "styles" / entry["card"]["style_image"]), 400)
        with torch.no_grad():
            grams = losses.style_targets([vgg(torch.from_numpy(to_nchw(style_rgb)))], [1.0], STYLE)
        hp = catalogue[teacher]["card"]["hyperparameters"]
        nets = {teacher: open_stylizer(teacher, backend="ort-cpu"), name: open_stylizer(name, backend="ort-cpu")}
        scores = {n: [] for n in nets}
        fidelity = []
        for photo in photos:
            outs = {n: net(photo) for n, net in nets.items()}
            fidelity.append(psnr(outs[name], outs[teacher]))
            for n, out in outs.items():
                scores[n].append(perceptual(vgg, photo, out, grams))
        for n in nets:
            content, style = np.mean(scores[n], axis=0)
            rows.append({"net": n, "content loss": content, "style loss": style,
                         "weighted total": hp["content_weight"] * content + hp["style_weight"] * style,
                         "PSNR vs full net (dB)": float(np.mean(fidelity)) if n == name else "-"})
    cols = ["net", "content loss", "style loss", "weighted total", "PSNR vs full net (dB)"]
    print(f"{len(photos)} photos of ../shared/data/content at long side {a.size}; VGG16 losses as train.fast computes them")
    print(table(rows, cols))
    print("wrote", save("lite_quality", {"size": a.size, "photos": len(photos), "rows": rows}))


if __name__ == "__main__":
    main()
