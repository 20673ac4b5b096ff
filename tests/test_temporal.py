import av
import numpy as np
import pytest

from runtime.engines import OrtStylizer
from runtime.samples import sample_clip
from runtime.temporal import TemporalSmoother, warping_error
from tests.conftest import SHARED


def _frames(path, n):
    out = []
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= n:
                break
            out.append(f.to_ndarray(format="rgb24"))
    return out


def test_metric_lower_for_static_video_than_injected_flicker():
    frame = _frames(sample_clip(), 1)[0]
    static = [frame.copy() for _ in range(6)]
    rng = np.random.default_rng(0)
    flicker = [np.clip(frame.astype(int) + rng.integers(-25, 25, 3), 0, 255).astype(np.uint8) for _ in range(6)]
    assert warping_error(static, static) < 1e-6
    assert warping_error(static, flicker) > 100


@pytest.mark.parametrize("clip", ["sample", "slow_traffic_small.mp4"])
def test_smoothing_lowers_warping_error_on_a_real_clip(small_onnx, clip):
    path = sample_clip() if clip == "sample" else SHARED / "videos" / clip
    if not path.exists():
        pytest.skip(f"{path} absent")
    src = _frames(path, 16)
    net = OrtStylizer(small_onnx, use_cuda=False)
    per_frame = [net(f) for f in src]
    smoother = TemporalSmoother()
    smoothed = [smoother(s, p) for s, p in zip(src, per_frame)]
    e_per, e_smooth = warping_error(src, per_frame), warping_error(src, smoothed)
    assert e_smooth < 0.6 * e_per
    assert smoother.cuts == 0


def test_hard_cut_resets_the_blend():
    rng = np.random.default_rng(1)
    a = np.full((64, 96, 3), 30, np.uint8)
    b = rng.integers(150, 255, (64, 96, 3), dtype=np.uint8)  # another scene
    styled_a, styled_b = np.full_like(a, 200), np.full_like(b, 10)
    sm = TemporalSmoother(0.9)
    sm(a, styled_a)
    same = sm(a, styled_a)
    assert sm.cuts == 0 and sm.last_weight is not None and sm.last_weight.mean() > 0.8
    assert np.abs(same.astype(int) - 200).max() <= 1  # a still scene blends into itself unchanged
    out = sm(b, styled_b)
    assert sm.cuts == 1
    assert np.array_equal(out, styled_b)  # nothing of the previous scene leaks in


def test_moving_object_leaves_no_ghost():
    """A bright square moving fast: where the source changed, the output must be the per-frame one."""
    frames, styled = [], []
    for t in range(6):
        f = np.full((96, 128, 3), 60, np.uint8)
        f[30:60, 10 + 18 * t : 40 + 18 * t] = 230
        frames.append(f)
        styled.append(255 - f)
    sm = TemporalSmoother(0.9)
    outs = [sm(f, s) for f, s in zip(frames, styled)]
    trail = (slice(30, 60), slice(10 + 18 * 4, 40 + 18 * 4))  # where the square was one frame before the last
    assert np.abs(outs[-1][trail].astype(int) - styled[-1][trail].astype(int)).mean() < 20


def _write_clip(path, frames) -> None:
    with av.open(str(path), "w") as c:
        s = c.add_stream("mpeg4", rate=10)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        for f in frames:
            c.mux(s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")))
        c.mux(s.encode())


def test_temporal_and_seams_benchmarks_refuse_bad_input_in_one_line_with_exit_2(tmp_path):
    import subprocess
    import sys

    from tests.conftest import ROOT

    src = _frames(sample_clip(), 3)
    h, w = src[0].shape[:2]
    _write_clip(tmp_path / "small.mp4", [np.ascontiguousarray(f[: h // 4 * 2, : w // 4 * 2]) for f in src])  # half size, even
    missing = str(tmp_path / "missing.mp4")
    for script, args, fragment in (("temporal", [str(sample_clip()), str(tmp_path / "small.mp4"), "--frames", "3"], "the source"),
                                   ("temporal", [missing, "--frames", "3"], "not found"),
                                   ("seams", [missing], "not found")):
        proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / f"{script}.py"), *args, "--tag", "_test"],
                              capture_output=True, text=True, timeout=120, cwd=tmp_path)
        lines = [l for l in proc.stderr.splitlines() if l.strip()]
        # the CLIs' convention (runtime.errors.cli_entry): one line, 'prog: error: ...', exit 2
        assert proc.returncode == 2 and "Traceback" not in proc.stderr and len(lines) == 1, proc.stderr[-1500:]
        assert lines[0].startswith(f"{script}: error:") and fragment in lines[0], lines[0]


def test_the_flicker_clip_reader_turns_a_corrupt_or_short_video_into_one_input_error(tmp_path):
    from runtime.errors import InputError
    from runtime.media import read_video_frames

    (tmp_path / "corrupt.mp4").write_bytes(b"\x00not a video" * 100)
    with pytest.raises(InputError, match="not a readable video"):
        read_video_frames(tmp_path / "corrupt.mp4")
    _write_clip(tmp_path / "one.mp4", _frames(sample_clip(), 1))
    with pytest.raises(InputError, match="fewer than two frames"):
        read_video_frames(tmp_path / "one.mp4")
    assert len(read_video_frames(sample_clip(), 3)) == 3


@pytest.mark.parametrize("size", [(4, 6), (11, 11), (3, 40), (9, 10), (1, 1), (24, 320), (15, 45), (45, 15)])
def test_frames_of_shapes_dis_cannot_take_still_smooth_and_measure(size):
    """OpenCV 5.0's DIS refuses frames under 8x12 px and crashes on some thin ones (24x320): each is still a video."""
    import cv2

    from runtime.temporal import WarpingError, dis_flow

    rng = np.random.default_rng(1)
    frame = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
    static = [frame.copy() for _ in range(4)]
    noisy = [np.clip(frame.astype(int) + rng.integers(-40, 40, frame.shape), 0, 255).astype(np.uint8) for _ in range(4)]
    grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    flow = dis_flow(cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST), grey, grey)
    assert flow.shape == (*size, 2) and np.abs(flow).max() < 0.5
    # a textured strip moved 2 px right: the flow says so, in the frame's own pixels (views are fine too)
    texture = cv2.GaussianBlur(rng.uniform(0, 255, (size[0], size[1] + 4)).astype(np.float32), (0, 0), 1.5)
    texture = cv2.normalize(texture, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    moved = dis_flow(cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM), texture[:, 4:], texture[:, 2:-2])
    if min(size) >= 8:  # a strip 3 px tall has no vertical motion to find
        assert abs(np.median(moved[..., 0]) - 2) < 0.25 and abs(np.median(moved[..., 1])) < 0.25
    smoother = TemporalSmoother()
    out = [smoother(s, p) for s, p in zip(static, noisy)]
    assert all(o.shape == frame.shape for o in out)
    assert warping_error(static, static) < 1e-6 < warping_error(static, noisy)
    metric = WarpingError(static)
    assert metric(static) < 1e-6 < metric(noisy)
