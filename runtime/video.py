"""`stylevideo in.mp4 out.mp4 --style mosaic`: stylize a video file (or an image, or a folder of images).

Decode (PyAV) -> stylize -> encode run on three threads joined by bounded queues, so the network
never waits on the codec. Frame rate, time base, timestamps, size and rotation metadata are kept;
the audio stream is copied packet for packet (re-encoded only if the container cannot hold it).
The output is written to a temporary file and renamed only when complete.
"""
from __future__ import annotations

import argparse
import contextlib
import queue
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Callable

import numpy as np

from runtime.cli_common import add_model_args, open_from_args, smoother_from_args
from runtime.errors import InputError, StylecastError, cli_entry
from runtime.files import atomic_path, check_output_dir
from runtime.frames import IMAGE_SUFFIXES, FrameOptions, read_image, stylize_frames, write_image

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi")
X264_FAMILY = ("libx264", "libx265", "h264", "hevc")
# x264's default "medium" costs ~57 ms of CPU per stylized 640x360 frame (more than the lite net's
# inference); "veryfast" costs 19 ms for the same file size at the same CRF (benchmarks, README Speed)
DEFAULT_PRESET = "veryfast"
X264_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")

# audio codecs each container can hold as they are; anything else is re-encoded
AUDIO_COPY_OK = {
    ".mp4": {"aac", "mp3", "ac3", "eac3", "alac", "opus", "flac"}, ".m4v": {"aac", "mp3", "ac3", "alac"},
    ".mov": {"aac", "mp3", "ac3", "alac", "pcm_s16le", "pcm_s24le"}, ".mkv": None,  # None: anything
    ".webm": {"opus", "vorbis"}, ".avi": {"mp3", "ac3", "pcm_s16le"},
}
AUDIO_REENCODE = {".webm": "libopus"}  # default: aac
_END = object()


class _Pipeline:
    """Three stages joined by bounded queues; the first exception stops all and is re-raised."""

    def __init__(self, depth: int = 8):
        self.q_in: queue.Queue = queue.Queue(depth)
        self.q_out: queue.Queue = queue.Queue(depth)
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def put(self, q: queue.Queue, item) -> bool:
        while not self.stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def get(self, q: queue.Queue):
        while not self.stop.is_set():
            try:
                return q.get(timeout=0.1)
            except queue.Empty:
                continue
        return _END

    def run(self, target: Callable[[], None]) -> threading.Thread:
        def wrapped():
            try:
                target()
            except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                if self.error is None:
                    self.error = exc
                self.stop.set()

        t = threading.Thread(target=wrapped, daemon=True)
        t.start()
        return t


def _open_input(path: Path):
    import av

    if not path.exists():
        raise InputError(f"input not found: {path}")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise InputError(f"not a readable video: {path} ({exc.__class__.__name__})") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"no video stream in {path}")
    return container


def _rotation(path: Path) -> float:
    """Display rotation (degrees) of the first frame: players apply it; we copy it to the output stream."""
    import av

    try:
        with av.open(str(path)) as c:
            for frame in c.decode(video=0):
                return float(getattr(frame, "rotation", 0) or 0)
    except av.error.FFmpegError:
        pass
    return 0.0


