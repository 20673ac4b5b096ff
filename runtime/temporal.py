"""Flicker-free video: flow-guided blending of the previous stylized frame, and the warping-error metric.

Per-frame stylization flickers because the net reacts to tiny input changes. We warp the previous
*output* to the current frame with optical flow computed on the *source* frames (OpenCV DIS), and
blend it in where the warp is trustworthy: pixels whose warped source disagrees with the current
source (occlusions, disocclusions, flow failures) fall back to the per-frame result, so moving
objects leave no ghost trails. Scene cuts reset the state.
"""
from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

FLOW_WIDTH = 320  # flow is computed at this width and upscaled: DIS at 320 px costs a few ms on a CPU
DEFAULT_SMOOTH = 0.9  # with DEFAULT_SIGMA: E_warp <= 1.8x the source on slow_traffic_small (README, Flicker)
DEFAULT_SIGMA = 30.0


def _gray_small(image: np.ndarray, width: int = FLOW_WIDTH) -> np.ndarray:
    """RGB or already-grey frame -> grey at most `width` wide (the flow's working size)."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
    h, w = gray.shape
    if w > width:
        gray = cv2.resize(gray, (width, max(8, round(h * width / w))), interpolation=cv2.INTER_AREA)
    return gray


DIS_MIN_SIDE = 16  # OpenCV 5.0's DIS refuses frames under 8x12 px ...
DIS_MAX_ASPECT = 2  # ... and crashes (segfault) on some long thin ones, e.g. 24x320 or 15x45. Every shape with
# a short side of 16-199 px and an aspect of at most 2 was probed safe (both presets), so flow is computed on that.
# dis_flow itself (both presets, 600 random shapes of 1-399 px a side plus 24x320, 15x45, 2x700, 1x1) also ran clean
# on OpenCV 4.8.0 and 4.10.0, so pyproject's opencv-python>=4.8 stands (2026-11-29).


def dis_flow(dis: cv2.DISOpticalFlow, frm: np.ndarray, to: np.ndarray) -> np.ndarray:
    """DIS flow from grey `frm` to `to`, at their size and in their pixels.

    Frames outside the shapes DIS handles (a 6x4 clip or a 320x24 strip is still a video) are enlarged by
    a whole factor and padded (edge replicated) on the short side; the flow is cropped and scaled back."""
    frm, to = np.ascontiguousarray(frm), np.ascontiguousarray(to)  # DIS asserts on views
    h, w = frm.shape[:2]
    scale = -(-DIS_MIN_SIDE // min(h, w))
    hs, ws = h * scale, w * scale
    pad_h, pad_w = max(0, -(-ws // DIS_MAX_ASPECT) - hs), max(0, -(-hs // DIS_MAX_ASPECT) - ws)
    if scale == 1 and pad_h == pad_w == 0:
        return dis.calc(frm, to, None)

    def fit(image: np.ndarray) -> np.ndarray:
        if scale > 1:
            image = cv2.resize(image, (ws, hs), interpolation=cv2.INTER_NEAREST)
        return cv2.copyMakeBorder(image, 0, pad_h, 0, pad_w, cv2.BORDER_REPLICATE)

    flow = dis.calc(fit(frm), fit(to), None)[:hs, :ws]
    if scale == 1:
        return np.ascontiguousarray(flow)
    return cv2.resize(flow, (w, h), interpolation=cv2.INTER_AREA) / np.float32(scale)


class FlowField:
    """DIS optical flow between small grey frames, returned at full resolution in full-res pixels."""

    def __init__(self) -> None:
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)

    def __call__(self, frm: np.ndarray, to: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        return _upscale_flow(dis_flow(self.dis, frm, to), *size)


_GRIDS: dict[tuple[int, int], np.ndarray] = {}


def _sample_at(flow: np.ndarray) -> np.ndarray:
    h, w = flow.shape[:2]
    grid = _GRIDS.get((h, w))
    if grid is None:
        grid = _GRIDS[(h, w)] = np.dstack(np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)))
    return grid + flow


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample `image` at x + flow(x): with backward flow (current -> previous) this moves the previous frame to now."""
    return cv2.remap(image, _sample_at(flow), None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def fixed_point_warper(flow: np.ndarray):
    """warp() for several images by one flow: the maps are converted to OpenCV's fixed-point form once."""
    map1, map2 = cv2.convertMaps(_sample_at(flow), None, cv2.CV_16SC2)
    return lambda image: cv2.remap(image, map1, map2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def consistency_mask(fwd: np.ndarray, bwd: np.ndarray, tol: float = 1.0) -> np.ndarray:
    """Forward-backward check (Sundaram et al.): True where flow from t to t-1 and back returns home."""
    back_at = warp(fwd, bwd)  # forward flow (t-1 -> t) sampled where each pixel of t came from
    err = _squared_norm(bwd + back_at)
    bound = 0.01 * (_squared_norm(bwd) + _squared_norm(back_at)) + 0.5 * tol
    return err <= bound


def inside_frame(flow: np.ndarray, margin: float = -0.5) -> np.ndarray:
    """True where x + flow(x) lands inside the image by `margin` pixels (negative: that far outside is
    still fine; half a pixel of border replication is harmless, and the edge rows of a still shot stay smoothed)."""
    at = _sample_at(flow)
    h, w = flow.shape[:2]
    return (at[..., 0] >= margin) & (at[..., 0] <= w - 1 - margin) & (at[..., 1] >= margin) & (at[..., 1] <= h - 1 - margin)


def _squared_norm(flow: np.ndarray) -> np.ndarray:
    """|v|^2 per pixel; plane by plane (10x faster than numpy's sum over the last axis)."""
    return flow[..., 0] * flow[..., 0] + flow[..., 1] * flow[..., 1]


def is_scene_cut(prev_small: np.ndarray, cur_small: np.ndarray, threshold: float = 0.5) -> bool:
    """Histogram correlation of grey frames below threshold -> a cut (no blending across it)."""
    h1 = cv2.calcHist([prev_small], [0], None, [32], [0, 256])
    h2 = cv2.calcHist([cur_small], [0], None, [32], [0, 256])
    return cv2.compareHist(h1, h2, cv2.HISTCMP_CORREL) < threshold


class TemporalSmoother:
    """Stateful: feed (source, stylized) frames in order; get stabilised frames back.

    Per pixel, the previous output warped to now gets the weight
    strength * exp(-(e / sigma)^2) * [flow passes the forward-backward check], where e is the grey-level
    difference between the warped previous source and the current source at full resolution. The
    weight comes from a 256-entry table and the blend is one OpenCV pass, so smoothing costs a few ms.
    """

    def __init__(self, strength: float = DEFAULT_SMOOTH, sigma: float = DEFAULT_SIGMA, check_flow: bool = True):
        if not 0.0 <= strength < 1.0:
            raise ValueError("smoothing strength must be within [0, 1)")
        self.strength = strength
        self.sigma = sigma  # grey levels: warped-source error at which trust falls to exp(-1)
        self.check_flow = check_flow
        errors = np.arange(256, dtype=np.float32)
        self._trust = (strength * np.exp(-((errors / sigma) ** 2))).astype(np.float32)
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        self.reset()

    def reset(self) -> None:
        self.prev_small: np.ndarray | None = None
        self.prev_gray: np.ndarray | None = None
        self.prev_out: np.ndarray | None = None
        self.cuts = 0
        self.last_weight: np.ndarray | None = None

    def __call__(self, source: np.ndarray, styled: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(source, cv2.COLOR_RGB2GRAY)
        small = _gray_small(gray)  # no second colour conversion
        out = styled
        if self.strength > 0 and self.prev_out is not None and self.prev_out.shape == styled.shape:
            if is_scene_cut(self.prev_small, small):
                self.cuts += 1
                self.last_weight = None
            else:
                out = self._blend(gray, small, styled)
        self.prev_small, self.prev_gray, self.prev_out = small, gray, out
        return out

    def _blend(self, gray: np.ndarray, small: np.ndarray, styled: np.ndarray) -> np.ndarray:
        h, w = styled.shape[:2]
        bwd_small = dis_flow(self.dis, small, self.prev_small)  # for each pixel now: where it was before
        to_now = fixed_point_warper(_upscale_flow(bwd_small, h, w))
        err = cv2.absdiff(to_now(self.prev_gray), gray)
        weight = cv2.LUT(err, self._trust)
        ok = inside_frame(bwd_small)  # pixels that came from outside the frame (pans) have no history
        if self.check_flow:
            ok &= consistency_mask(dis_flow(self.dis, self.prev_small, small), bwd_small)
        if not ok.all():
            ok = ok.astype(np.float32)
            if ok.shape != (h, w):
                ok = cv2.resize(ok, (w, h), interpolation=cv2.INTER_LINEAR)
            weight = cv2.multiply(weight, ok)
        self.last_weight = weight
        return cv2.blendLinear(to_now(self.prev_out), styled, weight, 1.0 - weight)


def _upscale_flow(flow: np.ndarray, h: int, w: int) -> np.ndarray:
    if flow.shape[:2] == (h, w):
        return flow
    return cv2.resize(flow, (w, h), interpolation=cv2.INTER_LINEAR) * np.float32(w / flow.shape[1])


def warping_error(sources: list[np.ndarray], outputs: list[np.ndarray]) -> float:
    """E_warp: mean over t>=1 of the occlusion-masked MSE between output t and output t-1 warped to t.

    Flow is computed on the source frames (DIS, full resolution of the flow width) with a
    forward-backward consistency mask; values are on the 0-255 scale (squared grey levels).
    """
    flow = FlowField()
    errors = []
    prev_small = _gray_small(sources[0])
    for t in range(1, len(sources)):
        small = _gray_small(sources[t])
        h, w = outputs[t].shape[:2]
        bwd = flow(small, prev_small, (h, w))
        fwd = flow(prev_small, small, (h, w))
        mask = consistency_mask(fwd, bwd)
        if mask.any():
            diff = (outputs[t].astype(np.float32) - warp(outputs[t - 1], bwd).astype(np.float32)) ** 2
            errors.append(float(diff.mean(axis=2)[mask].mean()))
        prev_small = small
    return float(np.mean(errors)) if errors else 0.0


class WarpingError:
    """The quality gate's flicker metric: mean absolute warping error of frame sequences against one
    source clip, flows computed once (train.quality.flicker divides it by the source's own). Torch-free, so
    benchmarks/temporal.py reports the figure styles.json records."""

    def __init__(self, sources: Sequence[np.ndarray]):
        # Full-resolution DIS (medium preset), not the runtime's 320 px flow: the metric wants the most exact
        # flow it can afford (the source's own warping error is the denominator; 320 px flow inflates it by
        # about a quarter and so flatters every net).
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        self.pairs: list[tuple[np.ndarray, np.ndarray]] = []  # (backward flow, consistent mask) per t >= 1
        prev = cv2.cvtColor(sources[0], cv2.COLOR_RGB2GRAY)
        for src in sources[1:]:
            cur = cv2.cvtColor(src, cv2.COLOR_RGB2GRAY)
            bwd, fwd = dis_flow(dis, cur, prev), dis_flow(dis, prev, cur)
            self.pairs.append((bwd, consistency_mask(fwd, bwd)))
            prev = cur
        self.source = self(sources)

    def __call__(self, frames: Sequence[np.ndarray]) -> float:
        errors = []
        for t, (bwd, mask) in enumerate(self.pairs, start=1):
            if mask.any():
                diff = np.abs(frames[t].astype(np.float32) - warp(frames[t - 1], bwd).astype(np.float32)).mean(axis=2)
                errors.append(float(diff[mask].mean()))
        return float(np.mean(errors)) if errors else 0.0

    def ratio(self, frames: Sequence[np.ndarray]) -> float:
        """The gate's flicker figure: the frames' warping error over the source clip's own."""
        return self(frames) / max(self.source, 1e-6)
