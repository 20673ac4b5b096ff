"""`stylevideo IN... -o OUTDIR --ray auto [--chunk-seconds S]`: Ray tasks on a local cluster (one per test
module: `ray.init(num_cpus=2)`), and the chunk planning/joining of runtime/chunks.py in-process.

The Ray tests skip without `pip install 'stylecast[cluster]'`; nothing here needs ../shared (the clips are
the packaged sample clip and a copy of it re-encoded with a keyframe every second).
"""
from __future__ import annotations

import json
import os
import shutil
from fractions import Fraction
from pathlib import Path

import av
import pytest

from runtime.samples import sample_clip
from tests.conftest import assert_user_error, run_cli

FAST = ["--style", "mosaic-lite", "--backend", "ort-cpu", "--max-size", "64", "--quiet", "--json", "--threads", "1"]


def make_keyframe_clip(dst: Path, gop: int = 24) -> Path:
    """The sample clip (3 s at 24 fps, AAC audio) with a keyframe every `gop` frames and B-frames, audio copied."""
    with av.open(str(sample_clip())) as inp, av.open(str(dst), "w") as out:
        v_in, a_in = inp.streams.video[0], inp.streams.audio[0]
        v = out.add_stream("libx264", rate=v_in.average_rate)
        v.width, v.height, v.pix_fmt = v_in.width, v_in.height, "yuv420p"
        v.codec_context.gop_size = gop
        v.options = {"preset": "ultrafast", "bf": "2", "sc_threshold": "0", "keyint_min": str(gop)}
        v.codec_context.time_base = v.time_base = v_in.time_base
        a = out.add_stream_from_template(a_in)
        for packet in inp.demux(v_in, a_in):
            if packet.stream.type == "audio":
                if packet.dts is not None:
                    packet.stream = a
                    out.mux(packet)
                continue
            for frame in packet.decode():
                frame.pict_type = av.video.frame.PictureType.NONE
                out.mux(v.encode(frame))
        out.mux(v.encode())
    return dst


