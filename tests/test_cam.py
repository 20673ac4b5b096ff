import os
import shutil
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from runtime.samples import sample_clip
from tests.conftest import ROOT, assert_user_error, run_cli


def test_headless_on_a_file_source(small_onnx, tmp_path):
    rec = tmp_path / "rec.mp4"
    proc = run_cli("runtime.cam", "--source", str(sample_clip()), "--loop", "--model", str(small_onnx), "--no-window",
                   "--max-frames", "30", "--record", str(rec))
    assert proc.returncode == 0, proc.stderr
    assert "FPS" in proc.stdout
    cap = cv2.VideoCapture(str(rec))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 30


def test_no_camera_is_one_line_exit_2(small_onnx):
    proc = run_cli("runtime.cam", "--camera", "7", "--model", str(small_onnx), "--no-window")
    assert_user_error(proc, "no camera at index 7", "--camera N")


def _gui_available() -> bool:
    info = cv2.getBuildInformation()
    return any(k in info for k in ("QT", "GTK")) and "headless" not in cv2.__file__


@pytest.mark.skipif(shutil.which("Xvfb") is None or shutil.which("import") is None,
                    reason="needs Debian's xvfb and imagemagick (apt-get install xvfb imagemagick)")
@pytest.mark.skipif(not _gui_available(), reason="this OpenCV has no HighGUI (opencv-python-headless)")
def test_window_shows_the_stylized_frame(small_onnx, tmp_path):
    from runtime.engines import OrtStylizer
    from runtime.frames import rgb_to_bgr

    net = OrtStylizer(small_onnx, use_cuda=False)
    cap = cv2.VideoCapture(str(sample_clip()))
    raw, stylized = [], []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        raw.append(bgr[60:])  # below the FPS overlay
        stylized.append(rgb_to_bgr(net(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)))[60:])
    xvfb, display = _start_xvfb()
    env = {**os.environ, "DISPLAY": display, "PYTHONPATH": str(ROOT), "QT_QPA_PLATFORM": "xcb"}
    log = tmp_path / "cam.log"
    cam = None
    try:
        with open(log, "wb") as log_file:
            cam = subprocess.Popen([sys.executable, "-m", "runtime.cam", "--source", str(sample_clip()), "--model", str(small_onnx),
                                    "--loop", "--no-smooth", "--max-frames", "100000"],
                                   cwd=tmp_path, env=env, stdout=log_file, stderr=subprocess.STDOUT)
        shot = tmp_path / "shot.png"
        deadline = time.time() + 120
        found, styled_score, raw_score = False, -1.0, -1.0
        while time.time() < deadline and cam.poll() is None:
            time.sleep(2.0)
            subprocess.run(["import", "-window", "root", str(shot)], env=env, capture_output=True, timeout=30)
            if shot.exists():
                screen = cv2.imread(str(shot))
                styled_score, raw_score = _best_match(screen, stylized), _best_match(screen, raw)
                if styled_score > 0.9:
                    found = True
                    if os.environ.get("STYLECAST_KEEP_SHOT"):
                        shutil.copy(shot, os.environ["STYLECAST_KEEP_SHOT"])
                    break
        output = log.read_text(errors="replace")[-2000:]
        assert found, (f"no stylized frame appeared on {display} (best match {styled_score:.3f}, stylecam exit "
                       f"{cam.poll()}); its output:\n{output}")
        assert raw_score < styled_score - 0.05  # it is the stylized frame, not the camera's
    finally:
        if cam and cam.poll() is None:
            cam.terminate()
            cam.wait(10)
        xvfb.terminate()
        xvfb.wait(10)


def _start_xvfb() -> tuple[subprocess.Popen, str]:
    """Start Xvfb on a free display and wait until it accepts clients (-displayfd reports both)."""
    read_fd, write_fd = os.pipe()
    xvfb = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0", "800x600x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as ready:
        number = ready.readline().strip()  # written once the server is ready; empty if it died
    if not number:
        xvfb.wait(10)
        pytest.skip(f"Xvfb did not start (exit {xvfb.returncode})")
    return xvfb, f":{number}"


def _best_match(screen: np.ndarray, templates: list[np.ndarray]) -> float:
    """Best normalised correlation of any template anywhere on the screenshot."""
    return max(float(cv2.matchTemplate(screen, t, cv2.TM_CCOEFF_NORMED).max()) for t in templates)