def stylize_video(src: Path, dst: Path, stylizer, opts: FrameOptions, codec: str = "libx264", crf: int | None = 18,
                  bitrate: str | None = None, preset: str | None = DEFAULT_PRESET, batch: int = 1, progress: bool = True, max_frames: int | None = None,
                  frame_hook: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None, clock=None) -> dict:
    """Stylize src into dst (atomic). frame_hook(source_rgb, styled_rgb) -> final rgb runs per frame, in order.
    clock: a runtime.profile.StageClock to time each stage (--profile)."""
    stage = clock or (lambda _name: contextlib.nullcontext())
    import av
    from tqdm import tqdm

    check_output_dir(dst)
    if dst.suffix.lower() not in VIDEO_SUFFIXES:
        raise InputError(f"output must be a video file ({', '.join(VIDEO_SUFFIXES)}), got {dst.name}")
    inp = _open_input(src)
    v_in = inp.streams.video[0]
    a_in = inp.streams.audio[0] if inp.streams.audio else None
    v_in.thread_type = "AUTO"
    width, height = v_in.codec_context.width, v_in.codec_context.height
    rate = v_in.average_rate or v_in.guessed_rate or Fraction(25)
    total = min(filter(None, [v_in.frames, max_frames]), default=None)
    pipe = _Pipeline()
    stats = {"frames": 0, "infer_seconds": 0.0}

    with atomic_path(dst) as tmp:
        out = av.open(str(tmp), "w", format=None)
        try:
            v_out = _video_stream(out, codec, rate, width, height, crf, bitrate, preset)
            v_out.time_base = v_in.time_base
            rotation = _rotation(src)
            if rotation:
                v_out.set_display_rotation(rotation)
            a_out, transcode = None, None
            if a_in is not None:
                allowed = AUDIO_COPY_OK.get(dst.suffix.lower(), set())
                if allowed is None or a_in.codec_context.name in allowed:
                    a_out = out.add_stream_from_template(a_in)
                else:
                    a_out = out.add_stream(AUDIO_REENCODE.get(dst.suffix.lower(), "aac"), rate=48000)
                    a_out.layout = a_in.codec_context.layout
                    transcode = av.AudioResampler(format=a_out.codec_context.format, layout=a_out.codec_context.layout,
                                                  rate=a_out.codec_context.sample_rate)

            decoded = [0]

            def demux() -> None:
                streams = [v_in] + ([a_in] if a_in is not None else [])
                try:
                    for packet in inp.demux(*streams):
                        if pipe.stop.is_set():
                            return
                        if packet.stream.type == "audio":
                            # copied packets pass as they are; for re-encoding, decode here (the input's thread)
                            items = [packet] if transcode is None else packet.decode()
                            if packet.dts is not None and not all(pipe.put(pipe.q_in, ("a", i)) for i in items):
                                return
                            continue
                        with stage("decode"):
                            frames = [(f.to_ndarray(format="rgb24"), f.pts, f.time_base) for f in packet.decode()]
                        for rgb, pts, time_base in frames:
                            item = ("v", rgb, pts, time_base)
                            if not pipe.put(pipe.q_in, item):
                                return
                            decoded[0] += 1
                            if max_frames and decoded[0] >= max_frames:
                                pipe.put(pipe.q_in, _END)
                                return
                except av.error.FFmpegError as exc:
                    raise InputError(f"corrupt video data in {src}: {exc}") from None
                pipe.put(pipe.q_in, _END)

            def stylize() -> None:
                pending: list = []

                def flush() -> bool:
                    if not pending:
                        return True
                    t0 = time.perf_counter()
                    styled = stylize_frames(stylizer, np.stack([p[1] for p in pending]), opts)
                    stats["infer_seconds"] += time.perf_counter() - t0
                    for p, s in zip(pending, styled):
                        if not pipe.put(pipe.q_out, ("v", p[1], s, p[2], p[3])):
                            return False
                    pending.clear()
                    return True

                while True:
                    item = pipe.get(pipe.q_in)
                    if item is _END:
                        flush()
                        pipe.put(pipe.q_out, _END)
                        return
                    if item[0] == "a":
                        if not flush() or not pipe.put(pipe.q_out, item):
                            return
                        continue
                    if pending and pending[0][1].shape != item[1].shape:
                        flush()
                    pending.append(item)
                    if len(pending) >= batch and not flush():
                        return

            threads = [pipe.run(demux), pipe.run(stylize)]
            bar = tqdm(total=total, unit="frame", desc=f"stylevideo {src.name}", disable=not progress, dynamic_ncols=True)
            t_start = time.perf_counter()
            while True:
                item = pipe.get(pipe.q_out)
                if item is _END:
                    break
                if item[0] == "a":
                    if transcode is None:
                        packet = item[1]
                        packet.stream = a_out
                        out.mux(packet)
                    else:
                        for rf in transcode.resample(item[1]):
                            rf.pts = None
                            out.mux(a_out.encode(rf))
                    continue
                _, source, styled, pts, time_base = item
                if frame_hook is not None:
                    with stage("smoothing"):
                        styled = frame_hook(source, styled)
                with stage("encode"):
                    frame = av.VideoFrame.from_ndarray(styled, format="rgb24")
                    frame.pts, frame.time_base = pts, time_base
                    out.mux(v_out.encode(frame))
                stats["frames"] += 1
                bar.update(1)
            for t in threads:
                t.join(timeout=5)
            if pipe.error is not None:
                raise pipe.error
            out.mux(v_out.encode())
            if transcode is not None:
                out.mux(a_out.encode())
            bar.close()
        except BaseException:
            pipe.stop.set()
            raise
        finally:
            out.close()
            inp.close()
        if stats["frames"] == 0:
            raise InputError(f"no frames could be decoded from {src}")
    stats["seconds"] = time.perf_counter() - t_start
    stats["fps"] = stats["frames"] / max(stats["seconds"], 1e-9)
    stats["audio"] = "none" if a_in is None else ("copied" if transcode is None else "re-encoded")
    return stats


