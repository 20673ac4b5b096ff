"""Regenerate clip.mp4 from chelsea.jpg: a 3 s pan/zoom at 24 fps, 320x240 H.264, with a 440/660 Hz AAC tone."""
from __future__ import annotations

import fractions
import sys
from pathlib import Path

import av
import cv2
import numpy as np

from runtime.frames import read_image
from runtime.samples import SAMPLES


def make(out: Path, seconds: float = 3.0, fps: int = 24, size: tuple[int, int] = (320, 240)) -> None:
    src = read_image(SAMPLES / "chelsea.jpg")
    h, w = src.shape[:2]
    n = int(seconds * fps)
    with av.open(str(out), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        video.options = {"crf": "26", "preset": "veryslow"}
        audio = container.add_stream("aac", rate=44100)
        audio.layout = "mono"
        for i in range(n):
            t = i / (n - 1)
            zoom = 1.0 + 0.35 * t
            cw, ch = w / zoom, w / zoom * size[1] / size[0]
            ch = min(ch, h)
            x0, y0 = (w - cw) * (0.2 + 0.6 * t), (h - ch) * 0.4
            m = np.float32([[size[0] / cw, 0, -x0 * size[0] / cw], [0, size[1] / ch, -y0 * size[1] / ch]])
            frame = cv2.warpAffine(src, m, size, flags=cv2.INTER_AREA)
            for packet in video.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        rate, total = 44100, int(seconds * 44100)
        t = np.arange(total) / rate
        tone = (0.2 * np.sin(2 * np.pi * np.where(t < seconds / 2, 440, 660) * t)).astype(np.float32)
        for start in range(0, total, 1024):
            chunk = tone[start : start + 1024][None, :]
            frame = av.AudioFrame.from_ndarray(chunk, format="flt", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = rate, start, fractions.Fraction(1, rate)
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)


if __name__ == "__main__":
    make(Path(sys.argv[1]) if len(sys.argv) > 1 else SAMPLES / "clip.mp4")
