"""The built-in styles: runtime/styles/*.onnx with the styles.json catalogue."""
from __future__ import annotations

import json
from pathlib import Path

from runtime.errors import InputError
from runtime.gate import GATE

STYLES_DIR = Path(__file__).resolve().parent / "styles"
CATALOGUE = STYLES_DIR / "styles.json"
FALLBACK_STYLE = "starry"  # the default when no built-in carries gate figures (an old catalogue)
GATE_LIMITS = {variant: (g["style"], g["content"]) for variant, g in GATE.items()}  # (style, content) per variant


def measured_rank(entry: dict) -> float | None:
    """How far inside the gate a style is: style/limit + content/limit (lower is better); None if unmeasured."""
    q = entry.get("quality") or {}
    if not isinstance(q.get("style"), (int, float)) or not isinstance(q.get("content"), (int, float)):
        return None
    style_limit, content_limit = GATE_LIMITS["lite" if entry.get("variant") == "lite" else "johnson"]
    return q["style"] / style_limit + q["content"] / content_limit


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


def gate_note(file_name: str) -> str | None:
    """One line for the built-in in runtime/styles/FILE_NAME if it is below the quality gate (kept as a legacy
    style), else None."""
    for entry in load_catalogue():
        q = entry.get("quality") or {}
        if entry["file"] == file_name and q and not q.get("passes"):
            why = ", ".join(q.get("gate_failures") or []) or "fails the gate"
            return (f"built-in style '{entry['name']}' is below the quality gate ({why}); it ships until a net of its painting "
                    f"passes (README's style table lists the ones inside)")
    return None


def _ordered(variant: str) -> list[dict]:
    """Entries of one variant: inside the gate first, then by measured rank (unmeasured last), then by name."""
    rows = [e for e in load_catalogue() if (e.get("variant") == "lite") == (variant == "lite")]
    def key(e: dict) -> tuple:
        rank = measured_rank(e)
        return (not (e.get("quality") or {}).get("passes"), rank is None, rank or 0.0, e["name"])
    return sorted(rows, key=key)


def ranked(variant: str = "johnson") -> list[str]:
    """Built-in styles of one variant that pass the gate, best-measured first."""
    return [e["name"] for e in _ordered(variant) if (e.get("quality") or {}).get("passes") and measured_rank(e) is not None]


def fast_styles() -> list[str]:
    """The -lite styles: those inside the gate best-first, then the others (kept until passing ones replace
    them) best-measured first."""
    return [e["name"] for e in _ordered("lite")]


def _default_style() -> str:
    best = ranked("johnson")
    return best[0] if best else FALLBACK_STYLE


# The style used when none is named: the best-measured built-in full net inside the quality gate
# (docs/training.md). Where a frame rate must be kept (a video's, a camera's) and it cannot keep it on the
# machine, cli_common.keep_up takes its -lite net, else the best fast style, and says so.
DEFAULT_STYLE = _default_style()
