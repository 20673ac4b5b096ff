"""Issue 14: bad flags, unusual video (VFR, concatenated, truncated, tagged, HDR), signals, atomic folders.

Unusual inputs are synthesised here with PyAV (no ffmpeg CLI). Exit codes and signals are checked
on real subprocesses; timestamp and colour checks run stylize_video in-process with an identity net.
"""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from av.video.reformatter import ColorRange

from runtime import media, video
from runtime.frames import FrameOptions
from runtime.samples import sample_clip
from tests.conftest import ROOT, assert_user_error, run_cli


def identity(frames: np.ndarray) -> np.ndarray:
    return frames


def _pattern(i: int, w: int, h: int) -> np.ndarray:
    a = np.zeros((h, w, 3), np.uint8)
    a[..., 0] = (i * 23) % 256
    a[:, : (i * 5) % w, 1] = 200
    return a


def write_clip(path: Path, pts: list[int], time_base: Fraction, size=(64, 48), fmt: str | None = None, codec="libx264",
               options: dict | None = None) -> Path:
    """A clip whose frames carry exactly these timestamps (in time_base units)."""
    with av.open(str(path), "w", format=fmt, options=options or {}) as c:
        s = c.add_stream(codec, rate=25)
        s.width, s.height, s.pix_fmt = *size, "yuv420p"
        s.codec_context.time_base = s.time_base = time_base
        for i, p in enumerate(pts):
            f = av.VideoFrame.from_ndarray(_pattern(i, *size), format="rgb24")
            f.pts, f.time_base = p, time_base
            c.mux(s.encode(f))
        c.mux(s.encode())
    return path


def frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.pts * f.time_base) for f in c.decode(video=0)]


def tags(path: Path) -> tuple[int, int, int, int]:
    with av.open(str(path)) as c:
        cc = c.streams.video[0].codec_context
        return int(cc.color_primaries), int(cc.color_trc), int(cc.colorspace), int(cc.color_range)


def mean_rgb(path: Path) -> np.ndarray:
    with av.open(str(path)) as c:
        return np.mean([f.to_ndarray(format="rgb24").reshape(-1, 3).mean(0) for f in c.decode(video=0)], 0)


def no_temporaries(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.startswith(".")]


# ---- bad flags: one line, exit 2, no output, no traceback ----

CLIP = str(sample_clip())
BAD_FLAGS = [
    ("runtime.video", ["--crf", "-5"], "--crf"), ("runtime.video", ["--crf", "99"], "--crf"),
    ("runtime.video", ["--bitrate", "inf"], "--bitrate"), ("runtime.video", ["--bitrate", "1e30"], "--bitrate"),
    ("runtime.video", ["--bitrate=-4M"], "--bitrate"), ("runtime.video", ["--bitrate", "fast"], "--bitrate"),
    ("runtime.video", ["--fps", "-3"], "--fps"), ("runtime.video", ["--fps", "nan"], "--fps"),
    ("runtime.video", ["--fps", "inf"], "--fps"), ("runtime.video", ["--fps", "0"], "--fps"),
    ("runtime.video", ["--max-frames", "0"], "--max-frames"), ("runtime.video", ["--max-frames", "-5"], "--max-frames"),
    ("runtime.video", ["--threads", "-1"], "--threads"), ("runtime.video", ["--batch", "0"], "--batch"),
    ("runtime.video", ["--max-size", "3"], "--max-size"), ("runtime.video", ["--strength", "1.5"], "--strength"),
    ("runtime.video", ["--smooth", "nan"], "--smooth"), ("runtime.video", ["--codec", "mjpeg2000x"], "codec"),
    ("runtime.video", ["--codec", "aac"], "audio codec"),
    ("runtime.cam", ["--fps", "0"], "--fps"), ("runtime.cam", ["--max-frames", "-1"], "--max-frames"),
    ("runtime.cam", ["--width", "-640"], "--width"), ("runtime.cam", ["--record", "{tmp}/x.xyz"], "x.xyz"),
    ("runtime.cam", ["--record", "{tmp}/x.webm", "--threads", "0"], "--threads"),
]


