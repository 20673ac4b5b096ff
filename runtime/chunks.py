"""`--ray ... --chunk-seconds S`: one long video as several Ray tasks, joined without re-encoding.

- plan_chunks() reads the source's packet headers (nothing is decoded) and cuts it at keyframes about
  every S seconds.
- encode_chunk() stylizes one chunk. It first stylizes (and smooths) a few frames *before* the chunk
  without writing them, so TemporalSmoother's state at the chunk's first frame is close to a single
  pass's, then writes the chunk's frames with the source's own timestamps to a part file, and the
  encoder's (pts, dts) to a stamps file (each written whole and renamed: a retried chunk replaces its
  part, never adds to it).
- join_chunks() remuxes the parts' encoded packets into the output (every part has the same encoder
  settings, size and time base, so they form one stream) with the source's audio packets copied once,
  and checks that the output holds exactly the source's frames and timestamps.
- submit_chunked() is the Ray side: one task per chunk, and a join task that Ray starts when they are done.

Inputs that cannot be cut this way (images, one keyframe, no per-frame timestamps, --cfr, --max-frames,
audio the container cannot hold as it is) are left to the ordinary one-task-per-input path.
"""
from __future__ import annotations

import argparse
import heapq
import json
import math
import shutil
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from runtime.errors import InputError, StylecastError
from runtime.files import atomic_path
from runtime.frames import IMAGE_SUFFIXES, FrameOptions, stylize_frames
from runtime.temporal import TemporalSmoother
from runtime.media import (AUDIO_COPY_OK, CFR_ONLY, CONTAINER_FORMATS, DEFAULT_PRESET, VIDEO_SUFFIXES, Colour, Timeline,
                           default_codec, display_rotation, from_rgb, mux_options, open_input, start_encoding, to_rgb,
                           video_stream)

# NUT holds any codec; it may rescale and shift timestamps, so the join takes them from each part's stamps file
PART_FORMAT, PART_SUFFIX = "nut", ".nut"
MAX_WARMUP = 48
WARMUP_RESIDUE = 0.05  # the start state's weight left in the smoother after the warm-up frames


def warmup_frames(smooth: float) -> int:
    """Overlap frames stylized before each chunk: enough that the smoother's recursive blend (weight at
    most `smooth` per frame) has forgotten its empty start to WARMUP_RESIDUE (29 at the default 0.9)."""
    if smooth <= 0:
        return 0
    return min(MAX_WARMUP, max(4, math.ceil(math.log(WARMUP_RESIDUE) / math.log(smooth))))


@dataclass(frozen=True)
class Chunk:
    """Frames warm_from <= pts < start are stylized but not written; start <= pts < end are written."""

    index: int
    seek: int  # the keyframe decoding starts at (at or before warm_from)
    warm_from: int
    start: int  # a keyframe (the source's first frame for chunk 0)
    end: int | None  # the next chunk's start; None: to the end
    frames: int  # frames written


@dataclass
class ChunkPlan:
    """How one input is cut; timestamps are in the source video stream's time base."""

    src: Path
    dst: Path
    time_base: Fraction
    frame_pts: list[int]
    chunks: list[Chunk]
    audio: bool
    created: float = field(default_factory=time.time)

    @property
    def parts(self) -> Path:
        """A hidden folder beside the output (matched by batch._drop_temporaries' `.<stem>.*`)."""
        return self.dst.parent / f".{self.dst.name}.chunks"

    def prepare(self) -> None:
        """An empty parts folder (parts of an interrupted earlier run removed). Chunk tasks never create it:
        one still running after its batch was interrupted (and the folder removed) fails instead."""
        shutil.rmtree(self.parts, ignore_errors=True)
        self.parts.mkdir()

    def part(self, index: int) -> Path:
        """Chunk `index`'s encoded video."""
        return self.parts / f"part{index:04d}{PART_SUFFIX}"

    def stamps(self, index: int) -> Path:
        """Its packets' (pts, dts) in the source's time base, as the encoder gave them."""
        return self.parts / f"part{index:04d}.json"


def scan(src: Path) -> tuple[Fraction, list[int], list[int], str | None] | None:
    """(time base, every frame's pts in presentation order, keyframe pts, audio codec or None) from packet
    headers; None when a packet has no timestamp or two frames share one (the video cannot be cut by them)."""
    import av

    with av.open(str(src)) as c:
        v = c.streams.video[0]
        audio = c.streams.audio[0].codec_context.name if c.streams.audio else None
        pts, keys = [], []
        for packet in c.demux(v):
            if packet.size == 0:
                continue
            if packet.pts is None:
                return None
            pts.append(packet.pts)
            if packet.is_keyframe:
                keys.append(packet.pts)
        tb = v.time_base
    pts.sort()
    if not pts or len(set(pts)) != len(pts):
        return None
    return tb, pts, sorted(keys), audio


