"""stylecast: real-time neural style transfer from Python.

A small, stable facade over the `runtime` package, so notebooks and apps never import its internals::

    import stylecast

    stylecast.styles()                       # the built-in styles, with their measured figures
    net = stylecast.load("starry-lite")      # the fastest backend that works here
    out = net(frame)                         # RGB uint8 HxWx3 (or NxHxWx3) -> the same shape, stylized
    for styled in net.stream(frames): ...    # a sequence of frames, temporally smoothed
    stylecast.stylize_video("in.mp4", "out.mp4", style="mosaic-lite")

Importing this package loads neither torch nor an inference engine: those load on the first `load()`.
"""
from __future__ import annotations

from stylecast.api import Stylizer, load, stylize_image, stylize_video
from stylecast.results import VideoResult
from stylecast.styles import Style, styles

__all__ = ["Style", "Stylizer", "VideoResult", "load", "styles", "stylize_image", "stylize_video"]
__version__ = "0.1.0"
