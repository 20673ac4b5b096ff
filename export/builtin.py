"""`python -m export.builtin WEIGHTS.safetensors ...`: (re)build the built-in styles shipped in runtime/styles.

A net is installed only if it passes the quality gate of train.quality (issue 11): style and content
distance on ../shared/data/content photos, and for full nets the per-frame and smoothed flicker on a
video; a net that fails is refused with its numbers and nothing is written. A passing net becomes
runtime/styles/NAME.onnx (float16 weights, float32 compute, parity- and PSNR-checked by export.onnx) and
an entry of runtime/styles/styles.json with its model card and its measured figures.

`--replace-legacy`: a built-in flagged legacy (it predates the gate and fails it, kept because people name it)
may be replaced by a net that still fails the gate, but only by one that measures no worse on any of the
gate's figures than the legacy net's recorded ones; it stays flagged, with the figures it replaced.
"""
from __future__ import annotations

import argparse
import datetime
import json
from pathlib import Path

from export.onnx import export
from runtime.catalog import CATALOGUE, STYLES_DIR
from runtime.errors import InputError, StylecastError, cli_entry
from runtime.files import atomic_path, sha256_file
from runtime.frames import read_image
from runtime.onnx_meta import card_variant
from runtime.openvino_engine import int8_path
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
    "shipwreck": {"title": "The Shipwreck", "artist": "J. M. W. Turner, 1805"},
    "woman-with-hat": {"title": "Woman with a Hat", "artist": "Henri Matisse, 1905"},
}
# Where the style image files themselves came from (../shared/data/README.md); paintings by artists who
# died before 1956 are public domain, the others are noted.
ORIGIN = {
    "mosaic": "pytorch/examples fast_neural_style (BSD-3); not a dated painting",
    "candy": "pytorch/examples fast_neural_style (BSD-3); not a dated painting",
    "feathers": "jcjohnson/fast-neural-style; not a dated painting",
}


SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _shown(path: Path) -> str:
    """A path as styles.json records it: ../shared/data/... for the shared data, else as given."""
    try:
        return "../shared/data/" + Path(path).resolve().relative_to(SHARED.resolve()).as_posix()
    except ValueError:
        return str(path)


def style_image(card: dict, name: str, given: Path | None = None) -> Path:
    """The painting a net was trained on: --style-image, else the card's file name in ../shared/data/styles."""
    if given:
        if not given.is_file():
            raise InputError(f"style image not found: {given}")
        return given
    for cand in (card.get("style_image"), f"{name.removesuffix('-lite')}.jpg"):
        if cand and (SHARED / "styles" / Path(cand).name).is_file():
            return SHARED / "styles" / Path(cand).name
    raise InputError(f"no style image for {name}: pass --style-image (the quality gate compares against the painting)")


def _read_entries(styles_dir: Path) -> dict[str, dict]:
    catalogue = styles_dir / CATALOGUE.name
    return {e["name"]: e for e in (json.loads(catalogue.read_text())["styles"] if catalogue.is_file() else [])}


def _write_entries(styles_dir: Path, entries: dict[str, dict]) -> list[dict]:
    """styles.json rewritten atomically, entries by name; returns them in that order."""
    ordered = sorted(entries.values(), key=lambda e: e["name"])
    with atomic_path(styles_dir / CATALOGUE.name) as tmp:
        tmp.write_text(json.dumps({"format": "stylecast-styles/1", "styles": ordered}, indent=2) + "\n")
    return ordered


def measure(weights: Path, style: Path, photos: Path, video: Path | None) -> dict:
    """train.quality's figures and gate verdict for one trained net (flicker for every net, gated for full nets)."""
    from train.quality import NetStylizer, QualityMeter, evaluate, load_photos, read_video_frames

    net, card = load_style_model(weights)
    variant = card_variant(card)
    frames = read_video_frames(video) if video is not None else None
    scores = evaluate(NetStylizer(net, card=card), variant, QualityMeter(), load_photos(photos), read_image(style), frames)
    scores.pop("per_photo", None)
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in scores.items()}


