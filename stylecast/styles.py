"""The built-in styles as typed records, read from the catalogue that ships with the package."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from runtime import catalog


@dataclass(frozen=True)
class Style:
    """One built-in style: what it is (name, title, artist), which net (full or lite), and its measured figures.

    `figures` holds the numbers the catalogue records, flattened so a table or a UI can show them without
    knowing the catalogue's layout: the quality metric (style_distance, content_distance, flicker,
    flicker_smoothed, passes_gate; docs/training.md), export fidelity (PSNR of the shipped weights against
    fp32), int8 fidelity, training time, and for lite nets their PSNR against the full net they were
    distilled from.
    """

    name: str
    title: str
    artist: str
    variant: str  # "full" (best quality) or "lite" (about 4x faster, distilled from the full net)
    path: Path
    bytes: int
    figures: dict[str, float | bool | str] = field(default_factory=dict)

    @property
    def lite(self) -> bool:
        return self.variant == "lite"


def _figures(entry: dict) -> dict[str, float | bool | str]:
    """The catalogue's numbers for one style, under stable flat names (absent figures are left out)."""
    export, int8, card = entry.get("export", {}), entry.get("int8") or {}, entry.get("card", {})
    quality = entry.get("quality") or {}
    fig: dict[str, float | bool | str] = {}
    for key, value in (("style_distance", quality.get("style")), ("content_distance", quality.get("content")),
                       ("flicker", quality.get("flicker")), ("flicker_smoothed", quality.get("flicker_smoothed")),
                       ("passes_gate", quality.get("passes")),("precision", export.get("precision")), ("psnr_vs_fp32_db", export.get("psnr_vs_fp32_db")),
                       ("parity_max_abs_err", export.get("parity_max_abs_err")),
                       ("int8_passes", int8.get("passes")), ("int8_bytes", int8.get("bytes")),
                       ("int8_psnr_vs_f32_db", (int8.get("fidelity") or {}).get("psnr_vs_f32_db")),
                       ("training_seconds", card.get("training_seconds")), ("training_steps", card.get("steps")),
                       ("val_psnr_vs_teacher_db", card.get("val_psnr_vs_teacher_db"))):
        if value is not None:
            fig[key] = value
    return fig


def styles() -> list[Style]:
    """The built-in styles, in catalogue order (an empty list when the package ships none).

    >>> [s.name for s in styles()][:2]
    ['candy', 'candy-lite']
    """
    out = []
    for entry in catalog.load_catalogue():
        out.append(Style(name=entry["name"], title=entry.get("title", entry["name"]), artist=entry.get("artist", ""),
                         variant="lite" if entry.get("variant") == "lite" else "full", path=catalog.STYLES_DIR / entry["file"],
                         bytes=int(entry.get("bytes", 0)), figures=_figures(entry)))
    return out
