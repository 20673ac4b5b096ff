"""`stylecam --style mosaic` / `stylecam --engine starry.trt`: live style transfer on a webcam, URL or file.

Capture runs on its own thread and keeps only the newest frame, so latency never grows when the
network is slower than the camera. Keys: n/p next/previous built-in style, 1-9 pick one, +/- strength,
c colour preservation, s snapshot PNG, r start/stop recording MP4, q or Esc quit.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from runtime import catalog
from runtime.cli_common import add_model_args, model_spec, open_from_args, smoother_from_args
from runtime.engines import Stylizer, open_stylizer
from runtime.errors import DependencyError, InputError, StylecastError, cli_entry
from runtime.files import atomic_path, check_output_dir
from runtime.frames import bgr_to_rgb, rgb_to_bgr, stylize_frames, write_image
from runtime.validate import Parser, float_range, int_range, positive_int
from runtime.media import CONTAINER_FORMATS, DEFAULT_PRESET, FASTSTART, check_codec, default_codec

WINDOW = "stylecam"
WINDOW_KEYS = """window keys:
  n / p      next / previous built-in style
  1-9        pick a built-in style by number
  + / -      more / less style (strength, steps of 0.1)
  c          keep the input's colours on / off
  s          save a snapshot PNG (to --snapshot-dir)
  r          start / stop recording an MP4 (to --snapshot-dir)
  q / Esc    quit
