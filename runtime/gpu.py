"""Which NVIDIA GPU and TensorRT are here, asked without torch (pycuda) and without crashing when absent.

pycuda keeps a CUDA context stack per thread, and aborts the process at exit ("context stack was not
empty") when one is left pushed. So the primary context is never left current: `CudaContext.active()`
pushes it around each piece of GPU work, on whichever thread does it, and pops it again.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from runtime.errors import DependencyError

GPU_INSTALL_HINT = "pip install 'stylecast[gpu]' on a machine with an NVIDIA GPU; .onnx styles run everywhere through ONNX Runtime"


def import_tensorrt():
    try:
        import tensorrt as trt
    except ImportError:
        raise DependencyError(f"TensorRT is not installed: {GPU_INSTALL_HINT}") from None
    if not hasattr(trt, "Builder") and not hasattr(trt, "Runtime"):
        raise DependencyError(f"the 'tensorrt' package here is only PyPI's stub: {GPU_INSTALL_HINT}")
    return trt


def nvidia_gpu_present() -> bool:
    """An NVIDIA GPU is here (driver device files, or pycuda counting one): only then is TensorRT worth a word.
    Cheap and silent on CPU machines (no import of tensorrt, no CUDA initialisation without pycuda)."""
    if Path("/dev/nvidia0").exists() or Path("/proc/driver/nvidia/gpus").is_dir():
        return True
    try:
        cuda_driver()
    except DependencyError:
        return False
    return True


def cuda_driver():
    """pycuda.driver, initialised, with at least one GPU; else DependencyError. Pushes no context."""
    try:
        import pycuda.driver as cuda
    except ImportError:
        raise DependencyError(f"pycuda is not installed: {GPU_INSTALL_HINT}") from None
    try:
        cuda.init()
        count = cuda.Device.count()
    except cuda.Error as exc:
        raise DependencyError(f"CUDA is not usable here ({exc}): {GPU_INSTALL_HINT}") from None
    if count == 0:
        raise DependencyError(f"no NVIDIA GPU found: {GPU_INSTALL_HINT}")
    return cuda


def gpu_identity(device=None) -> tuple[str, str]:
    """(name, 'major.minor' compute capability) of GPU 0 (device queries need no current context)."""
    if device is None:
        device = cuda_driver().Device(0)
    major, minor = device.compute_capability()
    return device.name(), f"{major}.{minor}"


class CudaContext:
    """GPU 0's primary context (the one torch and the CUDA runtime use), current only inside active()."""

    def __init__(self, ordinal: int = 0):
        self.cuda = cuda_driver()
        self.device = self.cuda.Device(ordinal)
        try:
            self.context = self.device.retain_primary_context()
        except self.cuda.Error as exc:
            raise DependencyError(f"CUDA is not usable here ({exc}): {GPU_INSTALL_HINT}") from None

    @contextlib.contextmanager
    def active(self) -> Iterator:
        """Make the context current on this thread for the block, whatever thread that is; yields pycuda.driver."""
        self.context.push()
        try:
            yield self.cuda
        finally:
            self.cuda.Context.pop()

    def identity(self) -> tuple[str, str]:
        return gpu_identity(self.device)
