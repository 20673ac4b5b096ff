"""`stylevideo photo.jpg sheet.png --sheet` / `--style a,b`: one labelled contact sheet; a bare `--smooth`."""
from __future__ import annotations

import numpy as np
import pytest

from runtime import catalog, cam, video
from runtime.frames import read_image
from runtime.sheet import BACKGROUND, LABEL_H, MARGIN, contact_sheet
from runtime.samples import sample_clip, sample_images
from runtime.temporal import DEFAULT_SMOOTH
from tests.conftest import assert_user_error, run_cli

PHOTO = str(sample_images()[1])  # the cat, 451x300
FAST = ["--backend", "ort-cpu", "--cell", "96"]


def grid_size(cells: int, cols: int, w: int = 96, h: int = 64) -> tuple[int, int]:
    rows = -(-cells // cols)
    return MARGIN + rows * (h + LABEL_H + MARGIN), MARGIN + cols * (w + MARGIN)


def test_sheet_of_every_built_in_style(tmp_path):
    out = tmp_path / "sheet.png"
    proc = run_cli("runtime.video", PHOTO, str(out), "--sheet", *FAST)
    assert proc.returncode == 0, proc.stderr
    n = len(catalog.style_names())
    sheet = read_image(out)
    cols = int(np.ceil(np.sqrt(n + 1)))
    assert sheet.shape[:2] == grid_size(n + 1, cols)
    assert f"contact sheet of {n} styles" in proc.stderr.splitlines()[-1]
    first = sheet[MARGIN:MARGIN + 64, MARGIN:MARGIN + 96].astype(int)
    second = sheet[MARGIN:MARGIN + 64, 2 * MARGIN + 96:2 * MARGIN + 192].astype(int)
    assert np.abs(first - second).mean() > 10  # the original, then a styled picture
    label = sheet[MARGIN + 64:MARGIN + 64 + LABEL_H, MARGIN:MARGIN + 96]
    assert (np.abs(label.astype(int) - BACKGROUND).sum(-1) > 100).sum() > 50  # a caption was drawn
    assert [p.name for p in tmp_path.iterdir()] == ["sheet.png"]


def test_style_list_makes_a_sheet_without_the_flag(tmp_path):
    out = tmp_path / "two.jpg"
    proc = run_cli("runtime.video", PHOTO, str(out), "--style", "mosaic-lite,starry-lite", *FAST, "--json")
    assert proc.returncode == 0, proc.stderr
    assert read_image(out).shape[:2] == grid_size(3, 2)
    assert '"status": "ok"' in proc.stdout and '"frames": 2' in proc.stdout


@pytest.mark.parametrize("case,expect", [("video_input", "one photo"), ("video_output", "is an image"),
                                         ("unknown_style", "unknown style"), ("missing_model", "not found")])
def test_sheet_errors_one_line_exit_2(tmp_path, case, expect):
    src, dst, flags = PHOTO, str(tmp_path / "sheet.png"), ["--sheet", *FAST]
    if case == "video_input":
        src = str(sample_clip())
    elif case == "video_output":
        dst = str(tmp_path / "sheet.mp4")
    elif case == "unknown_style":
        flags = ["--style", "mosaic-lite,nope", *FAST]
    else:
        flags = ["--style", f"mosaic-lite,{tmp_path / 'gone.onnx'}", *FAST]
    assert_user_error(run_cli("runtime.video", src, dst, *flags), expect)
    assert list(tmp_path.iterdir()) == []


def test_contact_sheet_layout():
    cells = [(np.full((20, 30, 3), v, np.uint8), f"cell {v}", "sub") for v in (0, 100, 200)]
    sheet = contact_sheet(cells, columns=3)
    assert sheet.shape == (MARGIN + 20 + LABEL_H + MARGIN, MARGIN + 3 * (30 + MARGIN), 3)
    assert (sheet[MARGIN + 5, 2 * MARGIN + 30 + 5] == 100).all() and (sheet[MARGIN + 5, 3 * MARGIN + 60 + 5] == 200).all()


def test_bare_smooth_means_the_default():
    assert video.parse_args(["a.mp4", "b.mp4", "--smooth"]).smooth == DEFAULT_SMOOTH
    assert video.parse_args(["a.mp4", "b.mp4", "--smooth", "0.5"]).smooth == 0.5
    assert video.parse_args(["a.mp4", "b.mp4", "--no-smooth"]).smooth == 0.0
    assert cam.parse_args(["--smooth", "--no-window"]).smooth == DEFAULT_SMOOTH


# ---- stylecam's first run (issue 15): no display, the keys in --help, a closing summary ----

def test_stylecam_without_a_display_says_no_window(tmp_path):
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    import subprocess
    import sys

    from tests.conftest import ROOT

    proc = subprocess.run([sys.executable, "-m", "runtime.cam", "--source", str(sample_clip()), "--style", "mosaic-lite"],
                          cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert_user_error(proc, "no display", "--no-window")
    assert len(proc.stderr.strip().splitlines()) == 1
    cam.check_display({"DISPLAY": ":0"}, "linux")
    cam.check_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux")
    cam.check_display({}, "darwin")
    cam.check_display({"QT_QPA_PLATFORM": "offscreen"}, "linux")


def test_stylecam_help_lists_the_window_keys():
    proc = run_cli("runtime.cam", "--help")
    assert proc.returncode == 0
    for key in ("n / p", "1-9", "+ / -", "snapshot", "recording", "q / Esc", "--no-window"):
        assert key in proc.stdout, key


def test_stylecam_file_source_ends_with_a_summary():
    proc = run_cli("runtime.cam", "--source", str(sample_clip()), "--style", "mosaic-lite", "--backend", "ort-cpu",
                   "--max-size", "64", "--no-window", "--max-frames", "12", "--no-smooth", timeout=120)
    assert proc.returncode == 0, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{sample_clip()}: 12 frames in ") and "FPS), backend onnxruntime CPU" in last, last
