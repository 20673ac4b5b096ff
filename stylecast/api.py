"""load(), Stylizer.stream() and stylize_video(): the runtime's engines behind three calls.

Why a wrapper instead of the runtime's Stylizer: the frame options (--max-size, --strength,
--preserve-color) and temporal smoothing live around the engine in the CLIs; here they travel with the
object, so `net(frame)` gives exactly what `stylevideo` would, and the engine classes stay untouched.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from runtime.catalog import DEFAULT_STYLE
from runtime.errors import InputError
from runtime.frames import FrameOptions, stylize_frames
from runtime.temporal import DEFAULT_SMOOTH, TemporalSmoother
from stylecast.results import VideoResult

log = logging.getLogger("stylecast")
# DEFAULT_STYLE: the same default as the stylevideo and stylecam commands (runtime.catalog)


class FrameError(InputError, ValueError):
    """A frame that is not RGB uint8 HxWx3 (or NxHxWx3); also a ValueError, as Python callers expect."""


def _check_frames(frames: np.ndarray) -> np.ndarray:
    if not isinstance(frames, np.ndarray):
        raise FrameError(f"expected a numpy array (RGB uint8 HxWx3), got {type(frames).__name__}")
    if frames.dtype != np.uint8 or frames.ndim not in (3, 4) or frames.shape[-1] != 3 or 0 in frames.shape:
        raise FrameError(f"expected RGB uint8 HxWx3 or NxHxWx3, got {frames.dtype} {frames.shape} "
                         f"(convert with np.asarray(image.convert('RGB')); OpenCV's BGR needs [..., ::-1])")
    return frames


class Stylizer:
    """A loaded style: call it on RGB uint8 frames; `stream()` for a sequence of video frames.

    Options are attributes and may be changed between calls: `max_size` (cap on the long side fed to the
    net; the result is scaled back), `strength` (0..1 blend with the input), `preserve_color`.
    """

    def __init__(self, engine, options: FrameOptions | None = None):
        self.engine = engine  # the runtime.stylizer.Stylizer doing the work
        self.options = options or FrameOptions()

    @property
    def name(self) -> str:
        return self.engine.name

    @property
    def backend(self) -> str:
        """Which engine runs the net here, e.g. 'openvino CPU int8, 2 threads' or 'onnxruntime CUDA'."""
        return self.engine.backend

    def __repr__(self) -> str:
        return f"<stylecast.Stylizer {self.name!r} on {self.backend}>"

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """RGB uint8 HxWx3 (or a batch NxHxWx3 of one size) -> the same shape, stylized. Any size works."""
        frames = _check_frames(frames)
        batch = frames if frames.ndim == 4 else frames[None]
        out = stylize_frames(self.engine, np.ascontiguousarray(batch), self.options)
        return out if frames.ndim == 4 else out[0]

    def stream(self, frames: Iterable[np.ndarray], smooth: float = DEFAULT_SMOOTH) -> Iterator[np.ndarray]:
        """Stylize a sequence of RGB frames lazily, one out per one in, with flow-guided temporal smoothing
        (smooth 0..0.95; 0 = per-frame, which flickers). Scene cuts reset the smoothing, so a new shot never
        carries the old one's strokes. Each call starts fresh: streams never blend into each other.

        >>> import numpy as np, stylecast
        >>> net = stylecast.load("mosaic-lite")
        >>> frames = (np.full((72, 96, 3), v, np.uint8) for v in (60, 62, 64))
        >>> [f.shape for f in net.stream(frames)]
        [(72, 96, 3), (72, 96, 3), (72, 96, 3)]
        """
        if not 0.0 <= smooth <= 0.95:
            raise InputError(f"smooth must be within 0..0.95, got {smooth}")
        smoother = TemporalSmoother(smooth) if smooth > 0 else None
        for frame in frames:
            styled = self(frame)
            if smoother is not None:
                if frame.ndim != 3:
                    raise FrameError("stream() takes single frames (HxWx3), one at a time")
                styled = smoother(frame, styled)
            yield styled


def load(style_or_path: str | os.PathLike = DEFAULT_STYLE, backend: str = "auto", precision: str = "auto", *,
         threads: int | None = None, max_size: int | None = None, strength: float = 1.0, preserve_color: bool = False,
         device: str = "cpu") -> Stylizer:
    """Open a built-in style by name (see styles()) or a model file (.onnx, .trt/.engine, .pth/.safetensors).

    backend: 'auto' (the fastest that works here: TensorRT, ONNX Runtime CUDA, OpenVINO, ONNX Runtime CPU),
    or one of 'trt', 'ort-cuda', 'openvino', 'ort-cpu', 'torch'. precision: for OpenVINO 'auto' (the fastest
    that passes its fidelity check on this CPU, measured once and cached), 'f32', 'bf16', 'int8'; for ONNX
    Runtime CUDA 'f32' keeps the fp32 model instead of the gated fp16 one.
    The engine's notes (fallbacks, the backend chosen) go to the 'stylecast' logger, not to stderr.
    Errors are runtime.errors.StylecastError with a one-line message (InputError for an unknown style).
    """
    from runtime.engines import open_stylizer

    options = FrameOptions(max_size, strength, preserve_color)
    extra = {"device": device} if device != "cpu" else {}  # engines without --device support take no keyword
    engine = open_stylizer(str(style_or_path), backend, threads, announce=log.info, precision=precision, **extra)
    return Stylizer(engine, options)


def stylize_image(src: str | os.PathLike, dst: str | os.PathLike, style: str | os.PathLike | Stylizer = DEFAULT_STYLE,
                  **options) -> Path:
    """Stylize one image file into another (written atomically); options as for load(). Returns dst."""
    from runtime.frames import read_image, write_image

    net = style if isinstance(style, Stylizer) else load(style, **options)
    write_image(dst, net(read_image(src)))
    return Path(dst)


def stylize_video(src: str | os.PathLike, dst: str | os.PathLike, style: str | os.PathLike | Stylizer = DEFAULT_STYLE, *,
                  backend: str = "auto", precision: str = "auto", threads: int | None = None, max_size: int | None = None,
                  strength: float = 1.0, preserve_color: bool = False, smooth: float = DEFAULT_SMOOTH,
                  codec: str | None = None, crf: int | None = 18, bitrate: str | int | None = None,
                  preset: str | None = None, max_frames: int | None = None, batch: int = 1, fps: float = 25.0,
                  strict: bool = False, cfr: bool = False, progress: bool = False) -> VideoResult:
    """What `stylevideo SRC DST` does, from Python: a video (or an image, or a folder of images) into a
    video, image or folder, keeping timing, colour tags and audio; the output appears only when complete.

    style: a built-in name, a model path, or a Stylizer from load() (then backend, precision, threads,
    max_size, strength and preserve_color come from it). smooth: temporal smoothing 0..0.95 (0 = off).
    codec defaults to the container's (VP9 + Opus for .webm, H.264 for the others); fps is the frame rate
    of a folder of images. Bad inputs raise runtime.errors.StylecastError (one-line message), before any
    model loads where possible.
    """
    from runtime.video import DEFAULT_PRESET, check_job, process_job

    src, dst = Path(src), Path(dst)
    if not 0.0 <= smooth <= 0.95:
        raise InputError(f"smooth must be within 0..0.95, got {smooth}")
    if batch < 1:
        raise InputError(f"batch must be >= 1, got {batch}")
    image_input, files = check_job(src, dst, codec)
    if isinstance(style, Stylizer):
        net = style
    else:
        net = load(style, backend, precision, threads=threads, max_size=max_size, strength=strength,
                   preserve_color=preserve_color)
    stats = process_job(src, dst, net.engine, net.options, image_input, files, smooth=smooth, fps=fps, batch=batch,
                        progress=progress, max_frames=max_frames, strict=strict, cfr=cfr, codec=codec, crf=crf,
                        bitrate=bitrate, preset=preset or DEFAULT_PRESET)
    for w in stats.get("warnings", []):
        log.warning(w)
    return VideoResult(output=dst, frames=int(stats["frames"]), fps=float(stats["fps"]), backend=net.backend,
                       seconds=float(stats["seconds"]), audio=stats.get("audio", "none"),
                       warnings=tuple(stats.get("warnings", [])))