def _video_stream(out, codec: str, rate, width: int, height: int, crf: int | None, bitrate: str | None,
                  preset: str | None = DEFAULT_PRESET):
    """The output video stream: 4:2:0 where the size allows (odd sizes need 4:4:4), CRF or a bitrate, x264 preset."""
    import av

    try:
        stream = out.add_stream(codec, rate=rate)
    except (av.error.FFmpegError, ValueError) as exc:
        raise InputError(f"unknown or unavailable video codec '{codec}' ({exc})") from None
    stream.width, stream.height = width, height
    stream.pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
    options = {}
    if bitrate:
        stream.bit_rate = _parse_bitrate(bitrate)
    elif crf is not None and codec in X264_FAMILY:
        options["crf"] = str(crf)
    if preset and codec in X264_FAMILY:
        options["preset"] = preset
    stream.options = options
    return stream


def _parse_bitrate(text: str) -> int:
    mult = {"k": 1_000, "m": 1_000_000}.get(text[-1].lower(), 1)
    try:
        return int(float(text[:-1] if mult > 1 else text) * mult)
    except ValueError:
        raise InputError(f"bad --bitrate '{text}': use e.g. 4M or 800k") from None


def _image_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"no images in folder {folder}")
    return files


def stylize_images(files: list[Path], dst: Path, stylizer, opts: FrameOptions, fps: float, **video_kw) -> dict:
    """A single image -> image; a folder of images -> a folder of images or a video at --fps."""
    t0 = time.perf_counter()
    if dst.suffix.lower() in IMAGE_SUFFIXES:
        if len(files) != 1:
            raise InputError("several input images need an output folder or video")
        write_image(dst, stylize_frames(stylizer, read_image(files[0])[None], opts)[0])
    elif dst.suffix.lower() in VIDEO_SUFFIXES:
        return _images_to_video(files, dst, stylizer, opts, fps, **video_kw)
    else:
        dst.mkdir(parents=True, exist_ok=True)
        for f in files:
            write_image(dst / (f.stem + ".png"), stylize_frames(stylizer, read_image(f)[None], opts)[0])
    secs = time.perf_counter() - t0
    return {"frames": len(files), "seconds": secs, "fps": len(files) / max(secs, 1e-9), "audio": "none"}


def _images_to_video(files: list[Path], dst: Path, stylizer, opts: FrameOptions, fps: float, codec: str = "libx264",
                     crf: int | None = 18, bitrate: str | None = None, preset: str | None = DEFAULT_PRESET, **_) -> dict:
    import av

    first = read_image(files[0])
    h, w = first.shape[:2]
    t0 = time.perf_counter()
    with atomic_path(dst) as tmp, av.open(str(tmp), "w") as out:
        stream = _video_stream(out, codec, Fraction(fps).limit_denominator(1001), w, h, crf, bitrate, preset)
        for f in files:
            rgb = read_image(f)
            if rgb.shape[:2] != (h, w):
                raise InputError(f"{f.name} is {rgb.shape[1]}x{rgb.shape[0]}, the first image is {w}x{h}")
            out.mux(stream.encode(av.VideoFrame.from_ndarray(stylize_frames(stylizer, rgb[None], opts)[0], format="rgb24")))
        out.mux(stream.encode())
    secs = time.perf_counter() - t0
    return {"frames": len(files), "seconds": secs, "fps": len(files) / max(secs, 1e-9), "audio": "none"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="stylevideo", description=__doc__.splitlines()[0])
    p.add_argument("input", help="video file, image, or folder of images")
    p.add_argument("output", help="video (.mp4 .mkv .mov .webm), image, or folder")
    add_model_args(p, default_style="mosaic")
    e = p.add_argument_group("encoding")
    e.add_argument("--codec", default="libx264", help="video encoder (default libx264)")
    e.add_argument("--crf", type=int, default=18, help="constant rate factor for x264/x265 (default 18, lower = better)")
    e.add_argument("--bitrate", help="target bitrate instead of --crf, e.g. 4M")
    e.add_argument("--preset", default=DEFAULT_PRESET, choices=X264_PRESETS, metavar="PRESET",
                   help=f"x264/x265 speed preset: {', '.join(X264_PRESETS)} (default {DEFAULT_PRESET}; x264's own default 'medium' is 3x slower)")
    e.add_argument("--fps", type=float, default=25.0, help="frame rate when the input is a folder of images")
    e.add_argument("--batch", type=int, default=1, help="frames per inference call (larger helps GPUs)")
    e.add_argument("--max-frames", type=int, help="stop after N frames (a preview; audio is cut near the same point)")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.add_argument("--realtime", action="store_true",
                   help="the net must keep up with the video's frame rate: measure it first, and say so (or with --auto-lite switch to the -lite net) if not")
    e.add_argument("--profile", action="store_true", help="print where each frame's time goes (decode, inference, smoothing, encode...)")
    return p.parse_args(argv)


