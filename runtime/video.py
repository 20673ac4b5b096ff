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

from runtime import catalog
from runtime.cli_common import add_model_args, open_from_args, smoother_from_args
from runtime.errors import InputError, PartialFailure, StylecastError, cli_entry
from runtime.files import atomic_folder, atomic_path, check_output_dir
from runtime.frames import IMAGE_SUFFIXES, FrameOptions, read_image, resize_to, stylize_frames, write_image
from runtime.media import (AUDIO_COPY_OK, AUDIO_REENCODE, BT709, CFR_ONLY, CONTAINER_FORMATS, DEFAULT_PRESET, VIDEO_SUFFIXES,
                           X264_PRESETS, Colour, Timeline, check_codec, default_codec, display_rotation, frame_size_and_rate,
                           from_rgb, mux_options, open_input, start_encoding, to_rgb, video_stream)
from runtime.validate import Parser, bitrate as validate_bitrate, float_range, int_range, positive_int
from runtime.validate import chunk_seconds as validate_chunk_seconds

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


def stylize_video(src: Path, dst: Path, stylizer, opts: FrameOptions, codec: str | None = None, crf: int | None = 18,
                  bitrate: str | int | None = None, preset: str | None = DEFAULT_PRESET, batch: int = 1, progress: bool = True,
                  max_frames: int | None = None, frame_hook: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
                  clock=None, strict: bool = False, cfr: bool = False) -> dict:
    """Stylize src into dst (atomic). frame_hook(source_rgb, styled_rgb) -> final rgb runs per frame, in order.
    clock: a runtime.profile.StageClock to time each stage (--profile). strict: a truncated or damaged input
    is an error (no output) rather than a warning. cfr: renumber frames at the average rate (AVI always is)."""
    stage = clock or (lambda _name: contextlib.nullcontext())
    import av
    from tqdm import tqdm

    check_output_dir(dst)
    codec = codec or default_codec(dst)
    check_codec(codec, dst)
    inp = open_input(src)
    v_in = inp.streams.video[0]
    a_in = inp.streams.audio[0] if inp.streams.audio else None
    v_in.thread_type = "AUTO"
    width, height = v_in.codec_context.width, v_in.codec_context.height
    rate = v_in.average_rate or v_in.guessed_rate or Fraction(25)
    cfr = cfr or dst.suffix.lower() in CFR_ONLY
    total = min(filter(None, [v_in.frames, max_frames]), default=None)
    colour_in = Colour.of(v_in.codec_context)
    colour_out = colour_in.output()
    pipe = _Pipeline()
    stats: dict = {"frames": 0, "infer_seconds": 0.0, "warnings": [], "decoded": 0, "timestamp_jumps": 0}
    if colour_in.hdr:
        stats["warnings"].append(f"note: {src.name} is {colour_in.bits}-bit HDR ({colour_in.hdr}); it is tone-mapped to SDR BT.709 "
                                 f"(8-bit output)")
    elif colour_in.bits > 8:
        stats["warnings"].append(f"note: {src.name} is {colour_in.bits}-bit; the output is 8-bit")
    t_start = time.perf_counter()

    with atomic_path(dst) as tmp:
        options = mux_options(dst)
        try:
            out = av.open(str(tmp), "w", format=CONTAINER_FORMATS[dst.suffix.lower()], options=options)
        except (av.error.FFmpegError, OSError) as exc:
            raise InputError(f"cannot write {dst.name}: {exc}") from None
        try:
            v_out, pix_fmt = video_stream(out, codec, rate, width, height, crf, bitrate, preset)
            tb = Fraction(1, 1) / Fraction(rate).limit_denominator(100000) if cfr else v_in.time_base
            v_out.codec_context.time_base = tb
            v_out.time_base = tb
            colour_out.tag(v_out.codec_context)
            rotation = display_rotation(src)
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
            start_encoding(out, codec)
            step = max(1, round(1 / (rate * v_in.time_base))) if v_in.time_base else 1
            v_time = Timeline(step)
            a_time = Timeline(1)

            def demux() -> None:
                streams = [v_in] + ([a_in] if a_in is not None else [])
                try:
                    for packet in inp.demux(*streams):
                        if pipe.stop.is_set():
                            return
                        if packet.stream.type == "audio":
                            if packet.dts is None:
                                continue
                            if transcode is None:  # copied packets keep their timestamps, made monotonic
                                a_time.step = max(1, packet.duration or 1)
                                dts = a_time(packet.dts)
                                packet.pts, packet.dts = (packet.pts if packet.pts is not None else packet.dts) + dts - packet.dts, dts
                                items = [packet]
                            else:  # for re-encoding, decode here (the input's thread)
                                items = packet.decode()
                            if not all(pipe.put(pipe.q_in, ("a", i)) for i in items):
                                return
                            continue
                        with stage("decode"):
                            frames = [(to_rgb(f, colour_in), v_time(f.pts)) for f in packet.decode()]
                        for rgb, pts in frames:
                            if not pipe.put(pipe.q_in, ("v", rgb, pts)):
                                return
                            stats["decoded"] += 1
                            if max_frames and stats["decoded"] >= max_frames:
                                pipe.put(pipe.q_in, _END)
                                return
                except av.error.FFmpegError as exc:
                    if stats["decoded"] == 0 or strict:
                        raise InputError(f"corrupt video data in {src} after {stats['decoded']} frames: {exc}") from None
                    stats["warnings"].append(f"warning: {src.name}: decoding stopped at damaged data after frame {stats['decoded']} ({exc})")
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
                        if not pipe.put(pipe.q_out, ("v", p[1], s, p[2])):
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
            first_pts = None
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
                _, source, styled, pts = item
                if frame_hook is not None:
                    with stage("smoothing"):
                        styled = frame_hook(source, styled)
                with stage("encode"):
                    frame = from_rgb(styled, pix_fmt, colour_out)
                    if cfr:  # constant rate: frame numbers from where the input's first frame starts
                        if first_pts is None:
                            first_pts = round(pts * v_in.time_base / tb)
                        frame.pts = first_pts + stats["frames"]
                    else:
                        frame.pts = pts
                    frame.time_base = tb
                    out.mux(v_out.encode(frame))
                stats["frames"] += 1
                bar.update(1)
            for t in threads:
                t.join(timeout=5)
            if pipe.error is not None:
                raise pipe.error
            if stats["frames"] == 0:
                raise InputError(f"no frames could be decoded from {src}")
            out.mux(v_out.encode())
            if transcode is not None:
                out.mux(a_out.encode())
            bar.close()
        except BaseException:
            pipe.stop.set()
            for t in locals().get("threads", []):
                t.join(timeout=2)  # the workers poll `stop`: let them leave native code before the files close
            raise
        finally:
            out.close()
            inp.close()
        expected = v_in.frames or 0
        if not max_frames and expected > stats["frames"]:
            message = f"{src.name} is truncated or damaged: {stats['frames']} of the {expected} frames its container lists could be decoded"
            if strict:
                raise InputError(message + " (--strict)")
            stats["warnings"].append(f"warning: {message}; wrote those {stats['frames']} (--strict refuses such inputs)")
    stats["timestamp_jumps"] = v_time.jumps
    if v_time.jumps and not cfr:
        stats["warnings"].append(f"note: {src.name}: timestamps jumped back {v_time.jumps} time(s) (concatenated streams?); "
                                 f"the output continues from the last frame instead")
    stats["seconds"] = time.perf_counter() - t_start
    stats["fps"] = stats["frames"] / max(stats["seconds"], 1e-9)
    stats["audio"] = "none" if a_in is None else ("copied" if transcode is None else "re-encoded")
    return stats


