"""Fake `tensorrt` and `pycuda` for testing the GPU path on machines without a GPU.

In a test: `gpu = install(monkeypatch, "10.8.0")` (sys.modules patched for the test only).
In a subprocess: `install_global("11.1.0", abort_at_exit=True)` before importing the code under test.
ONNX Runtime with the CUDA provider: `ort = install_ort_cuda(monkeypatch)` (onnxruntime_cuda_fake).
"""
from __future__ import annotations

import sys
import types

from tests.fakes import onnxruntime_cuda_fake, pycuda_fake, tensorrt_fake


def _reset_gpu(name: str, cc: tuple[int, int]) -> None:
    pycuda_fake.state.update(initialized=False, count=1, name=name, cc=cc)
    pycuda_fake.MEMORY.clear()
    for st in pycuda_fake._stacks.values():
        st.clear()


def _modules(version: str, name: str, cc: tuple[int, int], abort_at_exit: bool) -> dict[str, types.ModuleType]:
    _reset_gpu(name, cc)
    pkg, driver = pycuda_fake.module(abort_at_exit)
    return {"tensorrt": tensorrt_fake.module(version), "pycuda": pkg, "pycuda.driver": driver}


def install(monkeypatch, version: str = "10.8.0", name: str = "NVIDIA H100 80GB HBM3", cc: tuple[int, int] = (9, 0)):
    """Patch sys.modules with the fakes for one test; returns a namespace (trt, cuda, calls, config, state)."""
    mods = _modules(version, name, cc, abort_at_exit=False)
    for key, mod in mods.items():
        monkeypatch.setitem(sys.modules, key, mod)
    return types.SimpleNamespace(trt=mods["tensorrt"], cuda=mods["pycuda.driver"], calls=tensorrt_fake.CALLS,
                                 config=tensorrt_fake.CONFIG, state=pycuda_fake.state)


def switch(monkeypatch, version: str | None = None, name: str | None = None, cc: tuple[int, int] | None = None):
    """Another TensorRT version or GPU in the same test (the fake device memory is kept)."""
    if version:
        monkeypatch.setitem(sys.modules, "tensorrt", tensorrt_fake.module(version))
    if name:
        pycuda_fake.state["name"] = name
    if cc:
        pycuda_fake.state["cc"] = cc


def install_global(version: str = "10.8.0", abort_at_exit: bool = True, **gpu) -> None:
    """For a child process: the fakes for the whole process; with abort_at_exit, pycuda's exit check."""
    sys.modules.update(_modules(version, gpu.get("name", "NVIDIA H100 80GB HBM3"), gpu.get("cc", (9, 0)), abort_at_exit))


def leftover_contexts() -> dict[int, int]:
    return pycuda_fake.leftover_stacks()


def install_ort_cuda(monkeypatch) -> types.SimpleNamespace:
    """Patch sys.modules['onnxruntime'] with the CUDA-provider fake (the real CPU onnxruntime underneath)."""
    return onnxruntime_cuda_fake.install(monkeypatch)