@pytest.mark.parametrize("module,flags,expect", BAD_FLAGS, ids=[f"{m.split('.')[1]}{' '.join(f)}" for m, f, _ in BAD_FLAGS])
def test_bad_flag_is_one_line_exit_2(tmp_path, module, flags, expect):
    flags = [f.replace("{tmp}", str(tmp_path)) for f in flags]
    io_args = [CLIP, str(tmp_path / "out.mp4")] if module == "runtime.video" else ["--source", CLIP, "--no-window"]
    proc = run_cli(module, *io_args, "--style", "mosaic-lite", *flags, timeout=60)
    assert_user_error(proc, expect)
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flags,expect", [(["--size", "0"], "--size"), (["--save-every", "-1"], "--save-every"),
                                          (["--iters", "0"], "--iters"), (["--lr", "inf"], "--lr")])
def test_gatys_bad_numbers(tmp_path, flags, expect):
    proc = run_cli("train.gatys", "a.jpg", "b.jpg", "-o", str(tmp_path / "o.png"), *flags)
    assert_user_error(proc, expect)
    assert list(tmp_path.iterdir()) == []


def test_fast_bad_numbers_leave_no_run_folder(tmp_path):
    for flags, expect in [(["--steps", "0"], "--steps"), (["--image-size", "-1"], "--image-size"), (["--lr", "nan"], "--lr")]:
        proc = run_cli("train.fast", "--style", "s.jpg", "--data", str(tmp_path), "--out", str(tmp_path / "o.safetensors"), *flags)
        assert_user_error(proc, expect)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("out,flags,expect", [("o.webm", ["--codec", "libx264"], "cannot hold libx264"),
                                              ("o.xyz", [], "unknown output extension"),
                                              ("o.avi", ["--codec", "libvpx-vp9x"], "unknown")])
def test_output_container_checked_before_the_model_loads(tmp_path, out, flags, expect):
    proc = run_cli("runtime.video", CLIP, str(tmp_path / out), "--style", "mosaic-lite", *flags, timeout=60)
    assert_user_error(proc, expect)
    assert list(tmp_path.iterdir()) == []  # not even a folder named o.xyz


def test_default_codec_follows_the_container(tmp_path):
    assert media.default_codec(Path("a.webm")) == "libvpx-vp9" and media.default_codec(Path("a.mkv")) == "libx264"
    out = tmp_path / "o.webm"
    stats = video.stylize_video(sample_clip(), out, identity, FrameOptions(), max_frames=6, progress=False)
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "vp9" and c.streams.audio[0].codec_context.name == "opus"
    assert stats["frames"] == 6


def test_mjpeg_in_mp4_and_avi_rate(tmp_path):
    video.stylize_video(sample_clip(), tmp_path / "m.mp4", identity, FrameOptions(), codec="mjpeg", max_frames=4, progress=False)
    video.stylize_video(sample_clip(), tmp_path / "a.avi", identity, FrameOptions(), max_frames=10, progress=False)
    with av.open(str(tmp_path / "a.avi")) as c:
        assert c.streams.video[0].average_rate == 24  # the input's rate, not the time base's 1/12288
    assert len(frame_times(tmp_path / "m.mp4")) == 4


# ---- timestamps ----

VFR_MS = [0, 40, 80, 200, 240, 260, 280, 500, 540, 580, 620, 1000]


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".mov"])
def test_vfr_timestamps_kept_frame_by_frame(tmp_path, suffix):
    src = write_clip(tmp_path / "vfr.mp4", VFR_MS, Fraction(1, 1000))
    out = tmp_path / f"out{suffix}"
    video.stylize_video(src, out, identity, FrameOptions(), progress=False)
    assert frame_times(src) == pytest.approx([t / 1000 for t in VFR_MS], abs=1e-6)
    assert frame_times(out) == pytest.approx(frame_times(src), abs=1e-6)