def _image_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"no images in folder {folder}")
    return files


def output_kind(dst: Path) -> str:
    """'image', 'video' or 'folder' from the output path: a folder has no extension (or exists as one)."""
    suffix = dst.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return "image"
    if suffix in VIDEO_SUFFIXES:
        return "video"
    if dst.is_dir() or not suffix:
        return "folder"
    raise InputError(f"unknown output extension '{dst.suffix}' for {dst.name}: use an image "
                     f"({', '.join(IMAGE_SUFFIXES)}), a video ({', '.join(VIDEO_SUFFIXES)}) or a folder (no extension)")


def folder_names(files: list[Path]) -> list[str]:
    """Output names for a folder of images (stem + .png); refuses inputs whose outputs would collide."""
    seen: dict[str, Path] = {}
    for f in files:
        name = f.stem + ".png"
        if name in seen:
            raise InputError(f"{seen[name].name} and {f.name} would both be written as {name}; rename one of them")
        seen[name] = f
    return list(seen)


def stylize_images(files: list[Path], dst: Path, stylizer, opts: FrameOptions, fps: float, keep_going: bool = False,
                   **video_kw) -> dict:
    """A single image -> image; images -> a folder of images (all or nothing; --keep-going writes the good
    ones and raises PartialFailure listing the bad) or a video at --fps."""
    t0 = time.perf_counter()
    kind = output_kind(dst)
    if kind == "image":
        if len(files) != 1:
            raise InputError("several input images need an output folder or video")
        write_image(dst, stylize_frames(stylizer, read_image(files[0])[None], opts)[0])
    elif kind == "video":
        return _images_to_video(files, dst, stylizer, opts, fps, **video_kw)
    else:
        names = folder_names(files)
        failed: list[str] = []
        with atomic_folder(dst) as tmp:
            for f, name in zip(files, names):
                try:
                    write_image(tmp / name, stylize_frames(stylizer, read_image(f)[None], opts)[0])
                except InputError as exc:
                    if not keep_going:
                        raise InputError(f"{exc}; nothing was written to {dst} (--keep-going writes the other images)") from None
                    failed.append(f.name)
        if failed:
            raise PartialFailure(f"{len(files) - len(failed)} of {len(files)} images written to {dst}; "
                                 f"failed: {', '.join(failed)}")
    secs = time.perf_counter() - t0
    return {"frames": len(files), "seconds": secs, "fps": len(files) / max(secs, 1e-9), "audio": "none"}


