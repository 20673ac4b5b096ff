"""The interface every backend implements: RGB uint8 frames in, RGB uint8 frames out (padding and checks here)."""
from __future__ import annotations

import threading

import numpy as np

from runtime.errors import StylecastError
from runtime.frames import Window, crop_to, from_nchw, pad_amounts, pad_to_multiple, to_nchw
from runtime.onnx_meta import card_variant


# Lite nets trained directly on the loss learned to paint a band of noise up to about 16 px wide along the
# bottom or right border (their stride-2 grids start at the top-left, so those borders end differently, and the
# style loss counted the noise as texture). Stylizing 24 px of reflected image beyond those borders and cropping
# it off costs 10.7% more pixels at 640x360 and brought the border's high-frequency energy from 2.5-8x the
# interior's to 0.3-2x on the built-in lite nets (docs/training.md, "The lite nets' border band"); the quality
# gate and train.multistyle use the same margin. A card's "border_margin" overrides it, and a card with
# "border_sides": "all" (a net trained with photo context on all four sides) gets the margin at the top/left too.
LITE_BORDER_MARGIN = 24
BORDER_SIDES = ("bottom-right", "all")


def border_margin(card: dict) -> int:
    """Pixels of reflected image to stylize beyond the bottom/right border for the net this card describes."""
    if "border_margin" in card:
        return int(card["border_margin"])
    return LITE_BORDER_MARGIN if card_variant(card) == "lite" else 0


def border_margins(card: dict) -> tuple[int, int]:
    """(top/left, bottom/right) pixels of reflected image to stylize around the frame for this card's net."""
    margin = border_margin(card)
    return (margin if card.get("border_sides") == "all" else 0), margin


class NonFiniteOutput(StylecastError):
    """The engine produced NaN/Inf (typically FP16 overflow)."""


class Stylizer:
    """Base: subclasses implement run_nchw on float32 NCHW 0-255 arrays whose H, W are multiples of PAD_MULTIPLE."""

    backend = "?"
    name = "?"
    card: dict = {}
    clock = None  # a runtime.profile.StageClock when --profile is on
    last_shape: tuple[int, int] | None = None  # (height, width) of the last frames stylized

    def run_nchw(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.name}: {self.backend}"

    @property
    def _run_lock(self) -> threading.Lock:
        """One inference at a time per stylizer: a TensorRT context, its pinned buffers and an OpenVINO infer
        request are not re-entrant, and users share one loaded style between threads (a web server's workers)."""
        return self.__dict__.setdefault("_lock", threading.Lock())  # dict.setdefault is atomic under the GIL

    def accepts(self, shape: tuple) -> bool:
        """Can run_nchw take this NCHW shape? (engines with a fixed shape range override this)"""
        return True

    def pad_frames(self, frames: np.ndarray) -> tuple[np.ndarray, Window]:
        """NCHW float, padded for the net (with the card's border margins where the engine takes the larger shape),
        and where the frames lie in it."""
        nchw = to_nchw(frames)
        lead, margin = border_margins(self.card)
        if lead or margin:
            n, c, h, w = nchw.shape
            ph, pw = pad_amounts(h, w, margin=margin, lead=lead)
            if self.accepts((n, c, h + lead + ph, w + lead + pw)):  # ask first: pad once, not twice
                return pad_to_multiple(nchw, margin=margin, lead=lead)
        return pad_to_multiple(nchw)

    def _infer(self, x: np.ndarray) -> np.ndarray:
        with self._run_lock:
            return self.run_nchw(x)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """RGB uint8 HxWx3 or NxHxWx3 -> the same shape, stylized (any H, W: padded and cropped back)."""
        single = frames.ndim == 3
        self.last_shape = frames.shape[-3:-1]
        if self.clock is None:
            x, size = self.pad_frames(frames)
            out = self.postprocess(self._infer(x), size)
        else:
            with self.clock("pre-process"):
                x, size = self.pad_frames(frames)
            with self.clock("inference"):
                y = self._infer(x)
            with self.clock("post-process"):
                out = self.postprocess(y, size)
        return out[0] if single else out

    def postprocess(self, y: np.ndarray, size: Window) -> np.ndarray:
        """Network output (padded float NCHW) -> RGB uint8 NxHxWx3 of the original size; NaN/Inf is an error."""
        if not np.isfinite(y).all():
            raise NonFiniteOutput(f"{self.backend} produced NaN/Inf for a {size[1]}x{size[0]} frame (FP16 overflow?); "
                                  f"try --backend ort-cpu or an fp32 model")
        return from_nchw(crop_to(y, size))