def test_cfr_flag_renumbers_at_the_average_rate(tmp_path):
    src = write_clip(tmp_path / "vfr.mp4", VFR_MS, Fraction(1, 1000))
    out = tmp_path / "out.mp4"
    video.stylize_video(src, out, identity, FrameOptions(), cfr=True, progress=False)
    times = frame_times(out)
    assert len(times) == len(VFR_MS)
    assert len(set(np.round(np.diff(times), 6))) == 1  # one constant step


def _concatenated_ts(tmp_path: Path) -> Path:
    """Two MPEG-TS recordings joined byte for byte: the second one's clock starts again near zero."""
    a = write_clip(tmp_path / "a.ts", [900000 + 3600 * i for i in range(12)], Fraction(1, 90000), fmt="mpegts")
    b = write_clip(tmp_path / "b.ts", [3600 * i for i in range(12)], Fraction(1, 90000), fmt="mpegts")
    joined = tmp_path / "joined.ts"
    joined.write_bytes(a.read_bytes() + b.read_bytes())
    return joined


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_concatenated_ts_keeps_every_frame_and_its_spacing(tmp_path, suffix):
    src = _concatenated_ts(tmp_path)
    t_in = frame_times(src)
    jump = int(np.argmin(np.diff(t_in))) + 1
    assert t_in[jump] < t_in[jump - 1]  # the input really goes back in time
    out = tmp_path / f"out{suffix}"
    stats = video.stylize_video(src, out, identity, FrameOptions(), progress=False)
    t_out = frame_times(out)
    assert len(t_out) == len(t_in) and stats["timestamp_jumps"] == 1
    assert np.all(np.diff(t_out) > 0)
    assert t_out[:jump] == pytest.approx(t_in[:jump], abs=1e-3)  # before the splice: unchanged
    assert np.diff(t_out[jump:]) == pytest.approx(np.diff(t_in[jump:]), abs=1e-3)  # after: same spacing
    assert t_out[jump] - t_out[jump - 1] == pytest.approx(0.04, abs=1e-3)  # continues one frame later


def _ts_segment(path: Path, start_s: float) -> Path:
    """An MPEG-TS recording with video and AAC audio whose clocks start at start_s."""
    with av.open(str(path), "w", format="mpegts") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.codec_context.time_base = Fraction(1, 90000)
        a = c.add_stream("aac", rate=48000)
        a.layout = "mono"
        for i in range(12):
            f = av.VideoFrame.from_ndarray(_pattern(i, 64, 48), format="rgb24")
            f.pts, f.time_base = int((start_s + i * 0.04) * 90000), Fraction(1, 90000)
            c.mux(v.encode(f))
        for j in range(12):
            af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            af.sample_rate, af.pts, af.time_base = 48000, int(start_s * 48000) + j * 1024, Fraction(1, 48000)
            c.mux(a.encode(af))
        c.mux(v.encode())
        c.mux(a.encode())
    return path


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_concatenated_ts_with_audio(tmp_path, suffix):
    joined = tmp_path / "joined.ts"
    joined.write_bytes(_ts_segment(tmp_path / "a.ts", 10).read_bytes() + _ts_segment(tmp_path / "b.ts", 0).read_bytes())
    out = tmp_path / f"out{suffix}"
    stats = video.stylize_video(joined, out, identity, FrameOptions(), progress=False)
    assert stats["frames"] == 24 and stats["audio"] == "copied"
    with av.open(str(joined)) as c:
        audio_in = sum(1 for p in c.demux(audio=0) if p.dts is not None and p.size)
    with av.open(str(out)) as c:
        dts = [float(p.dts * p.time_base) for p in c.demux(audio=0) if p.dts is not None and p.size]
    assert len(dts) == audio_in and np.all(np.diff(dts) > 0)
    assert np.all(np.diff(frame_times(out)) > 0)


