"""`import stylecast`: the public Python facade (styles, load, call, stream, stylize_video), on the built-in
lite nets and the shipped sample clip, so no torch and no ../shared are needed."""
from __future__ import annotations

import doctest
import os
import subprocess
import sys

import av
import numpy as np
import pytest

import stylecast
from runtime.errors import InputError, StylecastError
from runtime.samples import sample_clip, sample_images
from runtime.temporal import warping_error
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def net() -> stylecast.Stylizer:
    return stylecast.load("mosaic-lite", backend="ort-cpu", max_size=128)


def test_import_loads_no_torch_and_no_engine():
    code = "import sys, stylecast; print(sorted(m for m in ('torch', 'openvino', 'onnxruntime', 'av') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_styles_have_their_figures():
    styles = stylecast.styles()
    names = [s.name for s in styles]
    assert "mosaic" in names and "mosaic-lite" in names
    for s in styles:
        assert s.path.is_file() and s.bytes == s.path.stat().st_size
        assert s.variant in ("full", "lite") and s.title
        assert "psnr_vs_fp32_db" in s.figures
    lite = next(s for s in styles if s.name == "mosaic-lite")  # trained on the painting itself: its schedule's steps
    assert lite.lite and lite.figures["training_steps"] > 0 and lite.figures["style_distance"] > 0
    copied = next(s for s in styles if s.name == "udnie-lite")  # distilled from udnie: how well it copies its teacher
    assert copied.lite and copied.figures["val_psnr_vs_teacher_db"] > 15


def test_call_on_one_frame_and_a_batch(net):
    assert "onnxruntime" in net.backend and net.name == "mosaic-lite"
    frame = np.zeros((50, 70, 3), np.uint8)
    frame[10:30, 20:50] = (200, 40, 40)
    out = net(frame)
    assert out.shape == frame.shape and out.dtype == np.uint8 and out.std() > 5  # styled, not blank
    batch = net(np.stack([frame, frame[::-1]]))
    assert batch.shape == (2, 50, 70, 3)
    np.testing.assert_allclose(batch[0].astype(int), out.astype(int), atol=2)


def test_strength_zero_returns_the_input(net):
    frame = (np.arange(48 * 64 * 3) % 251).astype(np.uint8).reshape(48, 64, 3)
    weak = stylecast.Stylizer(net.engine, type(net.options)(strength=0.0))
    assert np.abs(weak(frame).astype(int) - frame).max() <= 1


@pytest.mark.parametrize("bad", [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 3), np.float32), [[1, 2, 3]],
                                 np.zeros((0, 10, 3), np.uint8)])
def test_bad_frames_are_value_errors(net, bad):
    with pytest.raises(ValueError, match="RGB uint8|numpy array"):
        net(bad)


def test_stream_smooths_and_starts_fresh(net):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (72, 96, 3), np.uint8)
    frames = [np.clip(base.astype(int) + rng.integers(-6, 7, base.shape), 0, 255).astype(np.uint8) for _ in range(6)]
    plain = list(net.stream(frames, smooth=0.0))
    smooth = list(net.stream(iter(frames)))
    assert len(smooth) == 6 and all(f.shape == (72, 96, 3) for f in smooth)
    np.testing.assert_array_equal(smooth[0], plain[0])  # first frame: nothing to blend with
    assert warping_error(frames, smooth) < warping_error(frames, plain)  # less flicker
    again = next(net.stream(frames))
    np.testing.assert_array_equal(again, smooth[0])  # a new stream does not blend into the last one
    with pytest.raises(InputError, match="smooth"):
        next(net.stream(frames, smooth=2.0))


def test_stylize_video_result(net, tmp_path):
    out = tmp_path / "styled.mp4"
    result = stylecast.stylize_video(sample_clip(), out, style=net, max_frames=8)
    assert isinstance(result, stylecast.VideoResult)
    assert result.output == out and result.frames == 8 and result.audio == "copied"
    assert result.backend == net.backend and result.seconds > 0 and result.fps > 0
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 8


def test_stylize_video_by_name_and_images(tmp_path):
    result = stylecast.stylize_video(sample_images()[0], tmp_path / "cup.png", style="mosaic-lite", backend="ort-cpu",
                                     max_size=96)
    assert result.frames == 1 and (tmp_path / "cup.png").is_file()
    assert stylecast.stylize_image(sample_images()[1], tmp_path / "cat.jpg", "mosaic-lite", backend="ort-cpu",
                                   max_size=96).is_file()


def test_errors_are_one_line_and_leave_nothing(tmp_path):
    with pytest.raises(StylecastError, match="unknown style"):
        stylecast.load("no-such-style")
    with pytest.raises(InputError, match="not found"):
        stylecast.stylize_video(tmp_path / "nope.mp4", tmp_path / "o.mp4", style="mosaic-lite")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(os.urandom(4000))
    with pytest.raises(InputError, match="not a readable video"):
        stylecast.stylize_video(bad, tmp_path / "o.mp4", style="mosaic-lite", backend="ort-cpu")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.mp4"]


def test_docs_example_runs():
    """docs/python-api.md's doctest example is kept true."""
    failures, tried = doctest.testfile(str(ROOT / "docs" / "python-api.md"), module_relative=False,
                                       optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert tried > 5 and failures == 0
