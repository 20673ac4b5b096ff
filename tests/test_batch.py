"""`stylevideo IN... -o OUTDIR`: a batch where one bad input never stops the others, and `--json` records."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import av
import pytest

from runtime.batch import expand_inputs, output_for
from runtime.samples import sample_clip, sample_images
from tests.conftest import assert_user_error, run_cli

FAST = ["--style", "mosaic-lite", "--backend", "ort-cpu", "--max-size", "64", "--max-frames", "4", "--quiet"]


def frames_in(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(1 for _ in c.decode(video=0))


@pytest.fixture
def inputs(tmp_path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    shutil.copy(sample_clip(), d / "a.mp4")
    shutil.copy(sample_clip(), d / "b.mkv")
    (d / "corrupt.mp4").write_bytes(os.urandom(6000))
    (d / "notes.txt").write_text("not media: a folder input leaves it alone")
    return d


def records(stdout: str) -> dict[str, dict]:
    recs = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    return {Path(r["input"]).name: r for r in recs}


def test_three_inputs_one_corrupt_two_outputs_summary_exit_1(inputs, tmp_path):
    out = tmp_path / "out"
    proc = run_cli("runtime.video", str(inputs / "a.mp4"), str(inputs / "corrupt.mp4"), str(inputs / "b.mkv"),
                   "-o", str(out), *FAST, "--json")
    assert proc.returncode == 1, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "b.mkv"]  # no temporaries, nothing for the bad one
    assert frames_in(out / "a.mp4") == 4 and frames_in(out / "b.mkv") == 4
    errors = [l for l in proc.stderr.splitlines() if "error:" in l]
    assert len(errors) == 2, proc.stderr  # the failure, then the summary
    assert "corrupt.mp4: not a readable video" in errors[0]
    assert "2 of 3 inputs written" in errors[1] and "1 failed: corrupt.mp4" in errors[1]
    assert "Traceback" not in proc.stderr
    recs = records(proc.stdout)
    assert set(recs) == {"a.mp4", "b.mkv", "corrupt.mp4"}
    assert recs["a.mp4"]["status"] == "ok" and recs["a.mp4"]["frames"] == 4 and "onnxruntime" in recs["a.mp4"]["backend"]
    assert recs["a.mp4"]["output"] == str(out / "a.mp4") and recs["a.mp4"]["error"] is None
    bad = recs["corrupt.mp4"]
    assert bad["status"] == "error" and "not a readable video" in bad["error"] and bad["frames"] is None
    assert set(bad) == {"input", "output", "frames", "seconds", "backend", "status", "error"}


def test_folder_glob_parallel_and_skip_existing(inputs, tmp_path):
    (inputs / "corrupt.mp4").unlink()
    shutil.copy(sample_images()[0], inputs / "cup.jpg")
    out = tmp_path / "out"
    proc = run_cli("runtime.video", str(inputs), "-o", str(out), *FAST, "--jobs", "2", "--threads", "2", "--json")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.mp4", "b.mkv", "cup.jpg"]
    recs = records(proc.stdout)
    assert {r["status"] for r in recs.values()} == {"ok"}
    assert all("1 threads" in r["backend"] for r in recs.values())  # 2 threads divided between 2 jobs
    assert "3 of 3 inputs written" in proc.stderr.splitlines()[-1]

    (out / "a.mp4").unlink()
    before = (out / "b.mkv").stat().st_mtime_ns
    proc = run_cli("runtime.video", str(inputs / "*.mp4"), str(inputs / "*.mkv"), "-o", str(out), *FAST,
                   "--skip-existing", "--json")
    assert proc.returncode == 0, proc.stderr
    recs = records(proc.stdout)
    assert recs["a.mp4"]["status"] == "ok" and recs["b.mkv"]["status"] == "skipped"
    assert (out / "b.mkv").stat().st_mtime_ns == before and frames_in(out / "a.mp4") == 4
    assert "1 skipped" in proc.stderr.splitlines()[-1]


def test_missing_inputs_fail_as_jobs(inputs, tmp_path):
    out = tmp_path / "out"
    proc = run_cli("runtime.video", str(inputs / "a.mp4"), str(tmp_path / "nope.mp4"), str(tmp_path / "*.mov"),
                   "-o", str(out), *FAST)
    assert proc.returncode == 1
    assert "nope.mp4: input not found" in proc.stderr and "no file matches" in proc.stderr
    assert "1 of 3 inputs written" in proc.stderr.splitlines()[-1]
    assert [p.name for p in out.iterdir()] == ["a.mp4"]


@pytest.mark.parametrize("case", ["three_paths_no_o", "collision", "unknown_style", "sheet", "outdir_is_file", "bad_codec"])
def test_batch_usage_errors_exit_2_before_anything(inputs, tmp_path, case):
    out = tmp_path / "out"
    paths = [str(inputs / "a.mp4"), str(inputs / "b.mkv")]
    flags = ["-o", str(out), *FAST]
    expect = {"three_paths_no_o": "-o OUTDIR", "collision": "would both be written", "unknown_style": "unknown style",
              "sheet": "--sheet", "outdir_is_file": "not a folder", "bad_codec": "codec"}[case]
    if case == "three_paths_no_o":
        flags, paths = FAST, paths + [str(out)]
    elif case == "collision":
        (inputs / "sub").mkdir()
        shutil.copy(sample_clip(), inputs / "sub" / "a.mp4")
        paths.append(str(inputs / "sub" / "a.mp4"))
    elif case == "unknown_style":
        flags = ["-o", str(out), "--style", "no-such-style"]
    elif case == "sheet":
        flags.append("--sheet")
    elif case == "outdir_is_file":
        out.write_text("x")
    else:
        flags += ["--codec", "nonexistent264"]
    proc = run_cli("runtime.video", *paths, *flags)
    assert_user_error(proc, expect)
    assert out.is_file() if case == "outdir_is_file" else not out.exists()


def test_two_path_form_json_on_success_and_failure(inputs, tmp_path):
    proc = run_cli("runtime.video", str(inputs / "a.mp4"), str(tmp_path / "o.mp4"), *FAST, "--json")
    assert proc.returncode == 0, proc.stderr
    rec = json.loads(proc.stdout)
    assert rec["status"] == "ok" and rec["frames"] == 4 and rec["output"] == str(tmp_path / "o.mp4")
    proc = run_cli("runtime.video", str(inputs / "corrupt.mp4"), str(tmp_path / "o2.mp4"), *FAST, "--json")
    assert proc.returncode == 2  # the exit code --json does not change
    rec = json.loads(proc.stdout)
    assert rec["status"] == "error" and "not a readable video" in rec["error"] and not (tmp_path / "o2.mp4").exists()


def test_expand_and_output_names(inputs, tmp_path):
    found = expand_inputs([str(inputs), str(inputs / "a.mp4"), str(inputs / "*.mkv")])
    assert [p.name for p, problem in found] == ["a.mp4", "b.mkv", "corrupt.mp4"]  # once each, .txt left alone
    assert output_for(Path("x/clip.ts"), tmp_path) == tmp_path / "clip.mp4"
    assert output_for(Path("x/clip.MOV"), tmp_path) == tmp_path / "clip.MOV"


# --ray (a local Ray cluster) and --chunk-seconds: tests/test_ray.py