def test_sample_clip_timestamps_and_audio_sync_unchanged(tmp_path):
    out = tmp_path / "out.mkv"
    video.stylize_video(sample_clip(), out, identity, FrameOptions(), progress=False)
    assert frame_times(out) == pytest.approx(frame_times(sample_clip()), abs=1e-3)  # MKV: 1 ms clock, no shift


# ---- truncated input ----

@pytest.fixture
def truncated(tmp_path) -> Path:
    full = write_clip(tmp_path / "full.mp4", [i * 40 for i in range(40)], Fraction(1, 1000), size=(128, 96),
                      options={"movflags": "+faststart"})
    data = full.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * 0.6)])
    return cut


def test_truncated_input_warns_and_keeps_what_decoded(tmp_path, small_onnx, truncated):
    out = tmp_path / "out.mp4"
    proc = run_cli("runtime.video", str(truncated), str(out), "--model", str(small_onnx), "--quiet", timeout=120)
    assert proc.returncode == 0, proc.stderr
    n = len(frame_times(out))
    assert 0 < n < 40
    assert f"{n} of the 40 frames" in proc.stderr and "warning:" in proc.stderr


def test_truncated_input_strict_exits_2_without_output(tmp_path, small_onnx, truncated):
    out = tmp_path / "out.mp4"
    proc = run_cli("runtime.video", str(truncated), str(out), "--model", str(small_onnx), "--quiet", "--strict", timeout=120)
    assert_user_error(proc, "truncated", "--strict")
    assert not out.exists() and no_temporaries(tmp_path)


# ---- colour ----

def test_bt709_tags_carried_and_colour_right(tmp_path):
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[:] = (200, 40, 60)  # saturated: BT.601 and BT.709 matrices disagree by > 10 levels here
    src = tmp_path / "bt709.mp4"
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        media.Colour(*media.BT709).tag(s.codec_context)
        for i in range(5):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p", dst_colorspace=1, dst_color_range=ColorRange.MPEG)
            media.Colour(*media.BT709).tag(f)
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode())
    with av.open(str(src)) as c:  # sanity: reading it as BT.601 would be visibly wrong
        f = next(c.decode(video=0))
        as_601 = f.reformat(format="rgb24", src_colorspace=5).to_ndarray().reshape(-1, 3).mean(0)
    reference = mean_rgb(src)  # decoded with its own (BT.709) matrix
    assert np.abs(reference - rgb[0, 0]).max() <= 3 and np.abs(as_601 - reference).max() > 10
    for suffix in (".mp4", ".mkv"):
        out = tmp_path / f"out{suffix}"
        video.stylize_video(src, out, identity, FrameOptions(), progress=False)
        assert tags(out) == media.BT709
        assert np.abs(mean_rgb(out) - reference).max() < 2


def _hlg_reference(signal_level: float) -> float:
    """SDR 8-bit level of a grey HLG signal: inverse OETF, 1000-nit OOTF, /203 nits, knee roll-off, 1/2.4."""
    a, b = 0.17883277, 0.28466892
    c = 0.5 - a * np.log(4 * a)
    scene = signal_level ** 2 / 3 if signal_level <= 0.5 else (np.exp((signal_level - c) / a) + b) / 12
    y = 1000 * scene ** 1.2 / 203
    k, w = 0.75, (1000 / 203 - 0.75) / 0.25
    if y > k:
        x = (y - k) / (1 - k)
        y = k + (1 - k) * x * (1 + x / w ** 2) / (1 + x)
    return 255 * min(y, 1.0) ** (1 / 2.4)


