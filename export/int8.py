"""`python -m export.int8 runtime/styles/starry.onnx`: an int8 OpenVINO model beside the ONNX file, quality-checked.

int8 kernels make the full net about twice as fast as f32 on CPUs without bf16 (issue 12's measurements).
Quantizing (NNCF post-training quantization on a few dozen natural photos) takes too long to do on a
user's first run, so it happens here, once, and NAME.int8.xml/.bin ship beside NAME.onnx.

int8 changes texture, so PSNR is the wrong test: the int8 net must keep the style and content distance
of train.quality within 3% of the f32 net's on real photos, and a net inside the quality gate must stay
inside it (the int8 model is what `--precision auto` runs on most CPUs, so the gate must hold for it too:
3% of a net that sits 0.01 under the content limit is enough to cross it). The calibration set and the measured
figures are stored inside the IR (rt_info, read by the runtime's `--precision auto`) and, for built-in
styles, in styles.json.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from runtime.catalog import CATALOGUE, load_catalogue
from runtime.errors import DependencyError, InputError, cli_entry
from runtime.files import atomic_path, sha256_file
from runtime.frames import IMAGE_SUFFIXES, psnr, read_image, resize_to, to_nchw
from runtime.onnx_meta import INPUT_NAME, card_variant
from runtime.openvino_engine import INT8_RT_KEY, OpenVinoStylizer, import_openvino, int8_path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CALIBRATION_PHOTOS = 30
CALIBRATION_SIZES = ((360, 640), (480, 640), (720, 1280))  # (height, width): webcam and video sizes people use
MAX_RELATIVE_CHANGE = 0.03  # issue 12: style and content distance within 3% of the f32 net's


def calibration_photos(folder: Path | None, count: int) -> list[Path]:
    """`count` photos spread evenly over the folder tree (default: the training photos in ../shared)."""
    root = folder or SHARED / "train"
    if not root.is_dir():
        raise InputError(f"calibration folder not found: {root} (pass --calibration DIR of natural photos)")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if len(files) < 4:
        raise InputError(f"{root} has {len(files)} photos; int8 calibration needs a few dozen natural photos")
    pick = np.linspace(0, len(files) - 1, min(count, len(files))).round().astype(int)
    return [files[i] for i in pick]


def calibration_inputs(photos: list[Path]) -> list[np.ndarray]:
    """NCHW float32 0-255 inputs, cycling through the sizes people use (resized and centre-cropped)."""
    out = []
    for i, path in enumerate(photos):
        h, w = CALIBRATION_SIZES[i % len(CALIBRATION_SIZES)]
        rgb = read_image(path)
        scale = max(h / rgb.shape[0], w / rgb.shape[1])
        big = resize_to(rgb, max(h, round(rgb.shape[0] * scale)), max(w, round(rgb.shape[1] * scale)))
        top, left = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
        out.append(to_nchw(big[top:top + h, left:left + w]))
    return out


def quantize(onnx_path: Path, inputs: list[np.ndarray]):
    """NNCF post-training quantization of the ONNX model (read by OpenVINO) -> an int8 ov.Model."""
    ov = import_openvino()
    try:
        import nncf
    except ImportError:
        raise DependencyError("int8 export needs NNCF: pip install 'stylecast[train]' (or pip install nncf)") from None
    model = ov.Core().read_model(str(onnx_path))
    dataset = nncf.Dataset(inputs, lambda x: {INPUT_NAME: x})
    return nncf.quantize(model, dataset, preset=nncf.QuantizationPreset.MIXED, subset_size=len(inputs))


def quality_check(onnx_path: Path, int8_xml: Path, check_photos: list[np.ndarray], style_image: Path,
                  variant: str = "johnson") -> dict:
    """Style and content distance (train.quality) of the f32 and int8 nets on the same photos; passes within
    3% of f32 and, where the f32 net is inside the gate for its variant, inside the gate as well."""
    from train.quality import QualityMeter

    meter = QualityMeter()
    style_rgb = read_image(style_image)
    f32 = OpenVinoStylizer(onnx_path, "f32")
    int8 = OpenVinoStylizer(int8_xml, "int8")
    a = meter.photo_scores(f32, check_photos, style_rgb)
    b = meter.photo_scores(int8, check_photos, style_rgb)
    change = {k: abs(b[k] - a[k]) / max(a[k], 1e-9) for k in ("style", "content")}
    db = float(np.median([psnr(int8(f).astype(np.float32), f32(f).astype(np.float32)) for f in check_photos]))
    return {"f32": {k: round(a[k], 4) for k in ("style", "content")}, "int8": {k: round(b[k], 4) for k in ("style", "content")},
            "relative_change": {k: round(v, 4) for k, v in change.items()}, "max_relative_change": MAX_RELATIVE_CHANGE,
            "psnr_vs_f32_db": round(db, 1), **int8_verdict(a, b, change, variant)}


def int8_verdict(f32: dict, int8: dict, change: dict, variant: str) -> dict:
    """passes, and the reasons when it does not: over the 3% limit, or out of a gate its f32 net is inside."""
    from train.quality import gate_failures

    reasons = [f"{k} changed {100 * v:.1f}% (limit {100 * MAX_RELATIVE_CHANGE:.0f}%)"
               for k, v in change.items() if v > MAX_RELATIVE_CHANGE]
    photo = ("style", "content")
    if not gate_failures({k: f32[k] for k in photo}, variant, photo):
        reasons += [f"leaves the gate: {f}" for f in gate_failures({k: int8[k] for k in photo}, variant, photo)]
    return {"passes": not reasons, "failures": reasons}


def style_image_for(onnx_path: Path, card: dict, given: Path | None) -> Path:
    if given:
        return given
    name = card.get("style_image") or f"{card.get('name', onnx_path.stem).removesuffix('-lite')}.jpg"
    for cand in (SHARED / "styles" / name, onnx_path.with_name(name)):
        if cand.is_file():
            return cand
    raise InputError(f"style image {name} not found: pass --style-image (the quality check compares against it)")


def export_int8(onnx_path: Path, calibration: Path | None = None, count: int = CALIBRATION_PHOTOS,
                check_dir: Path | None = None, style_image: Path | None = None, say=print) -> dict:
    """Quantize, quality-check and save NAME.int8.xml/.bin beside the ONNX file; returns the record."""
    from train.quality import load_photos

    if not onnx_path.is_file():
        raise InputError(f"model not found: {onnx_path}")
    ov = import_openvino()
    card = OpenVinoStylizer(onnx_path, "f32").card
    style = style_image_for(onnx_path, card, style_image)
    photos = calibration_photos(calibration, count)
    t0 = time.perf_counter()
    model = quantize(onnx_path, calibration_inputs(photos))
    seconds = time.perf_counter() - t0
    check_folder = check_dir or SHARED / "content"
    if not check_folder.is_dir():
        raise InputError(f"quality-check photos not found: {check_folder} (pass --check-photos DIR)")
    xml = int8_path(onnx_path)
    staging = Path(tempfile.mkdtemp(prefix=".int8.", dir=xml.parent))  # same folder: the final moves are renames
    try:
        staged = staging / xml.name
        ov.save_model(model, str(staged), compress_to_fp16=False)
        fidelity = quality_check(onnx_path, staged, load_photos(check_folder), style, card_variant(card))
        record = {"calibration": {"folder": str(calibration or "../shared/data/train"), "photos": len(photos),
                                  "sizes": [f"{w}x{h}" for h, w in CALIBRATION_SIZES], "preset": "mixed", "nncf_seconds": round(seconds, 1)},
                  "fidelity": fidelity, "passes": fidelity["passes"], "style_image": style.name,
                  "onnx_sha256": sha256_file(onnx_path)}  # the runtime uses the IR only beside this very ONNX
        model.set_rt_info(json.dumps(record), [INT8_RT_KEY])
        ov.save_model(model, str(staged), compress_to_fp16=False)  # again, with the record inside
        os.replace(staged.with_suffix(".bin"), xml.with_suffix(".bin"))
        os.replace(staged, xml)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _record_in_catalogue(onnx_path, xml, record)
    return record


def _record_in_catalogue(onnx_path: Path, xml: Path, record: dict) -> None:
    """Built-in styles: the int8 files and their figures go into styles.json beside the f32 entry. A model
    that failed its check is not shipped (the runtime would never use it): its files are removed and only
    the figures stay, so the catalogue says why the style has no int8 model."""
    if onnx_path.resolve().parent != CATALOGUE.parent.resolve():
        return
    shipped = bool(record["passes"])
    size = xml.stat().st_size + xml.with_suffix(".bin").stat().st_size
    if not shipped:
        xml.unlink(missing_ok=True)
        xml.with_suffix(".bin").unlink(missing_ok=True)
    why = "; ".join(record.get("fidelity", {}).get("failures", [])) or "outside the quality check's limit"
    styles = load_catalogue()
    for entry in styles:
        if entry["file"] == onnx_path.name:
            entry["int8"] = ({"file": xml.name, "bytes": size, **record} if shipped else
                             {"file": None, "bytes": 0, **record, "note": f"not shipped: {why}"})
    with atomic_path(CATALOGUE) as tmp:
        tmp.write_text(json.dumps({"format": "stylecast-styles/1", "styles": styles}, indent=2) + "\n")


@cli_entry
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m export.int8", description=__doc__.splitlines()[0])
    p.add_argument("models", nargs="+", type=Path, help="ONNX style nets (e.g. runtime/styles/*.onnx)")
    p.add_argument("--calibration", type=Path, help="folder of natural photos (default ../shared/data/train)")
    p.add_argument("--photos", type=int, default=CALIBRATION_PHOTOS, help=f"calibration photos (default {CALIBRATION_PHOTOS})")
    p.add_argument("--check-photos", type=Path, help="photos for the quality check (default ../shared/data/content)")
    p.add_argument("--style-image", type=Path, help="the painting (default: from the model card, in ../shared/data/styles)")
    a = p.parse_args(argv)
    if a.photos < 4:
        p.error("--photos must be >= 4")
    for m in a.models:
        r = export_int8(m, a.calibration, a.photos, a.check_photos, a.style_image)
        f = r["fidelity"]
        print(f"{m.stem}: int8 {'passes' if r['passes'] else 'FAILS'}: style {f['f32']['style']} -> {f['int8']['style']}, "
              f"content {f['f32']['content']} -> {f['int8']['content']} (max change {100 * max(f['relative_change'].values()):.1f}%, "
              f"limit {100 * MAX_RELATIVE_CHANGE:.0f}%), PSNR {f['psnr_vs_f32_db']} dB; NNCF {r['calibration']['nncf_seconds']} s"
              + "".join(f"; {why}" for why in f.get("failures", [])))


if __name__ == "__main__":
    main()
