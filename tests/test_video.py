import fractions
import os

import av
import numpy as np
import pytest

from runtime import media, video
from runtime.engines import OrtStylizer
from runtime.frames import FrameOptions, read_image
from runtime.samples import sample_clip, sample_images
from tests.conftest import SHARED, assert_user_error, need, run_cli


def probe(path):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        info = {"frames": sum(1 for _ in c.decode(video=0)), "rate": v.average_rate, "size": (v.codec_context.width, v.codec_context.height),
                "time_base": v.time_base}
    with av.open(str(path)) as c:
        info["pts"] = [p.pts for p in c.demux(video=0) if p.pts is not None]
    with av.open(str(path)) as c:
        if c.streams.audio:
            a = c.streams.audio[0]
            info["audio_codec"] = a.codec_context.name
            info["audio"] = [bytes(p) for p in c.demux(a) if p.size]
    return info


def assert_same_video(src, dst):
    a, b = probe(src), probe(dst)
    for key in ("frames", "rate", "size", "time_base"):
        assert a[key] == b[key], key
    assert sorted(a["pts"]) == sorted(b["pts"])
    if "audio" in a:
        assert b.get("audio_codec") == a["audio_codec"]
        assert b["audio"] == a["audio"]  # every audio packet copied unchanged
    else:
        assert "audio" not in b


def test_sample_clip_round_trip_keeps_timing_and_audio(small_onnx, tmp_path):
    out = tmp_path / "out.mp4"
    proc = run_cli("runtime.video", str(sample_clip()), str(out), "--model", str(small_onnx), "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert_same_video(sample_clip(), out)
    assert "audio copied" in proc.stderr and "FPS" in proc.stderr


def test_shared_clips_round_trip(small_onnx, tmp_path):
    stylizer = OrtStylizer(small_onnx, use_cuda=False)
    for name in ("realshort.mp4", "fox.mp4"):
        src = need(SHARED / "videos" / name)
        out = tmp_path / name
        stats = video.stylize_video(src, out, stylizer, FrameOptions(max_size=96), batch=2, progress=False)
        assert_same_video(src, out)
        assert stats["audio"] == ("none" if name == "fox.mp4" else "copied")


def test_audio_reencoded_when_container_cannot_hold_it(small_onnx, tmp_path):
    out = tmp_path / "out.webm"
    stats = video.stylize_video(sample_clip(), out, OrtStylizer(small_onnx, use_cuda=False), FrameOptions(max_size=64),
                                codec="libvpx-vp9", crf=None, bitrate="500k", progress=False)
    assert stats["audio"] == "re-encoded"
    info = probe(out)
    assert info["audio_codec"] == "opus" and info["frames"] == probe(sample_clip())["frames"]


def test_failure_mid_run_leaves_no_output(small_onnx, tmp_path):
    net = OrtStylizer(small_onnx, use_cuda=False)
    calls = {"n": 0}

    def flaky(frames):
        calls["n"] += 1
        if calls["n"] == 10:
            raise RuntimeError("GPU fell off the bus")
        return net(frames)

    out = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="bus"):
        video.stylize_video(sample_clip(), out, flaky, FrameOptions(), progress=False)
    assert os.listdir(tmp_path) == []


