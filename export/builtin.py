"""`python -m export.builtin WEIGHTS.safetensors ...`: (re)build the built-in styles shipped in runtime/styles.

Each trained net becomes runtime/styles/NAME.onnx (float16 weights, float32 compute, parity- and
PSNR-checked by export.onnx) and an entry of runtime/styles/styles.json with its model card.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from export.onnx import export
from runtime.catalog import CATALOGUE, STYLES_DIR, load_catalogue
from runtime.errors import cli_entry
from runtime.files import atomic_path, sha256_file
from train.model_io import load_style_model

# Where each style image comes from (the paintings before 1956 are public domain).
SOURCES = {
    "starry": {"title": "The Starry Night", "artist": "Vincent van Gogh, 1889"},
    "mosaic": {"title": "Mosaic", "artist": "mosaic.jpg of pytorch/examples fast_neural_style (BSD-3)"},
    "candy": {"title": "Candy", "artist": "candy.jpg of pytorch/examples fast_neural_style (BSD-3)"},
    "udnie": {"title": "Udnie (Young American Girl, The Dance)", "artist": "Francis Picabia, 1913"},
    "wave": {"title": "The Great Wave off Kanagawa", "artist": "Katsushika Hokusai, c. 1831"},
    "scream": {"title": "The Scream", "artist": "Edvard Munch, 1893"},
    "composition-vii": {"title": "Composition VII", "artist": "Wassily Kandinsky, 1913"},
    "feathers": {"title": "Feathers", "artist": "feathers.jpg of jcjohnson/fast-neural-style"},
}


def build(weights: list[Path]) -> list[dict]:
    entries = {e["name"]: e for e in load_catalogue()}
    for w in weights:
        _, card = load_style_model(w)
        name = card.get("name", w.stem)
        dst = STYLES_DIR / f"{name}.onnx"
        report = export(w, dst, fp16_weights=True)
        entries[name] = {"name": name, "file": dst.name, "sha256": sha256_file(dst), "bytes": dst.stat().st_size,
                         **SOURCES.get(name.removesuffix("-lite"), {"title": name, "artist": "unknown"}),
                         "variant": card.get("arch", {}).get("variant", "johnson"),
                         "export": {"precision": report["precision"], "psnr_vs_fp32_db": round(report["psnr_vs_fp32_db"], 1),
                                    "parity_max_abs_err": max(r["max_abs_err"] for r in report["parity"])},
                         "card": card}
    ordered = sorted(entries.values(), key=lambda e: e["name"])
    with atomic_path(CATALOGUE) as tmp:
        tmp.write_text(json.dumps({"format": "stylecast-styles/1", "styles": ordered}, indent=2) + "\n")
    return ordered


@cli_entry
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m export.builtin", description=__doc__.splitlines()[0])
    p.add_argument("weights", nargs="+", type=Path, help="trained style nets (.safetensors with model cards)")
    a = p.parse_args(argv)
    for e in build(a.weights):
        print(f"{e['name']}: {e['file']} ({e['bytes'] / 1e6:.2f} MB), {e['card'].get('steps') or e['card'].get('hyperparameters', {}).get('steps', '?')} steps")


if __name__ == "__main__":
    main()