def run(args: argparse.Namespace) -> dict:
    src, dst = Path(args.input), Path(args.output)
    if not src.exists():
        raise InputError(f"input not found: {src}")
    if args.batch < 1:
        raise StylecastError("--batch must be >= 1")
    if src.resolve() == dst.resolve():
        raise InputError("output would overwrite the input")
    if not src.is_dir():
        check_output_dir(dst)
    smoother_from_args(args)  # validate before the model loads
    size, rate = _frame_size_and_rate(src)
    stylizer, opts = open_from_args(args, "mosaic", size, rate if args.realtime else None)
    clock = None
    if args.profile:
        from runtime.profile import StageClock

        clock = stylizer.clock = StageClock()
    kw = dict(codec=args.codec, crf=args.crf, bitrate=args.bitrate, preset=args.preset)
    if src.is_dir():
        stats = stylize_images(_image_files(src), dst, stylizer, opts, args.fps, **kw)
    elif src.suffix.lower() in IMAGE_SUFFIXES:
        stats = stylize_images([src], dst, stylizer, opts, args.fps, **kw)
    else:
        smoother = smoother_from_args(args)
        stats = stylize_video(src, dst, stylizer, opts, batch=args.batch, progress=not args.quiet, frame_hook=smoother,
                              max_frames=args.max_frames, clock=clock, **kw)
        stats["scene_cuts"] = smoother.cuts if smoother else None
    print(f"{dst}: {stats['frames']} frames in {stats['seconds']:.1f} s ({stats['fps']:.1f} FPS), "
          f"backend {stylizer.backend}, audio {stats['audio']}", file=sys.stderr)
    if clock is not None:
        from runtime.cli_common import frame_ms
        from runtime.profile import format_report

        clock.stop()
        stylizer.clock = None
        shape = stylizer.last_shape  # the net's input size, after --max-size: timed alone, the pipeline idle
        alone = frame_ms(stylizer, shape) if shape else None
        stats["profile"] = clock.report(stats["frames"], stats["seconds"], alone)
        print(format_report(stats["profile"]), file=sys.stderr)
    return stats


def _frame_size_and_rate(src: Path) -> tuple[tuple[int, int] | None, float | None]:
    """(height, width) and frame rate of a video or image input, read from headers only (None when unknown)."""
    if src.is_dir():
        return None, None
    if src.suffix.lower() in IMAGE_SUFFIXES:
        import cv2

        img = cv2.imread(str(src), cv2.IMREAD_REDUCED_GRAYSCALE_2)  # cheap: only the size is needed
        return ((img.shape[0] * 2, img.shape[1] * 2) if img is not None else None), None
    import av

    try:
        with av.open(str(src)) as c:
            v = c.streams.video[0]
            rate = v.average_rate or v.guessed_rate
            return (v.codec_context.height, v.codec_context.width), (float(rate) if rate else None)
    except (av.error.FFmpegError, OSError, IndexError):
        return None, None  # stylize_video reports it properly


@cli_entry
def main(argv: list[str] | None = None) -> None:
    run(parse_args(argv))


if __name__ == "__main__":
    main()