def legacy_regressions(new: dict, old: dict) -> list[str]:
    """The gate's figures on which a candidate replacement measures worse than the legacy net it would replace
    (empty = no worse on any); a figure the legacy entry lacks counts as worse, since nothing shows otherwise."""
    from train.quality import GATE

    keys = GATE["lite" if new.get("variant") == "lite" else "johnson"]
    worse = []
    for key in keys:
        if old.get(key) is None or new.get(key) is None or new[key] > old[key]:
            worse.append(f"{key} {new.get(key)} > legacy {old.get(key)}")
    return worse


def build(weights: list[Path], style_images: dict[str, Path] | None = None, photos: Path = SHARED / "content",
          video: Path | None = SHARED / "videos" / "slow_traffic_small.mp4", styles_dir: Path = STYLES_DIR,
          replace_legacy: bool = False) -> list[dict]:
    """Gate every net first (all or nothing), then export the ones given and rewrite styles.json.
    replace_legacy: a net below the gate may replace an installed legacy style it is no worse than on every figure."""
    entries = _read_entries(styles_dir)
    if not photos.is_dir():
        raise InputError(f"quality-gate photos not found: {photos} (pass --photos DIR)")
    if video is not None and not video.is_file():
        raise InputError(f"flicker video not found: {video} (pass --video FILE)")
    measured: dict[Path, dict] = {}
    refused = []
    for w in weights:
        _, card = load_style_model(w)
        name = card.get("name", w.stem)
        measured[w] = measure(w, style_image(card, name, (style_images or {}).get(name)), photos, video)
        if measured[w]["passes"]:
            continue
        old = entries.get(name, {}).get("quality", {})
        if not replace_legacy or "legacy" not in old:
            refused.append(f"{name}: {', '.join(measured[w]['gate_failures'])}"
                           + ("" if not replace_legacy else " (not a legacy built-in, so --replace-legacy does not apply)"))
        elif worse := legacy_regressions(measured[w], old):
            refused.append(f"{name}: below the gate and worse than the legacy net it would replace: {', '.join(worse)}")
    if refused:
        raise StylecastError("refused, below the quality gate (nothing installed): " + "; ".join(refused))
    for w in weights:
        _, card = load_style_model(w)
        name = card.get("name", w.stem)
        dst = styles_dir / f"{name}.onnx"
        report = export(w, dst, fp16_weights=True)
        for stale in (int8_path(dst), int8_path(dst).with_suffix(".bin")):
            stale.unlink(missing_ok=True)  # the old net's int8 model: the runtime would run it beside the new ONNX
        quality = {**measured[w], "photos": _shown(photos), "video": _shown(video) if video else None}
        old = entries.get(name, {}).get("quality", {})
        if not measured[w]["passes"]:  # a legacy style replaced by a better net below the gate: still flagged
            quality["legacy"] = (f"below the quality gate; on {datetime.date.today()} it replaced the legacy net, "
                                 "measuring no worse on any figure; kept until a passing net of this painting replaces it")
            quality["replaced"] = {k: old[k] for k in ("style", "content", "flicker", "flicker_smoothed") if k in old}
        entries[name] = {"name": name, "file": dst.name, "sha256": sha256_file(dst), "bytes": dst.stat().st_size,
                         **SOURCES.get(name.removesuffix("-lite"), {"title": name, "artist": "unknown"}),
                         "origin": ORIGIN.get(name.removesuffix("-lite"), "public-domain painting; image file from "
                                              "jcjohnson/fast-neural-style, neural-style or lengstrom/fast-style-transfer"),
                         "variant": card_variant(card),
                         "export": {"precision": report["precision"], "psnr_vs_fp32_db": round(report["psnr_vs_fp32_db"], 1),
                                    "parity_max_abs_err": max(r["max_abs_err"] for r in report["parity"])},
                         "quality": quality,
                         "card": card}
    return _write_entries(styles_dir, entries)