def _images_to_video(files: list[Path], dst: Path, stylizer, opts: FrameOptions, fps: float, codec: str | None = None,
                     crf: int | None = 18, bitrate: str | int | None = None, preset: str | None = DEFAULT_PRESET, **_) -> dict:
    import av

    codec = codec or default_codec(dst)
    check_codec(codec, dst)
    first = read_image(files[0])
    h, w = first.shape[:2]
    t0 = time.perf_counter()
    options = mux_options(dst)
    with atomic_path(dst) as tmp, av.open(str(tmp), "w", format=CONTAINER_FORMATS[dst.suffix.lower()], options=options) as out:
        stream, pix_fmt = video_stream(out, codec, Fraction(fps).limit_denominator(1001), w, h, crf, bitrate, preset)
        colour = Colour(*BT709)  # photos carry no YUV matrix: tag what we convert with
        colour.tag(stream.codec_context)
        start_encoding(out, codec)
        resized = 0
        for f in files:
            rgb = read_image(f)
            if rgb.shape[:2] != (h, w):  # a video has one size: the first image's
                rgb = resize_to(rgb, h, w)
                resized += 1
            out.mux(stream.encode(from_rgb(stylize_frames(stylizer, rgb[None], opts)[0], pix_fmt, colour)))
        out.mux(stream.encode())
    secs = time.perf_counter() - t0
    warnings = [f"note: {resized} of {len(files)} images resized to the first image's {w}x{h}"] if resized else []
    return {"frames": len(files), "seconds": secs, "fps": len(files) / max(secs, 1e-9), "audio": "none", "warnings": warnings}


