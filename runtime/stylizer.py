"""The interface every backend implements: RGB uint8 frames in, RGB uint8 frames out (padding and checks here)."""
from __future__ import annotations

import threading

import numpy as np

from runtime.errors import StylecastError
from runtime.frames import crop_to, from_nchw, pad_to_multiple, to_nchw


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

    def _infer(self, x: np.ndarray) -> np.ndarray:
        with self._run_lock:
            return self.run_nchw(x)

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """RGB uint8 HxWx3 or NxHxWx3 -> the same shape, stylized (any H, W: padded and cropped back)."""
        single = frames.ndim == 3
        self.last_shape = frames.shape[-3:-1]
        if self.clock is None:
            x, size = pad_to_multiple(to_nchw(frames))
            out = self.postprocess(self._infer(x), size)
        else:
            with self.clock("pre-process"):
                x, size = pad_to_multiple(to_nchw(frames))
            with self.clock("inference"):
                y = self._infer(x)
            with self.clock("post-process"):
                out = self.postprocess(y, size)
        return out[0] if single else out

    def postprocess(self, y: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """Network output (padded float NCHW) -> RGB uint8 NxHxWx3 of the original size; NaN/Inf is an error."""
        if not np.isfinite(y).all():
            raise NonFiniteOutput(f"{self.backend} produced NaN/Inf for a {size[1]}x{size[0]} frame (FP16 overflow?); "
                                  f"try --backend ort-cpu or an fp32 model")
        return from_nchw(crop_to(y, size))