def remeasure(names: list[str], style_images: dict[str, Path] | None = None, photos: Path = SHARED / "content", video: Path | None = SHARED / "videos" / "slow_traffic_small.mp4",
              styles_dir: Path = STYLES_DIR) -> list[dict]:
    """Measure installed styles again as the runtime runs them (their shipped ONNX file on ONNX Runtime CPU), after
    a change to that path (a lite net's border margin); all or nothing, as build: a net now below the gate (and
    not flagged legacy) is refused with its numbers and styles.json is left as it was."""
    from runtime.engines import open_stylizer
    from train.quality import QualityMeter, evaluate, load_photos, read_video_frames

    entries = _read_entries(styles_dir)
    unknown = [n for n in names if n not in entries]
    if unknown:
        raise InputError(f"not a built-in style: {', '.join(unknown)} (installed: {', '.join(sorted(entries)) or 'none'})")
    if not photos.is_dir():
        raise InputError(f"quality-gate photos not found: {photos} (pass --photos DIR)")
    pictures, meter = load_photos(photos), QualityMeter()
    frames = read_video_frames(video) if video is not None else None
    figures, refused = {}, []
    for name in names:
        entry = entries[name]
        variant = entry.get("variant", "johnson")
        stylizer = open_stylizer(str(styles_dir / entry["file"]), "ort-cpu", announce=lambda m: None)
        scores = evaluate(stylizer, variant, meter, pictures, read_image(style_image(entry["card"], name, (style_images or {}).get(name))),
                          frames)
        scores.pop("per_photo", None)
        figures[name] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in scores.items()}
        if not scores["passes"] and "legacy" not in entry.get("quality", {}):
            refused.append(f"{name}: {', '.join(scores['gate_failures'])}")
    if refused:
        raise StylecastError("refused, below the quality gate (styles.json unchanged): " + "; ".join(refused))
    for name, scores in figures.items():
        old = entries[name].get("quality", {})
        kept = {k: old[k] for k in ("legacy", "replaced") if k in old}
        entries[name]["quality"] = {**scores, **kept, "photos": _shown(photos),
                                    "video": _shown(video) if video else None,
                                    "measured_on": "the shipped ONNX file, ONNX Runtime CPU"}
    _write_entries(styles_dir, entries)
    return [entries[n] for n in names]


@cli_entry
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m export.builtin", description=__doc__.splitlines()[0])
    p.add_argument("weights", nargs="*", type=Path, help="trained style nets (.safetensors with model cards)")
    p.add_argument("--remeasure", nargs="+", metavar="NAME", default=[],
                   help="measure installed styles again as the runtime runs them and update their figures (instead of weights)")
    p.add_argument("--style-image", action="append", default=[], metavar="NAME=FILE",
                   help="the painting of style NAME (default: the card's file in ../shared/data/styles)")
    p.add_argument("--photos", type=Path, default=SHARED / "content", help="quality-gate photos (default ../shared/data/content)")
    p.add_argument("--video", type=Path, default=SHARED / "videos" / "slow_traffic_small.mp4", help="flicker video")
    p.add_argument("--replace-legacy", action="store_true",
                   help="let a net below the gate replace a legacy built-in of its name, if no worse on any figure (stays flagged)")
    a = p.parse_args(argv)
    if bool(a.weights) == bool(a.remeasure):
        p.error("give trained nets to install, or --remeasure NAME ... (not both)")
    if a.replace_legacy and a.remeasure:
        p.error("--replace-legacy installs nets; it does not go with --remeasure")
    images = {}
    for item in a.style_image:
        name, sep, file = item.partition("=")
        if not sep:
            p.error(f"--style-image wants NAME=FILE, got {item}")
        images[name] = Path(file)
    if a.remeasure:
        for e in remeasure(a.remeasure, images, a.photos, a.video):
            q = e["quality"]
            print(f"{e['name']}: style {q['style']} content {q['content']}" + (f" flicker {q['flicker']}" if "flicker" in q else "")
                  + (" (legacy)" if "legacy" in q else ""))
        return
    for e in build(a.weights, images, a.photos, a.video, replace_legacy=a.replace_legacy):
        print(f"{e['name']}: {e['file']} ({e['bytes'] / 1e6:.2f} MB), {e['card'].get('steps') or e['card'].get('hyperparameters', {}).get('steps', '?')} steps")


if __name__ == "__main__":
    main()