def plan_chunks(src: Path, dst: Path, seconds: float, overlap: int) -> ChunkPlan | None:
    """Cut src at keyframes into chunks of at least `seconds` (a last one under half that joins the one
    before); `overlap` frames before each chunk warm it up. None when there would be one chunk or the
    input cannot be cut (see the module's docstring)."""
    import av

    suffix = dst.suffix.lower()
    if src.is_dir() or src.suffix.lower() in IMAGE_SUFFIXES or suffix not in VIDEO_SUFFIXES or suffix in CFR_ONLY:
        return None
    try:
        scanned = scan(src)
    except (av.error.FFmpegError, OSError, IndexError):
        return None  # the ordinary path says what is wrong with it
    if scanned is None:
        return None
    tb, pts, keys, audio = scanned
    allowed = AUDIO_COPY_OK.get(suffix, set())
    if audio is not None and allowed is not None and audio not in allowed:
        return None  # it would be re-encoded: the ordinary path does that
    index = {p: i for i, p in enumerate(pts)}
    step = round(seconds / tb)
    starts = [pts[0]]
    for k in keys:
        if k in index and k >= starts[-1] + step:
            starts.append(k)
    if len(starts) > 1 and pts[-1] - starts[-1] < step // 2:
        starts.pop()
    if len(starts) < 2:
        return None
    ends = starts[1:] + [None]
    chunks = []
    for i, (start, end) in enumerate(zip(starts, ends)):
        first = index[start]
        warm_from = pts[max(0, first - overlap)]
        seek = max((k for k in keys if k <= warm_from), default=pts[0])
        chunks.append(Chunk(i, seek, warm_from, start, end, (len(pts) if end is None else index[end]) - first))
    return ChunkPlan(src, dst, tb, pts, chunks, audio is not None)


def _decode(src: Path, chunk: Chunk, seek: int | None) -> Iterator:
    """The source's decoded frames with chunk.warm_from <= pts < chunk.end, in order, decoding from `seek`
    (None: from the start of the file)."""
    import av

    inp = open_input(src)
    try:
        v_in = inp.streams.video[0]
        v_in.thread_type = "AUTO"
        if seek is not None:
            inp.seek(seek, stream=v_in, backward=True, any_frame=False)
        for frame in inp.decode(v_in):
            if frame.pts is None or frame.pts < chunk.warm_from:
                continue
            if chunk.end is not None and frame.pts >= chunk.end:
                return
            yield frame
    except av.error.FFmpegError as exc:
        raise InputError(f"corrupt video data in {src} (chunk {chunk.index}): {exc}") from None
    finally:
        inp.close()


def _chunk_frames(src: Path, chunk: Chunk) -> Iterator:
    """_decode from the chunk's keyframe; from the file's start if that seek lands after warm_from."""
    frames = _decode(src, chunk, chunk.seek if chunk.seek > 0 else None)
    first = next(frames, None)
    if first is not None and first.pts != chunk.warm_from:
        frames.close()
        frames = _decode(src, chunk, None)
        first = next(frames, None)
    if first is not None:
        yield first
        yield from frames


