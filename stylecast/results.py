"""What stylecast.stylize_video returns: a few plain fields instead of the runtime's stats dict."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class VideoResult:
    """The outcome of one stylize_video call (the file is complete: outputs are written atomically).

    fps is the processing speed (frames stylized per second of wall time), not the video's frame rate.
    """

    output: Path
    frames: int
    fps: float
    backend: str
    seconds: float
    audio: str = "none"  # "copied", "re-encoded" or "none"
    warnings: tuple[str, ...] = field(default_factory=tuple)
