"""Quality of style nets: style distance, content distance, flicker, and the shipping gate (train.quality).

    python benchmarks/quality.py --all                          # every built-in style
    python benchmarks/quality.py --net starry --style-image starry.jpg
    python benchmarks/quality.py --net my.onnx --style-image painting.jpg --photos DIR --video clip.mp4

Photos default to ../shared/data/content, the video to ../shared/data/videos/slow_traffic_small.mp4
(60 frames). Prints a table and writes benchmarks/results/quality.json (one row per style).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import SHARED, save, table  # noqa: E402
from runtime import catalog  # noqa: E402
from runtime.engines import open_stylizer  # noqa: E402
from runtime.errors import InputError, cli_entry  # noqa: E402
from runtime.frames import read_image  # noqa: E402
from runtime.onnx_meta import card_variant  # noqa: E402
from train import quality  # noqa: E402


def _style_image(name: str, given: str | None) -> Path:
    if given:
        return Path(given)
    for entry in catalog.load_catalogue():
        if entry["name"] == name:
            image = entry.get("card", {}).get("style_image")
            if image and (SHARED / "styles" / image).is_file():
                return SHARED / "styles" / image
    raise InputError(f"no style image known for '{name}'; pass --style-image")


def measure(spec: str, style_image: Path, meter: quality.QualityMeter, photos, frames, warp_meter, backend: str) -> dict:
    stylizer = open_stylizer(spec, backend=backend, announce=lambda m: None)
    variant = "lite" if spec.endswith("-lite") else card_variant(stylizer.card)
    row = quality.evaluate(stylizer, variant, meter, photos, read_image(style_image), frames, warp_meter)
    return {"net": spec, "style_image": style_image.name, **row}


@cli_entry
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python benchmarks/quality.py", description=__doc__.splitlines()[0])
    p.add_argument("--all", action="store_true", help="every built-in style")
    p.add_argument("--net", nargs="*", default=[], help="style names or .onnx/.safetensors files")
    p.add_argument("--style-image", help="the painting (default: the built-in style's, from ../shared/data/styles)")
    p.add_argument("--photos", default=str(SHARED / "content"))
    p.add_argument("--video", default=str(SHARED / "videos" / "slow_traffic_small.mp4"))
    p.add_argument("--frames", type=int, default=quality.FLICKER_FRAMES)
    p.add_argument("--vgg", help="VGG16 weights (default $STYLECAST_VGG, ../shared, or torchvision's download)")
    p.add_argument("--backend", default="ort-cpu")
    p.add_argument("--out", default="quality", help="results name under benchmarks/results/")
    a = p.parse_args(argv)
    specs = list(a.net) + (catalog.style_names() if a.all else [])
    if not specs:
        p.error("name a --net or pass --all")
    meter = quality.QualityMeter(a.vgg)
    photos = quality.load_photos(a.photos)
    frames = quality.read_video_frames(a.video, a.frames) if a.video else None
    warp_meter = quality.WarpingError(frames) if frames else None
    rows = []
    for spec in specs:
        rows.append(measure(spec, _style_image(spec.removesuffix("-lite"), a.style_image), meter, photos, frames, warp_meter, a.backend))
        print(f"{spec}: style {rows[-1]['style']:.3f} content {rows[-1]['content']:.3f} "
              f"{'passes' if rows[-1]['passes'] else 'fails: ' + '; '.join(rows[-1]['gate_failures'])}", flush=True)
    print(table(rows, ["net", "variant", "style", "content", "flicker", "flicker_smoothed", "passes"]))
    print(f"wrote {save(a.out, {'photos': a.photos, 'video': a.video, 'frames': a.frames, 'gate': quality.GATE, 'rows': rows})}")


if __name__ == "__main__":
    main()