def encode_chunk(plan: ChunkPlan, index: int, stylizer, opts: FrameOptions, smooth: float = 0.0, batch: int = 1,
                 codec: str | None = None, crf: int | None = 18, bitrate: str | int | None = None,
                 preset: str | None = DEFAULT_PRESET) -> dict[str, Any]:
    """Stylize chunk `index` of the plan into its part file (atomic); its stats. The encoder settings are
    stylize_video's (media.video_stream), so the parts join into one stream."""
    import av

    chunk = plan.chunks[index]
    t0 = time.perf_counter()
    codec = codec or default_codec(plan.dst)
    with av.open(str(plan.src)) as probe:
        v_in = probe.streams.video[0]
        width, height = v_in.codec_context.width, v_in.codec_context.height
        rate = v_in.average_rate or v_in.guessed_rate or Fraction(25)
        colour_in = Colour.of(v_in.codec_context)
    colour_out = colour_in.output()
    smoother = TemporalSmoother(smooth) if smooth > 0 else None
    stats: dict[str, Any] = {"frames": 0, "warmup": 0, "infer_seconds": 0.0}
    with atomic_path(plan.part(index)) as tmp:
        with av.open(str(tmp), "w", format=PART_FORMAT) as out:
            v_out, pix_fmt = video_stream(out, codec, rate, width, height, crf, bitrate, preset)
            v_out.codec_context.time_base = v_out.time_base = plan.time_base
            colour_out.tag(v_out.codec_context)
            start_encoding(out, codec)
            pending: list[tuple[int, np.ndarray]] = []
            stamps: list[tuple[int, int | None]] = []  # (pts, dts) as the encoder gave them: muxers may shift them

            def mux(packets) -> None:
                for packet in packets:
                    stamps.append((packet.pts, packet.dts))
                    out.mux(packet)

            def flush() -> None:
                t = time.perf_counter()
                styled = stylize_frames(stylizer, np.stack([rgb for _, rgb in pending]), opts)
                stats["infer_seconds"] += time.perf_counter() - t
                for (pts, source), out_rgb in zip(pending, styled):
                    if smoother is not None:
                        out_rgb = smoother(source, out_rgb)
                    if pts < chunk.start:  # warm-up: the smoother sees it, the output does not
                        stats["warmup"] += 1
                        continue
                    frame = from_rgb(out_rgb, pix_fmt, colour_out)
                    frame.pts, frame.time_base = pts, plan.time_base
                    mux(v_out.encode(frame))
                    stats["frames"] += 1
                pending.clear()

            for frame in _chunk_frames(plan.src, chunk):
                rgb = to_rgb(frame, colour_in)
                if pending and pending[0][1].shape != rgb.shape:
                    flush()
                pending.append((frame.pts, rgb))
                if len(pending) >= batch:
                    flush()
            if pending:
                flush()
            mux(v_out.encode())
        if stats["frames"] != chunk.frames:
            raise InputError(f"{plan.src.name}: chunk {index} decoded {stats['frames']} of its {chunk.frames} frames "
                             f"(truncated or damaged input)")
        with atomic_path(plan.stamps(index)) as tmp_stamps:  # before the part: a part is never without its stamps
            tmp_stamps.write_text(json.dumps(stamps))
    stats["seconds"] = time.perf_counter() - t0
    return stats


def _video_packets(plan: ChunkPlan) -> Iterator:
    """The parts' video packets in order, with the encoder's timestamps (in the source's time base) restored;
    a dts that does not follow the last one's is an error."""
    import av

    last = None
    for chunk in plan.chunks:
        stamps = json.loads(plan.stamps(chunk.index).read_text())
        with av.open(str(plan.part(chunk.index))) as c:
            packets = [p for p in c.demux(video=0) if p.size]
            if len(packets) != len(stamps):
                raise StylecastError(f"{plan.src.name}: chunk {chunk.index} holds {len(packets)} packets, "
                                     f"its encoder gave {len(stamps)}")
            for packet, (pts, dts) in zip(packets, stamps):
                if last is not None and dts is not None and dts <= last:
                    raise StylecastError(f"{plan.src.name}: chunk {chunk.index} overlaps the one before it")
                packet.pts, packet.dts, packet.time_base = pts, dts, plan.time_base
                last = dts if dts is not None else last
                yield packet


def _audio_packets(a_in, inp) -> Iterator:
    """The source's audio packets as they are, dts made monotonic as stylize_video does."""
    a_time = Timeline(1)
    for packet in inp.demux(a_in):
        if packet.dts is None:
            continue
        a_time.step = max(1, packet.duration or 1)
        dts = a_time(packet.dts)
        packet.pts, packet.dts = (packet.pts if packet.pts is not None else packet.dts) + dts - packet.dts, dts
        yield packet