def _summary(dst: Path, stats: dict, backend: str, video: bool) -> str:
    """The closing line: frames, time, rate and audio for videos; images and time for stills and folders."""
    n, secs = stats["frames"], stats["seconds"]
    if video:
        return f"{dst}: {n} frames in {secs:.1f} s ({stats['fps']:.1f} FPS), backend {backend}, audio {stats['audio']}"
    return f"{dst}: {n} image{'s' if n != 1 else ''} in {secs:.1f} s, backend {backend}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = Parser(prog="stylevideo", description=__doc__.splitlines()[0],
               epilog="forms: `stylevideo IN OUT` (one video, image or folder of images -> a video, image or folder); "
                      "`stylevideo IN... -o OUTDIR` (a batch: files, folders, globs, one output each); "
                      "`stylevideo photo.jpg sheet.jpg --sheet` (a contact sheet of every built-in style)")
    p.add_argument("paths", nargs="+", metavar="PATH",
                   help="IN OUT: video file, image, or folder of images, then the output: video (.mp4 .mkv .mov .webm .avi), "
                        "image, or folder (a path without extension); with -o, every PATH is an input")
    b = p.add_argument_group("several inputs (with -o)")
    b.add_argument("-o", "--output-dir", metavar="OUTDIR",
                   help="process every PATH (files, folders of videos/images, globs) into this folder, one output per input")
    b.add_argument("--jobs", type=int_range(1, 64), default=1, help="inputs processed in parallel, 1..64 (CPU threads are divided between them)")
    b.add_argument("--skip-existing", action="store_true", help="leave inputs whose output already exists (resume a batch)")
    b.add_argument("--ray", metavar="auto|ADDRESS",
                   help="run each input as a Ray task (pip install 'stylecast[cluster]'): 'auto' joins this machine's cluster "
                        "(or starts a local one), ADDRESS another (e.g. ray://head:10001); OUTDIR must be a shared folder")
    b.add_argument("--chunk-seconds", type=validate_chunk_seconds, metavar="S",
                   help="with --ray: cut each video at keyframes into chunks of about S seconds (1..86400), one Ray task each, "
                        "joined without re-encoding (a few frames before each chunk warm up the temporal smoothing)")
    b.add_argument("--json", action="store_true",
                   help="one JSON object per job on stdout: input, output, frames, seconds, backend, status (ok|error|skipped), error")
    s = p.add_argument_group("contact sheet")
    s.add_argument("--sheet", action="store_true",
                   help="IN is a photo, OUT an image: one labelled sheet of the photo in every built-in style (or those of --style a,b,c)")
    s.add_argument("--cell", type=int_range(64, 2048), default=320, help="--sheet: long side of each picture in pixels (default 320)")
    add_model_args(p, default_style=catalog.DEFAULT_STYLE)
    e = p.add_argument_group("encoding")
    e.add_argument("--codec", help="video encoder (default: libvpx-vp9 for .webm, libx264 otherwise)")
    e.add_argument("--crf", type=int_range(0, 51), default=18, help="constant rate factor 0..51 for x264/x265 (default 18, lower = better)")
    e.add_argument("--bitrate", type=validate_bitrate, help="target bitrate instead of --crf, e.g. 4M or 800k (10k..1G)")
    e.add_argument("--preset", default=DEFAULT_PRESET, choices=X264_PRESETS, metavar="PRESET",
                   help=f"x264/x265 speed preset: {', '.join(X264_PRESETS)} (default {DEFAULT_PRESET}; x264's own default 'medium' is 3x slower)")
    e.add_argument("--fps", type=float_range(0.0, 1000.0, lo_open=True), default=25.0,
                   help="frame rate when the input is a folder of images (0 < FPS <= 1000)")
    e.add_argument("--cfr", action="store_true",
                   help="constant frame rate output: renumber frames at the input's average rate (AVI always is; "
                        "by default each frame keeps its own timestamp, so variable-rate input stays variable)")
    e.add_argument("--batch", type=int_range(1, 256), default=1, help="frames per inference call, 1..256 (larger helps GPUs)")
    e.add_argument("--max-frames", type=positive_int, help="stop after N frames (a preview; audio is cut near the same point)")
    e.add_argument("--strict", action="store_true",
                   help="a truncated or damaged input is an error (exit 2, no output) instead of a warning with the frames that decoded")
    e.add_argument("--keep-going", action="store_true",
                   help="folder output: write the images that worked, list the ones that failed, exit 1")
    e.add_argument("--quiet", action="store_true",
                   help="no progress bar and no notes (backend, precision measurement); the one-line summary, warnings and errors still print")
    e.add_argument("--realtime", action="store_true",
                   help="the net must keep up with the video's frame rate: measure it first, and say so (or with --auto-lite switch to the -lite net) if not")
    e.add_argument("--profile", action="store_true", help="print where each frame's time goes (decode, inference, smoothing, encode...)")
    args = p.parse_args(argv)
    args.inputs, args.input, args.output = [], None, None
    if args.output_dir:
        args.inputs = list(args.paths)
    elif len(args.paths) == 2:
        args.input, args.output = args.paths
    else:
        p.error(f"give IN OUT, or several inputs with -o OUTDIR (got {len(args.paths)} path{'s' if len(args.paths) > 1 else ''})")
    if args.ray and not args.output_dir:
        p.error("--ray runs a batch: give the inputs with -o OUTDIR")
    if args.chunk_seconds and not args.ray:
        p.error("--chunk-seconds cuts videos into Ray tasks: use it with --ray")
    return args


def check_job(src: Path, dst: Path, codec: str | None = None) -> tuple[bool, list[Path]]:
    """Everything about one input/output pair that can be said before a model loads (one line each):
    the input exists, the output is a kind this input can become, its folder and codec are usable.
    Returns (image_input, image files)."""
    if not src.exists():
        raise InputError(f"input not found: {src}")
    if src.resolve() == dst.resolve():
        raise InputError("output would overwrite the input")
    image_input = src.is_dir() or src.suffix.lower() in IMAGE_SUFFIXES
    kind = output_kind(dst)
    if kind != "folder":
        check_output_dir(dst)
    if kind == "video":
        check_codec(codec or default_codec(dst), dst)
    elif not image_input:
        raise InputError(f"a video input needs a video output ({', '.join(VIDEO_SUFFIXES)}), got {dst.name}")
    files = (_image_files(src) if src.is_dir() else [src]) if image_input else []
    if kind == "folder":
        folder_names(files)
    return image_input, files


