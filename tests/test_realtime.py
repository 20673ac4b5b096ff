"""--realtime / --auto-lite (a net too slow for the frame rate is reported, or swapped for its -lite net) and --profile."""
from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from runtime import catalog, cli_common
from tests.conftest import run_cli

CLIP = Path(__file__).resolve().parents[1] / "runtime" / "samples" / "clip.mp4"


def _args(**kw) -> argparse.Namespace:
    base = dict(backend="auto", threads=1, precision="f32", device="cpu", auto_lite=False)
    return argparse.Namespace(**{**base, **kw})


@pytest.mark.skipif("starry-lite" not in catalog.style_names(), reason="needs the built-in starry and starry-lite")
@pytest.mark.parametrize("auto_lite", [False, True])
def test_a_net_too_slow_for_the_frame_rate_is_said_and_swapped_only_with_auto_lite(auto_lite, monkeypatch, capsys):
    from runtime.engines import open_stylizer

    full = open_stylizer("starry", "auto", 1, precision="f32", announce=lambda m: None)
    speeds = iter([400.0, 20.0])  # ms per frame: the full net, then the lite one
    monkeypatch.setattr(cli_common, "frame_ms", lambda stylizer, size: next(speeds))
    chosen = cli_common.keep_up(full, "starry", 25.0, (360, 640), _args(auto_lite=auto_lite))
    err = capsys.readouterr().err
    assert "starry runs at 2.5 FPS" in err and "640x360" in err and "25 FPS needed" in err
    if auto_lite:
        assert chosen.name == "starry-lite" and "using starry-lite (50.0 FPS)" in err
    else:
        assert chosen is full and "--style starry-lite (or --auto-lite)" in err


def test_a_net_fast_enough_is_kept_silently(small_onnx, monkeypatch, capsys):
    from runtime.engines import open_stylizer

    net = open_stylizer(str(small_onnx), "auto", 1, announce=lambda m: None)
    monkeypatch.setattr(cli_common, "frame_ms", lambda stylizer, size: 10.0)
    assert cli_common.keep_up(net, str(small_onnx), 25.0, (360, 640), _args(auto_lite=True)) is net
    assert capsys.readouterr().err == ""


def test_profile_prints_every_stage_and_the_net_alone(small_onnx, tmp_path):
    proc = run_cli("runtime.video", str(CLIP), str(tmp_path / "o.mp4"), "--model", str(small_onnx), "--max-frames", "12",
                   "--quiet", "--profile", "--threads", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    for stage in ("decode", "pre-process", "inference", "post-process", "smoothing", "encode", "the net alone", "pipeline around it costs"):
        assert stage in proc.stderr, stage


@pytest.mark.skipif(not catalog.fast_styles(), reason="needs a built-in -lite style")
def test_the_default_style_keeps_the_videos_rate_and_a_named_one_is_kept(monkeypatch, capsys):
    default = catalog.DEFAULT_STYLE
    lite = f"{default}-lite" if f"{default}-lite" in catalog.style_names() else catalog.fast_styles()[0]
    speeds = iter([400.0, 20.0, 400.0])
    monkeypatch.setattr(cli_common, "frame_ms", lambda stylizer, size: next(speeds))
    base = dict(style=None, model=None, max_size=None, strength=1.0, preserve_color=False, realtime=False)
    net, _ = cli_common.open_from_args(_args(**base), default, (240, 320), None, source_fps=24.0)
    assert net.name == lite and f"using {lite}" in capsys.readouterr().err  # said, never silent
    named, _ = cli_common.open_from_args(_args(**{**base, "style": default}), default, (240, 320), None, source_fps=24.0)
    assert named.name == default  # a style the user named is never swapped without --realtime --auto-lite


@pytest.mark.skipif("starry-lite" not in catalog.style_names(), reason="needs the built-in starry-lite")
def test_a_default_without_a_lite_net_falls_back_to_the_best_fast_style(monkeypatch, capsys):
    default = catalog.DEFAULT_STYLE
    monkeypatch.setattr(catalog, "style_names", lambda: [n for n in ("starry-lite", default)])
    monkeypatch.setattr(catalog, "fast_styles", lambda: ["starry-lite"])
    speeds = iter([400.0, 20.0])
    monkeypatch.setattr(cli_common, "frame_ms", lambda stylizer, size: next(speeds))
    base = dict(style=None, model=None, max_size=None, strength=1.0, preserve_color=False, realtime=False)
    net, _ = cli_common.open_from_args(_args(**base), default, (240, 320), None, source_fps=24.0)
    err = capsys.readouterr().err
    assert net.name == "starry-lite" and "has no -lite net yet; using starry-lite" in err