def join_chunks(plan: ChunkPlan) -> dict[str, Any]:
    """Remux the parts' video (no re-encoding) and the source's audio (copied once) into plan.dst (atomic).
    Raises StylecastError unless the output's frames are exactly the source's, timestamps included."""
    import av

    t0 = time.perf_counter()
    parts = [path for c in plan.chunks for path in (plan.part(c.index), plan.stamps(c.index))]
    missing = [p.name for p in parts if not p.is_file()]
    if missing:
        raise StylecastError(f"{plan.src.name}: chunk parts missing: {', '.join(missing)}")
    written: list[Fraction] = []
    inp = open_input(plan.src)
    try:
        a_in = inp.streams.audio[0] if plan.audio else None
        with atomic_path(plan.dst) as tmp:
            with av.open(str(plan.part(0))) as first, \
                    av.open(str(tmp), "w", format=CONTAINER_FORMATS[plan.dst.suffix.lower()], options=mux_options(plan.dst)) as out:
                v_out = out.add_stream_from_template(first.streams.video[0])
                v_out.time_base = plan.time_base
                rotation = display_rotation(plan.src)
                if rotation:
                    v_out.set_display_rotation(rotation)
                a_out = out.add_stream_from_template(a_in) if a_in is not None else None
                streams = [_video_packets(plan)] + ([_audio_packets(a_in, inp)] if a_in is not None else [])
                for packet in heapq.merge(*streams, key=lambda p: (p.pts if p.dts is None else p.dts) * p.time_base):
                    if packet.stream.type == "video":
                        written.append(packet.pts * packet.time_base)
                        packet.stream = v_out
                    else:
                        packet.stream = a_out
                    out.mux(packet)
            source = [p * plan.time_base for p in plan.frame_pts]
            if sorted(written) != source:
                raise StylecastError(f"{plan.src.name}: the joined chunks hold {len(written)} frames, the source {len(source)} "
                                     f"(or their timestamps differ); nothing was written")
    finally:
        inp.close()
    return {"frames": len(written), "join_seconds": time.perf_counter() - t0, "audio": "copied" if a_in is not None else "none"}


# ---- Ray: a task per chunk, then a join task (Ray runs it once the chunks are done; no scheduler here) ----

def _chunk_attempt(job, args: argparse.Namespace, threads: int, plan: ChunkPlan, index: int) -> dict[str, Any]:
    """One chunk on a Ray worker: its stats, or {'error': one line} (an input error is not retried)."""
    from runtime.batch import Engines, Job, _test_kill, describe_error
    from runtime.media import frame_size_and_rate
    from runtime.video import check_memory

    _test_kill(args, job.input, Job(job.input, plan.part(index)), when=index == min(1, len(plan.chunks) - 1))
    try:
        net = Engines(args, 1, threads=threads, quiet=True).get()
        opts = FrameOptions(args.max_size, args.strength, args.preserve_color)
        check_memory(frame_size_and_rate(plan.src)[0], opts, net, args.batch)
        stats = encode_chunk(plan, index, net, opts, smooth=args.smooth, batch=args.batch, codec=args.codec, crf=args.crf,
                             bitrate=args.bitrate, preset=args.preset)
    except Exception as exc:  # noqa: BLE001 - reported in the input's record
        return {"error": describe_error(exc)}
    stats["backend"] = getattr(net, "backend", "?")
    return stats


def _join_attempt(job, plan: ChunkPlan, *results: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The input's record and stats once every chunk has finished: the joined output, or the first failure."""
    from runtime.batch import describe_error, job_record

    try:
        for i, r in enumerate(results):
            if "error" in r:
                raise StylecastError(f"chunk {i + 1} of {len(results)}: {r['error']}")
        stats = join_chunks(plan)
    except Exception as exc:  # noqa: BLE001 - one input's failure is its record
        return job_record(job.input, job.output, error=describe_error(exc)), {}
    finally:
        shutil.rmtree(plan.parts, ignore_errors=True)
    seconds = max(time.time() - plan.created, 1e-9)
    stats.update(seconds=seconds, fps=stats["frames"] / seconds, backend=results[0]["backend"], status="ok", chunks=len(results),
                 warmup=sum(r["warmup"] for r in results),
                 warnings=[f"note: {job.input.name}: {len(results)} chunks, joined"])
    return job_record(job.input, job.output, stats=stats), stats


def submit_chunked(ray, job, args: argparse.Namespace, threads: int):
    """The join task's ObjectRef for an input cut into chunks, or None for one task per input (no
    --chunk-seconds, an input that fails or is skipped anyway, or one that cannot be cut)."""
    from runtime.video import check_job

    seconds = getattr(args, "chunk_seconds", None)
    if not seconds or job.problem or args.cfr or args.max_frames or (args.skip_existing and job.output.exists()):
        return None
    try:
        if check_job(job.input, job.output, args.codec)[0]:
            return None
        plan = plan_chunks(job.input, job.output, seconds, warmup_frames(args.smooth))
    except StylecastError:
        return None
    if plan is None:
        return None
    plan.prepare()
    chunk = ray.remote(_chunk_attempt).options(num_cpus=threads, max_retries=3, retry_exceptions=False)
    join = ray.remote(_join_attempt).options(num_cpus=0.1, max_retries=3, retry_exceptions=False)
    shared = ray.put(plan)  # once in the object store, not once per task (frame_pts can be long)
    return join.remote(job, shared, *[chunk.remote(job, args, threads, shared, c.index) for c in plan.chunks])