def process_job(src: Path, dst: Path, stylizer, opts: FrameOptions, image_input: bool, files: list[Path], smooth: float = 0.0,
                fps: float = 25.0, keep_going: bool = False, batch: int = 1, progress: bool = True, max_frames: int | None = None,
                clock=None, strict: bool = False, cfr: bool = False, **encode) -> dict:
    """One checked job (see check_job): images or a video through the stylizer; the stats dict, with
    'backend' and 'output' added. encode: codec, crf, bitrate, preset. smooth: temporal smoothing strength."""
    from runtime.temporal import TemporalSmoother

    if image_input:
        stats = stylize_images(files, dst, stylizer, opts, fps, keep_going=keep_going, **encode)
    else:
        smoother = TemporalSmoother(smooth) if smooth > 0 else None
        stats = stylize_video(src, dst, stylizer, opts, batch=batch, progress=progress, frame_hook=smoother,
                              max_frames=max_frames, clock=clock, strict=strict, cfr=cfr, **encode)
        stats["scene_cuts"] = smoother.cuts if smoother else None
    stats["backend"], stats["output"] = getattr(stylizer, "backend", "?"), str(dst)
    return stats


def run(args: argparse.Namespace) -> dict:
    src, dst = Path(args.input), Path(args.output)
    if args.batch < 1:
        raise StylecastError("--batch must be >= 1")
    if getattr(args, "sheet", False) or "," in (args.style or ""):
        from runtime.sheet import run_sheet

        return run_sheet(args)
    image_input, files = check_job(src, dst, args.codec)  # before the model loads: a bad output is said at once
    smoother_from_args(args)  # validate before the model loads
    size, rate = frame_size_and_rate(src)
    stylizer, opts = open_from_args(args, catalog.DEFAULT_STYLE, size, rate if args.realtime else None, source_fps=rate)
    check_memory(size, opts, stylizer, args.batch)
    clock = None
    if args.profile:
        from runtime.profile import StageClock

        clock = stylizer.clock = StageClock()
    stats = process_job(src, dst, stylizer, opts, image_input, files, smooth=args.smooth, fps=args.fps, keep_going=args.keep_going,
                        batch=args.batch, progress=not args.quiet, max_frames=args.max_frames, clock=clock, strict=args.strict,
                        cfr=args.cfr, codec=args.codec, crf=args.crf, bitrate=args.bitrate, preset=args.preset)
    for line in stats.get("warnings", []):
        print(line, file=sys.stderr)
    print(_summary(dst, stats, stylizer.backend, dst.suffix.lower() in VIDEO_SUFFIXES), file=sys.stderr)
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


BYTES_PER_PIXEL = 900  # peak host memory of the full net on ONNX Runtime CPU, measured (~840 B per input pixel)


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def check_memory(size: tuple[int, int] | None, opts: FrameOptions, stylizer, batch: int = 1) -> None:
    """Refuse, with the --max-size that would fit, frames whose CPU inference needs more memory than is free."""
    backend = str(getattr(stylizer, "backend", "")).lower()
    if size is None or any(k in backend for k in ("cuda", "tensorrt", "gpu")):
        return
    h, w = size
    if opts.max_size and max(h, w) > opts.max_size:
        scale = opts.max_size / max(h, w)
        h, w = h * scale, w * scale
    need, free = h * w * BYTES_PER_PIXEL * batch, _available_memory()
    if free is not None and need > free:
        fit = int(max(h, w) * (free / need) ** 0.5) // 16 * 16
        raise InputError(f"a {int(w)}x{int(h)} frame needs about {need / 2**30:.1f} GiB for the network, "
                         f"{free / 2**30:.1f} GiB is free; use --max-size {max(16, fit)} or smaller")


def run_json(args: argparse.Namespace) -> dict:
    """run(), with its record printed as one JSON line on stdout: also when it fails (then re-raised,
    so the exit code is the same as without --json)."""
    from runtime.batch import job_record, print_record

    try:
        stats = run(args)
    except (StylecastError, OSError, MemoryError, KeyboardInterrupt) as exc:
        print_record(job_record(args.input, args.output, error=exc))
        raise
    print_record(job_record(args.input, args.output, stats=stats))
    return stats


@cli_entry
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.output_dir:
        from runtime.batch import run_batch

        run_batch(args)
    elif args.json:
        run_json(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