without a display (SSH, a container, a server) use --no-window: FPS is printed every second"""
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)  # our one-line errors say what failed


class LatestFrame:
    """A capture thread that keeps only the newest frame (BGR). Files are paced at their own frame rate."""

    def __init__(self, source: int | str, width: int | None = None, height: int | None = None, fps: float | None = None,
                 loop: bool = False):
        self.cap = cv2.VideoCapture(source)
        if not self.cap.isOpened():
            if isinstance(source, int):
                raise InputError(f"no camera at index {source}; pick another with --camera N, or use --source FILE_OR_URL")
            raise InputError(f"cannot open video source {source}")
        if width:
            self.cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
        if height:
            self.cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps:
            self.cap.set(cv2.CAP_PROP_FPS, fps)
        self.is_file = isinstance(source, str) and Path(source).is_file()
        self.loop = loop and self.is_file
        self.period = 1.0 / (self.cap.get(cv2.CAP_PROP_FPS) or 30.0) if self.is_file else 0.0
        self.frame: np.ndarray | None = None
        self.index = 0
        self.ended = False
        self.cond = threading.Condition()
        self.running = True
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        next_t = time.perf_counter()
        while self.running:
            ok, frame = self.cap.read()
            if not ok and self.loop and self.index > 0:
                self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, frame = self.cap.read()
            with self.cond:
                if not ok:
                    self.ended = True
                    self.cond.notify_all()
                    return
                self.frame, self.index = frame, self.index + 1
                self.cond.notify_all()
            if self.period:
                next_t += self.period
                time.sleep(max(0.0, next_t - time.perf_counter()))

    def read(self, after: int, timeout: float = 5.0) -> tuple[int, np.ndarray | None]:
        """Wait for a frame newer than `after`; (index, frame) or (index, None) at the end of a file."""
        with self.cond:
            self.cond.wait_for(lambda: self.index > after or self.ended, timeout)
            if self.index > after:
                return self.index, self.frame
            return self.index, None

    def close(self) -> None:
        self.running = False
        self.thread.join(timeout=2)
        self.cap.release()


class Recorder:
    """A recording of what the window shows (H.264, or VP9 for .webm, via PyAV), written atomically on stop.
    A signal (SIGTERM, SIGHUP, Ctrl-C) stops it the same way: the file holds what was recorded until then."""

    def __init__(self, path: Path, fps: float, size: tuple[int, int]):
        import av

        self.path = path
        codec = default_codec(path)
        check_codec(codec, path)
        self._ctx = atomic_path(path)
        tmp = self._ctx.__enter__()
        try:
            self.out = av.open(str(tmp), "w", format=CONTAINER_FORMATS[path.suffix.lower()],
                               options={"movflags": "+faststart"} if path.suffix.lower() in FASTSTART else {})
            self.stream = self.out.add_stream(codec, rate=round(fps) or 30)
            self.stream.width, self.stream.height = size[0] - size[0] % 2, size[1] - size[1] % 2
            self.stream.pix_fmt = "yuv420p"
            # recording must keep up with the camera
            self.stream.options = {"preset": DEFAULT_PRESET} if codec == "libx264" else {"deadline": "realtime", "cpu-used": "8"}
        except BaseException as exc:
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)
            raise

    def write(self, rgb: np.ndarray) -> None:
        import av

        rgb = rgb[: self.stream.height, : self.stream.width]
        self.out.mux(self.stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")))

    def close(self) -> None:
        """Flush the encoder and move the file into place (also when a signal ends the session)."""
        try:
            self.out.mux(self.stream.encode())
            self.out.close()
        except BaseException as exc:
            self._ctx.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._ctx.__exit__(None, None, None)


def overlay(bgr: np.ndarray, lines: list[str]) -> np.ndarray:
    for i, text in enumerate(lines):
        y = 22 + 22 * i
        cv2.putText(bgr, text, (10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(bgr, text, (10, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1, cv2.LINE_AA)
    return bgr


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = Parser(prog="stylecam", description=__doc__.splitlines()[0], epilog=WINDOW_KEYS,
               formatter_class=argparse.RawDescriptionHelpFormatter)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--camera", type=int_range(0, 255), default=0, help="camera index (default 0)")
    src.add_argument("--source", help="a video file or stream URL instead of a camera")
    p.add_argument("--width", type=int_range(16, 16384), help="requested capture width")
    p.add_argument("--height", type=int_range(16, 16384), help="requested capture height")
    p.add_argument("--fps", type=float_range(0.0, 1000.0, lo_open=True), help="requested capture frame rate (0 < FPS <= 1000)")
    p.add_argument("--loop", action="store_true", help="replay a --source file from the start when it ends")
    add_model_args(p, default_style=catalog.DEFAULT_STYLE)
    p.add_argument("--no-window", action="store_true", help="headless: print FPS every second")
    p.add_argument("--max-frames", type=positive_int, help="stop after this many stylized frames")
    p.add_argument("--snapshot-dir", default=".", help="where 's' saves PNGs (default: current folder)")
    p.add_argument("--record", help="record the stylized stream to this file (.mp4 .mkv .mov .webm) from the start ('r' toggles); "
                   "SIGTERM/SIGHUP/Ctrl-C finalise it")
    return p.parse_args(argv)


class Session:
    """The live loop's state: current style, options, recorder; key handling."""

    def __init__(self, args: argparse.Namespace, size: tuple[int, int] | None = None, need_fps: float | None = None):
        self.args = args
        self.names = catalog.style_names()
        spec = model_spec(args, default_style=catalog.DEFAULT_STYLE)
        self.stylizer: Stylizer
        self.stylizer, self.opts = open_from_args(args, catalog.DEFAULT_STYLE, size, need_fps)
        self.size = size
        self.style_index = self.names.index(self.stylizer.name) if self.stylizer.name in self.names else (
            self.names.index(spec) if spec in self.names else -1)
        self.recorder: Recorder | None = None
        self.smoother = smoother_from_args(args)

    def switch(self, index: int) -> None:
        if not self.names:
            return
        self.style_index = index % len(self.names)
        backend = self.args.backend if self.args.backend != "trt" else "auto"
        self.stylizer = open_stylizer(self.names[self.style_index], backend, self.args.threads, precision=self.args.precision,
                                      size_hint=self.size, device=self.args.device)
        if self.smoother:
            self.smoother.reset()  # never blend across a style change

    def key(self, k: int, frame_rgb: np.ndarray, fps: float) -> bool:
        """Handle one key; False means quit."""
        ch = chr(k) if 0 <= k < 256 else ""
        if k == 27 or ch == "q":
            return False
        if ch == "n":
            self.switch(self.style_index + 1)
        elif ch == "p":
            self.switch(self.style_index - 1)
        elif ch.isdigit() and ch != "0" and int(ch) <= len(self.names):
            self.switch(int(ch) - 1)
        elif ch in "+=":
            self.opts.strength = min(1.0, round(self.opts.strength + 0.1, 2))
        elif ch in "-_":
            self.opts.strength = max(0.0, round(self.opts.strength - 0.1, 2))
        elif ch == "c":
            self.opts.keep_color = not self.opts.keep_color
        elif ch == "s":
            path = Path(self.args.snapshot_dir) / time.strftime("stylecam_%Y%m%d_%H%M%S.png")
            write_image(path, frame_rgb)
            print(f"saved {path}", file=sys.stderr)
        elif ch == "r":
            self.toggle_record(frame_rgb, fps)
        return True

    def toggle_record(self, frame_rgb: np.ndarray, fps: float, path: str | None = None) -> None:
        if self.recorder:
            self.recorder.close()
            print(f"recorded {self.recorder.path}", file=sys.stderr)
            self.recorder = None
        else:
            target = Path(path or Path(self.args.snapshot_dir) / time.strftime("stylecam_%Y%m%d_%H%M%S.mp4"))
            self.recorder = Recorder(target, fps or 30.0, (frame_rgb.shape[1], frame_rgb.shape[0]))
            print(f"recording to {target}", file=sys.stderr)