def frame_times(path: Path) -> list[Fraction]:
    """Every decoded frame's presentation time in seconds (exact), in order."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return [f.pts * v.time_base for f in c.decode(v)]


def audio_packets(path: Path) -> list[tuple[Fraction, int]]:
    with av.open(str(path)) as c:
        if not c.streams.audio:
            return []
        a = c.streams.audio[0]
        return [(p.pts * a.time_base, p.size) for p in c.demux(a) if p.size]


def records(stdout: str) -> dict[str, dict]:
    recs = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return {Path(r["input"]).name: r for r in recs}


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("clips")
    make_keyframe_clip(d / "long.mp4")  # keyframes at 0, 1, 2 s: 3 chunks with --chunk-seconds 1
    shutil.copy(sample_clip(), d / "a.mp4")  # one keyframe: never cut
    shutil.copy(sample_clip(), d / "b.mkv")
    (d / "corrupt.mp4").write_bytes(os.urandom(6000))
    return d


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    yield ray
    ray.shutdown()


def failing_ray_batch(clips: Path, tmp_path: Path, names: list[str], *flags: str, kill: str | None = None) -> tuple[Path, Path]:
    """run_batch on copies of the named clips (one of them corrupt.mp4) with --ray auto: it must raise the
    exit-1 summary naming corrupt.mp4. kill: the first worker on this input exits abruptly once its output
    is begun (Ray must retry it). Returns (input folder, OUTDIR)."""
    from runtime import video
    from runtime.batch import run_batch
    from runtime.errors import PartialFailure

    inputs, out = tmp_path / "in", tmp_path / "out"
    shutil.copytree(clips, inputs)
    args = video.parse_args([*(str(inputs / n) for n in names), "-o", str(out), *FAST, "--ray", "auto", *flags])
    if kill is not None:
        args.test_kill_once = str(inputs / kill)
    with pytest.raises(PartialFailure, match=f"{len(names) - 1} of {len(names)} inputs written.*1 failed: corrupt.mp4"):
        run_batch(args)
    if kill is not None:
        assert (inputs / f"{kill}.killed").exists()  # the kill did happen
    return inputs, out


# ---- chunk planning and joining, in-process (no Ray needed) ----

def test_chunks_join_to_the_sources_frames_timestamps_and_audio(clips, tmp_path):
    from runtime.chunks import encode_chunk, join_chunks, plan_chunks, warmup_frames
    from runtime.engines import open_stylizer
    from runtime.frames import FrameOptions

    src, dst = clips / "long.mp4", tmp_path / "long.mp4"
    plan = plan_chunks(src, dst, 1.0, warmup_frames(0.9))
    assert [c.frames for c in plan.chunks] == [24, 24, 24] and plan.audio
    assert plan.chunks[1].warm_from == plan.chunks[0].start and plan.chunks[2].warm_from < plan.chunks[2].start
    plan.prepare()
    net = open_stylizer("mosaic-lite", "ort-cpu", 1)
    opts = FrameOptions(64, 1.0, False)
    for c in plan.chunks:
        stats = encode_chunk(plan, c.index, net, opts, smooth=0.9)
        assert stats["frames"] == 24
    encode_chunk(plan, 1, net, opts, smooth=0.9)  # a retried chunk replaces its part: no frame twice
    stats = join_chunks(plan)
    assert stats["frames"] == 72 and stats["audio"] == "copied"
    assert frame_times(dst) == frame_times(src)
    assert audio_packets(dst) == audio_packets(src)  # copied once, not re-encoded
    assert [c.frames for c in plan_chunks(src, dst, 1.3, 8).chunks] == [48, 24]  # cut at the first keyframe >= 1.3 s
    assert plan_chunks(src, dst, 2.0, 8) is None  # the last 1 s is under half a chunk: it joins the first, one chunk
    assert plan_chunks(clips / "a.mp4", tmp_path / "a.mp4", 1.0, 8) is None  # one keyframe: one task
    assert plan_chunks(src, tmp_path / "x.avi", 1.0, 8) is None  # constant-rate container: one task
    assert warmup_frames(0.0) == 0 and warmup_frames(0.9) == 29


def test_chunk_seconds_flag_errors():
    assert_user_error(run_cli("runtime.video", "a.mp4", "-o", "out", "--chunk-seconds", "5"), "--chunk-seconds", "--ray")
    assert_user_error(run_cli("runtime.video", "a.mp4", "-o", "out", "--ray", "auto", "--chunk-seconds", "0"), "--chunk-seconds")


# ---- on a local Ray cluster ----

def test_ray_batch_with_a_corrupt_input_and_a_killed_worker(ray_cluster, clips, tmp_path, capsys):
    inputs, out = failing_ray_batch(clips, tmp_path, ["a.mp4", "b.mkv", "corrupt.mp4"], "--max-frames", "20", kill="b.mkv")
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "b.mkv"]  # complete, once, no temporaries
    assert len(frame_times(out / "a.mp4")) == 20 and len(frame_times(out / "b.mkv")) == 20
    # the driver may print Ray's own "(raylet) A worker died..." line: the records are the JSON lines
    captured = capsys.readouterr()
    recs = records(captured.out)
    assert recs["a.mp4"]["status"] == "ok" and recs["b.mkv"]["status"] == "ok"
    assert recs["corrupt.mp4"]["status"] == "error" and "not a readable video" in recs["corrupt.mp4"]["error"]
    assert "corrupt.mp4: not a readable video" in captured.err and "Traceback" not in captured.err


def test_ray_chunked_with_a_killed_chunk_worker(ray_cluster, clips, tmp_path, capsys):
    """--chunk-seconds 1: long.mp4 is 3 chunk tasks and a join; the first attempt at its second chunk dies
    mid-chunk. The output has exactly the source's frames, timestamps and audio; the other inputs are
    ordinary tasks (one keyframe) or fail alone (corrupt)."""
    inputs, out = failing_ray_batch(clips, tmp_path, ["long.mp4", "a.mp4", "corrupt.mp4"], "--chunk-seconds", "1",
                                    kill="long.mp4")
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "long.mp4"]  # parts and temporaries gone
    assert frame_times(out / "long.mp4") == frame_times(inputs / "long.mp4")  # 72 frames, none twice, none missing
    assert audio_packets(out / "long.mp4") == audio_packets(inputs / "long.mp4")
    assert frame_times(out / "a.mp4") == frame_times(inputs / "a.mp4")
    captured = capsys.readouterr()
    recs = records(captured.out)
    assert recs["long.mp4"]["status"] == "ok" and recs["long.mp4"]["frames"] == 72 and recs["long.mp4"]["error"] is None
    assert set(recs["long.mp4"]) == {"input", "output", "frames", "seconds", "backend", "status", "error"}
    assert "long.mp4: 3 chunks, joined" in captured.err and "audio copied" in captured.err
