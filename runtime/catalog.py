"""The built-in styles: runtime/styles/*.onnx with the styles.json catalogue."""
from __future__ import annotations

import json
from pathlib import Path

from runtime.errors import InputError

STYLES_DIR = Path(__file__).resolve().parent / "styles"
# The style used when none is named: the best-measured built-in (issue 11's metric, docs/training.md: starry
# 0.416 style / 3.34 content distance against mosaic's 0.407 / 4.38, which erases the subject). Where a
# frame rate must be kept (a video's, a camera's) and the full net cannot keep it, its -lite net is taken.
DEFAULT_STYLE = "starry"
CATALOGUE = STYLES_DIR / "styles.json"


def load_catalogue() -> list[dict]:
    if not CATALOGUE.is_file():
        return []
    return json.loads(CATALOGUE.read_text())["styles"]


def style_names() -> list[str]:
    return [s["name"] for s in load_catalogue()]


def style_path(name: str) -> Path:
    for entry in load_catalogue():
        if entry["name"] == name:
            path = STYLES_DIR / entry["file"]
            if not path.is_file():
                raise InputError(f"built-in style '{name}' is listed but {path.name} is missing from the package")
            return path
    names = ", ".join(style_names()) or "(none installed)"
    raise InputError(f"unknown style '{name}'; built-in styles: {names}; or pass a .onnx/.trt/.pth file")
