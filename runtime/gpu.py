"""Which NVIDIA GPU and TensorRT are here, asked without torch (pycuda) and without crashing when absent."""
from __future__ import annotations

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


def cuda_device():
    """(pycuda.driver module, primary context) for GPU 0, or DependencyError."""
    try:
        import pycuda.driver as cuda
    except ImportError:
        raise DependencyError(f"pycuda is not installed: {GPU_INSTALL_HINT}") from None
    try:
        cuda.init()
        if cuda.Device.count() == 0:
            raise DependencyError(f"no NVIDIA GPU found: {GPU_INSTALL_HINT}")
        device = cuda.Device(0)
        context = device.retain_primary_context()
        context.push()
    except cuda.Error as exc:
        raise DependencyError(f"CUDA is not usable here ({exc}): {GPU_INSTALL_HINT}") from None
    return cuda, device, context


def gpu_identity(device) -> tuple[str, str]:
    major, minor = device.compute_capability()
    return device.name(), f"{major}.{minor}"