@pytest.mark.parametrize("level", [0.75, 0.5])
def test_hlg_10bit_hevc_is_tone_mapped_and_said(tmp_path, level):
    grey = np.full((48, 64, 3), int(level * 65535), np.uint16)
    src = tmp_path / "hlg.mp4"
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx265", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p10le"
        s.options = {"x265-params": "log-level=error"}
        hdr = media.Colour(9, 18, 9, 1)
        hdr.tag(s.codec_context)
        for i in range(4):
            f = av.VideoFrame.from_ndarray(grey, format="rgb48le").reformat(format="yuv420p10le", dst_colorspace=9,
                                                                             dst_color_range=ColorRange.MPEG)
            hdr.tag(f)
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode())
    out = tmp_path / "out.mp4"
    stats = video.stylize_video(src, out, identity, FrameOptions(), progress=False)
    assert tags(out) == media.BT709
    assert any("HDR (HLG)" in w and "tone-mapped" in w for w in stats["warnings"])
    got, want = mean_rgb(out), _hlg_reference(level)
    assert np.abs(got - want).max() < 4, (got, want)
    assert abs(got.mean() - 255 * level) > 8  # not the silent 8-bit reading of the 10-bit signal


def test_mp4_index_first(tmp_path):
    out = tmp_path / "o.mp4"
    video.stylize_video(sample_clip(), out, identity, FrameOptions(), max_frames=5, progress=False)
    data = out.read_bytes()
    assert 0 < data.find(b"moov") < data.find(b"mdat")


def test_tiny_frames_are_padded_for_the_net(tmp_path, small_onnx):
    src = write_clip(tmp_path / "tiny.mp4", list(range(5)), Fraction(1, 10), size=(6, 4))
    out = tmp_path / "out.mp4"
    proc = run_cli("runtime.video", str(src), str(out), "--style", "mosaic-lite", "--backend", "ort-cpu", "--quiet", timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(frame_times(out)) == 5


def test_huge_frames_refused_with_a_max_size_that_fits(monkeypatch):
    class Cpu:
        backend = "onnxruntime CPU, 2 threads"

    monkeypatch.setattr(video, "_available_memory", lambda: 8 * 2**30)
    with pytest.raises(video.InputError, match=r"--max-size \d+"):
        video.check_memory((8000, 8000), FrameOptions(), Cpu())
    video.check_memory((8000, 8000), FrameOptions(max_size=1920), Cpu())  # fits once capped
    video.check_memory((1080, 1920), FrameOptions(), Cpu())


# ---- faults: signals, disk full ----

@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    return write_clip(tmp_path_factory.mktemp("long") / "long.mp4", [i * 40 for i in range(150)], Fraction(1, 1000), size=(320, 240))


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_signal_removes_the_temporary_and_keeps_the_old_output(tmp_path, long_clip, sig):
    out = tmp_path / "out.mp4"
    out.write_bytes(b"old output")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "runtime.video", str(long_clip), str(out), "--style", "mosaic",
                             "--backend", "ort-cpu", "--quiet"], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]:
        time.sleep(0.05)
    time.sleep(0.5)  # inside the frame loop
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err[-1500:]
    assert "Traceback" not in err
    assert out.read_bytes() == b"old output" and no_temporaries(tmp_path)


def test_stylecam_record_is_finalised_on_sigterm(tmp_path, small_onnx):
    rec = tmp_path / "rec.mp4"
    log = tmp_path / "cam.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    fps_log = tmp_path / "fps.log"
    with open(log, "w") as f, open(fps_log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "runtime.cam", "--source", CLIP, "--loop", "--model", str(small_onnx),
                                 "--no-window", "--record", str(rec)], cwd=ROOT, env=env, stdout=out, stderr=f)

    def frames_so_far() -> float:  # stylecam prints the frame rate of each second: their sum counts frames, however slow the CPU
        return sum(float(line.split()[0]) for line in fps_log.read_text().splitlines() if line.endswith(")") and " FPS" in line)

    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and ("recording to" not in log.read_text() or frames_so_far() < 8):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    assert proc.returncode == 143, log.read_text()[-1500:]
    assert len(frame_times(rec)) >= 5  # a playable recording up to the signal
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cam.log", "fps.log", "rec.mp4"]