def test_image_and_folder_inputs(small_onnx, tmp_path):
    img = sample_images()[0]
    out = tmp_path / "one.png"
    proc = run_cli("runtime.video", str(img), str(out), "--model", str(small_onnx))
    assert proc.returncode == 0 and "1 image" in proc.stderr  # the summary line
    assert read_image(out).shape == read_image(img).shape
    quiet = run_cli("runtime.video", str(img), str(tmp_path / "quiet.png"), "--model", str(small_onnx), "--quiet")
    assert quiet.returncode == 0 and (tmp_path / "quiet.png").is_file()
    lines = quiet.stderr.strip().splitlines()  # the one-line summary only, without the notes a plain run prints
    assert len(lines) == 1 and "1 image in" in lines[0] and len(proc.stderr.strip().splitlines()) > 1
    folder = tmp_path / "frames"
    folder.mkdir()
    import cv2

    for i in range(3):
        cv2.imwrite(str(folder / f"f{i}.png"), np.full((48, 64, 3), 40 * i, np.uint8))
    proc = run_cli("runtime.video", str(folder), str(tmp_path / "seq.mp4"), "--model", str(small_onnx), "--fps", "12")
    assert proc.returncode == 0, proc.stderr
    info = probe(tmp_path / "seq.mp4")
    assert info["frames"] == 3 and info["rate"] == 12
    assert run_cli("runtime.video", str(folder), str(tmp_path / "outdir"), "--model", str(small_onnx)).returncode == 0
    assert sorted(p.name for p in (tmp_path / "outdir").iterdir()) == ["f0.png", "f1.png", "f2.png"]


def _audio_only(path):
    with av.open(str(path), "w") as c:
        s = c.add_stream("aac", rate=44100)
        s.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = 44100, 0, fractions.Fraction(1, 44100)
        for p in s.encode(frame):
            c.mux(p)
        for p in s.encode():
            c.mux(p)


@pytest.mark.parametrize("case", ["missing", "corrupt", "no_video", "unwritable", "unknown_style", "bad_codec"])
def test_bad_inputs_one_line_exit_2(small_onnx, tmp_path, case):
    src, dst = sample_clip(), tmp_path / "out.mp4"
    model = ["--model", str(small_onnx)]
    expect = {"missing": "not found", "corrupt": "not a readable video", "no_video": "no video stream",
              "unwritable": "does not exist", "unknown_style": "unknown style", "bad_codec": "codec"}[case]
    if case == "missing":
        src = tmp_path / "nope.mp4"
    elif case == "corrupt":
        src = tmp_path / "bad.mp4"
        src.write_bytes(os.urandom(5000))
    elif case == "no_video":
        src = tmp_path / "sound.m4a"
        _audio_only(src)
    elif case == "unwritable":
        dst = tmp_path / "no" / "such" / "dir" / "out.mp4"
    elif case == "unknown_style":
        model = ["--style", "no-such-style"]
    else:
        model += ["--codec", "nonexistent264"]
    proc = run_cli("runtime.video", str(src), str(dst), *model, "--quiet")
    assert_user_error(proc, expect)
    assert not dst.exists() and [p for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_rotation_tag_is_kept(small_onnx, tmp_path):
    src = tmp_path / "rotated.mp4"
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.set_display_rotation(90)
        for i in range(5):
            c.mux(s.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), format="rgb24")))
        c.mux(s.encode())
    out = tmp_path / "out.mp4"
    video.stylize_video(src, out, OrtStylizer(small_onnx, use_cuda=False), FrameOptions(), progress=False)
    assert media.display_rotation(src) != 0
    assert media.display_rotation(out) == media.display_rotation(src)
    assert probe(out)["size"] == (64, 48)


def test_images_of_different_sizes_become_one_video_with_a_note_and_stills_say_images(small_onnx, tmp_path):
    import av
    import cv2

    from tests.conftest import run_cli

    folder = tmp_path / "frames"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate([(48, 64), (60, 80), (48, 64)]):
        cv2.imwrite(str(folder / f"f{i}.png"), rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
    out = tmp_path / "o.mp4"
    proc = run_cli("runtime.video", str(folder), str(out), "--model", str(small_onnx), "--fps", "5", "--quiet")
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert "1 of 3 images resized to the first image's 64x48" in proc.stderr
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 3 and all(f.shape == (48, 64, 3) for f in frames)
    still = run_cli("runtime.video", str(folder / "f0.png"), str(tmp_path / "s.png"), "--model", str(small_onnx), "--quiet")
    assert still.returncode == 0 and "1 image in" in still.stderr and "audio" not in still.stderr