def check_display(environ: dict[str, str] | os._Environ = os.environ, platform: str = sys.platform) -> None:
    """Linux without $DISPLAY or $WAYLAND_DISPLAY: say so in one line now. Creating the window there aborts
    inside Qt (exit 134, "reinstalling the application may fix this problem"), which helps nobody."""
    headless_qt = environ.get("QT_QPA_PLATFORM", "").split(":")[0] in ("offscreen", "minimal", "vnc", "eglfs", "linuxfb")
    if platform.startswith("linux") and not environ.get("DISPLAY") and not environ.get("WAYLAND_DISPLAY") and not headless_qt:
        raise StylecastError("no display here ($DISPLAY and $WAYLAND_DISPLAY are unset): use --no-window "
                             "(prints FPS; add --record out.mp4 to keep the result)")


def summary(source: int | str, frames: int, seconds: float, backend: str, recorded: Path | None = None) -> str:
    """The closing line, in stylevideo's shape: what was stylized, how fast, on which backend."""
    name = f"camera {source}" if isinstance(source, int) else str(source)
    return (f"{name}: {frames} frames in {seconds:.1f} s ({frames / max(seconds, 1e-9):.1f} FPS), backend {backend}"
            + (f", recorded {recorded}" if recorded else ""))


def run(args: argparse.Namespace) -> dict:
    if args.max_frames is not None and args.max_frames < 1:
        raise StylecastError("--max-frames must be >= 1")
    if not args.no_window:
        check_display()  # before the camera and the model: nothing to wait for
    if args.record:  # before the camera opens: a bad name is said at once
        check_output_dir(args.record)
        check_codec(default_codec(Path(args.record)), Path(args.record))
    source: int | str = args.source if args.source else args.camera
    capture = LatestFrame(source, args.width, args.height, args.fps, args.loop)  # before the model: no camera fails fast
    width, height = int(capture.cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    camera_fps = capture.cap.get(cv2.CAP_PROP_FPS) or 30.0
    try:
        session = Session(args, (height, width) if width and height else None, min(camera_fps, 30.0))
    except BaseException:
        capture.close()
        raise
    window = not args.no_window
    if window:
        try:
            cv2.namedWindow(WINDOW, cv2.WINDOW_AUTOSIZE)
        except cv2.error:
            capture.close()
            raise DependencyError("this OpenCV build has no GUI (opencv-python-headless?): pip install opencv-python, or use --no-window")
    shown, last_index, t_second, frames_second, fps, ms = 0, 0, time.perf_counter(), 0, 0.0, 0.0
    t_start, recorded = t_second, None
    try:
        while True:
            last_index, bgr = capture.read(last_index)
            if bgr is None:
                break
            t0 = time.perf_counter()
            rgb = bgr_to_rgb(bgr)
            styled = stylize_frames(session.stylizer, rgb[None], session.opts)[0]
            if session.smoother:
                styled = session.smoother(rgb, styled)
            ms = 1000 * (time.perf_counter() - t0)
            if args.record and session.recorder is None and shown == 0:
                session.toggle_record(styled, capture.cap.get(cv2.CAP_PROP_FPS) or 30.0, args.record)
            if session.recorder:
                session.recorder.write(styled)
            shown += 1
            frames_second += 1
            now = time.perf_counter()
            if now - t_second >= 1.0:
                fps = frames_second / (now - t_second)
                t_second, frames_second = now, 0
                if not window:
                    print(f"{fps:.1f} FPS, {ms:.0f} ms/frame ({session.stylizer.describe()})", flush=True)
            if window:
                info = [f"{session.stylizer.name}  {fps:.1f} FPS  {ms:.0f} ms", f"strength {session.opts.strength:.1f}"
                        + ("  colour kept" if session.opts.keep_color else "") + ("  REC" if session.recorder else "")]
                cv2.imshow(WINDOW, overlay(rgb_to_bgr(styled), info))
                k = cv2.waitKey(1) & 0xFF
                if k != 0xFF and not session.key(k, styled, fps):
                    break
            if args.max_frames and shown >= args.max_frames:
                break
    finally:
        capture.close()
        if session.recorder:
            session.recorder.close()
            recorded = session.recorder.path
            print(f"recorded {session.recorder.path}", file=sys.stderr)
        if window:
            cv2.destroyAllWindows()
    if shown == 0:
        raise InputError(f"no frames came from {'camera ' + str(source) if isinstance(source, int) else source}")
    seconds = time.perf_counter() - t_start
    print(summary(source, shown, seconds, session.stylizer.backend, recorded), file=sys.stderr)
    return {"frames": shown, "fps": fps, "seconds": seconds, "average_fps": shown / max(seconds, 1e-9),
            "backend": session.stylizer.backend}


@cli_entry
def main(argv: list[str] | None = None) -> None:
    run(parse_args(argv))


if __name__ == "__main__":
    main()