def test_disk_full_is_one_line_and_leaves_nothing(tmp_path, small_onnx):
    def limit() -> None:  # the file-size limit stands in for a full disk (EFBIG like ENOSPC)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20000, 20000))

    out = tmp_path / "out.mp4"
    proc = subprocess.run([sys.executable, "-m", "runtime.video", CLIP, str(out), "--model", str(small_onnx), "--quiet"],
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          preexec_fn=limit, timeout=120)
    assert_user_error(proc, "file too large", "nothing was written")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder(tmp_path, small_onnx):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        proc = run_cli("runtime.video", CLIP, str(ro / "o.mp4"), "--model", str(small_onnx), "--quiet")
        assert_user_error(proc, "not writable")
    finally:
        ro.chmod(0o755)


# ---- folders ----

@pytest.fixture
def folder_with_a_bad_image(tmp_path) -> Path:
    import cv2

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        cv2.imwrite(str(src / f"f{i}.png"), np.full((40, 56, 3), 60 * i, np.uint8))
    (src / "f3.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    return src


def test_folder_output_is_all_or_nothing(tmp_path, small_onnx, folder_with_a_bad_image):
    out = tmp_path / "out"
    out.mkdir()
    (out / "f0.png").write_bytes(b"earlier result")
    proc = run_cli("runtime.video", str(folder_with_a_bad_image), str(out), "--model", str(small_onnx))
    assert_user_error(proc, "f3.jpg", "nothing was written")
    assert [p.name for p in out.iterdir()] == ["f0.png"] and (out / "f0.png").read_bytes() == b"earlier result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "out"]  # no temporary folder left beside it


def test_keep_going_writes_the_good_ones_and_exits_1(tmp_path, small_onnx, folder_with_a_bad_image):
    out = tmp_path / "new"
    proc = run_cli("runtime.video", str(folder_with_a_bad_image), str(out), "--model", str(small_onnx), "--keep-going")
    assert proc.returncode == 1, proc.stderr
    assert "3 of 4" in proc.stderr and "f3.jpg" in proc.stderr.strip().splitlines()[-1]
    assert sorted(p.name for p in out.iterdir()) == ["f0.png", "f1.png", "f2.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "new"]


def test_colliding_output_names_refused(tmp_path, small_onnx):
    import cv2

    src = tmp_path / "in"
    src.mkdir()
    for name in ("x.jpg", "x.png"):
        cv2.imwrite(str(src / name), np.full((40, 56, 3), 90, np.uint8))
    proc = run_cli("runtime.video", str(src), str(tmp_path / "out"), "--model", str(small_onnx))
    assert_user_error(proc, "x.jpg", "x.png")
    assert not (tmp_path / "out").exists()


def test_image_to_unknown_extension_is_an_error_not_a_folder(tmp_path, small_onnx):
    proc = run_cli("runtime.video", str(Path(CLIP).with_name("coffee.jpg")), str(tmp_path / "out.xyz"), "--model", str(small_onnx))
    assert_user_error(proc, "unknown output extension")
    assert list(tmp_path.iterdir()) == []


# ---- train.fast ----

def test_fast_interrupted_before_a_checkpoint_leaves_no_run_folder(tmp_path, photo_dir, style_png, random_vgg16, monkeypatch):
    from train import fast

    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(fast.losses, "perceptual_loss", interrupted)
    out = tmp_path / "s.safetensors"
    args = fast.parse_args(["--style", str(style_png), "--data", str(photo_dir), "--out", str(out), "--vgg", str(random_vgg16),
                            "--image-size", "32", "--style-size", "64", "--batch-size", "2", "--steps", "4", "--quiet",
                            "--width", "0.25", "--sample-every", "0"])
    with pytest.raises(KeyboardInterrupt):
        fast.train(args)
    assert list(tmp_path.iterdir()) == []
