"""The TensorRT backend: an engine run through pycuda, and the per-GPU engine cache the auto mode builds into.

Every GPU call happens inside `CudaContext.active()`: the stylizer is created on the main thread and called
from the video pipeline's inference thread, and pycuda's context stack is per thread. Buffers follow the
engine: dtypes and output shape are read from it (get_tensor_dtype, the context's get_tensor_shape), and
a new input shape re-allocates them after set_input_shape accepts it.
"""
from __future__ import annotations

import sys
import weakref
from pathlib import Path
from typing import Callable

import numpy as np

from runtime.errors import DependencyError, InputError, StylecastError
from runtime.onnx_meta import INPUT_NAME, OUTPUT_NAME
from runtime.stylizer import Stylizer


class _Buffers:
    """Pinned host and device buffers for one input shape; freed inside the context (also at exit)."""

    def __init__(self):
        self.shape: tuple = ()
        self.host_in = self.host_out = self.dev_in = self.dev_out = None

    def free(self, ctx) -> None:
        if self.dev_in is None:
            return
        with ctx.active():
            self.dev_in.free()
            self.dev_out.free()
        self.host_in = self.host_out = self.dev_in = self.dev_out = None
        self.shape = ()


class TrtStylizer(Stylizer):
    """TensorRT engine with pinned host buffers, device buffers and one CUDA stream (pycuda)."""

    def __init__(self, path: Path):
        from runtime.gpu import CudaContext, import_tensorrt
        from runtime.trt_sidecar import check_compatible, read_sidecar

        trt = import_tensorrt()
        info = read_sidecar(path)
        self.ctx = CudaContext()
        gpu, cc = self.ctx.identity()
        for w in check_compatible(info, trt.__version__, gpu, cc):
            print(f"warning: {w}", file=sys.stderr)
        self.logger = trt.Logger(trt.Logger.ERROR)
        with self.ctx.active() as cuda:
            self.runtime = trt.Runtime(self.logger)
            if info.get("version_compatible"):  # the plan embeds its lean runtime: host code we trust (we built it)
                self.runtime.engine_host_code_allowed = True
            self.engine = self.runtime.deserialize_cuda_engine(path.read_bytes())
            if self.engine is None:
                raise InputError(f"TensorRT {trt.__version__} could not load {path} (corrupt, or built by another version)")
            names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
            if INPUT_NAME not in names or OUTPUT_NAME not in names:
                raise InputError(f"{path} has tensors {names}, expected '{INPUT_NAME}' and '{OUTPUT_NAME}'")
            self.dtype_in = np.dtype(trt.nptype(self.engine.get_tensor_dtype(INPUT_NAME)))
            self.dtype_out = np.dtype(trt.nptype(self.engine.get_tensor_dtype(OUTPUT_NAME)))
            lo, opt, hi = self.engine.get_tensor_profile_shape(INPUT_NAME, 0)
            self.profile = {"min": list(lo), "opt": list(opt), "max": list(hi)}
            self.context = self.engine.create_execution_context()
            if self.context is None:
                raise StylecastError(f"TensorRT could not create an execution context for {path.name} (out of GPU memory?)")
            self.stream = cuda.Stream()
        self.buffers = _Buffers()
        self._finalizer = weakref.finalize(self, _Buffers.free, self.buffers, self.ctx)
        self.card = info.get("card", {})
        self.name = self.card.get("name", path.stem)
        self.backend = f"TensorRT {trt.__version__} {info.get('precision', 'fp16')} on {gpu}"

    def accepts(self, shape: tuple) -> bool:
        """Is this NCHW shape inside the engine's optimization profile?"""
        return all(a <= s <= b for a, s, b in zip(self.profile["min"], shape, self.profile["max"]))

    def _allocate(self, cuda, shape: tuple) -> None:
        lo, hi = self.profile["min"], self.profile["max"]
        if not self.accepts(shape):
            raise StylecastError(f"frame shape {list(shape)} is outside the engine's profile {lo}..{hi}: "
                                 f"use --max-size or rebuild with a larger --max")
        self.stream.synchronize()  # the old buffers may still be in use by queued work
        self.buffers.free(self.ctx)
        if not self.context.set_input_shape(INPUT_NAME, shape):
            raise StylecastError(f"TensorRT rejected the input shape {list(shape)}")
        out_shape = tuple(self.context.get_tensor_shape(OUTPUT_NAME))
        if min(out_shape) < 0:
            raise StylecastError(f"TensorRT could not infer the output shape for input {list(shape)}")
        b = self.buffers
        b.host_in = cuda.pagelocked_empty(shape, self.dtype_in)
        b.host_out = cuda.pagelocked_empty(out_shape, self.dtype_out)
        b.dev_in = cuda.mem_alloc(b.host_in.nbytes)
        b.dev_out = cuda.mem_alloc(b.host_out.nbytes)
        for name, mem in ((INPUT_NAME, b.dev_in), (OUTPUT_NAME, b.dev_out)):
            if not self.context.set_tensor_address(name, int(mem)):
                raise StylecastError(f"TensorRT rejected the address of tensor '{name}'")
        b.shape = shape

    def run_nchw(self, x: np.ndarray) -> np.ndarray:
        with self.ctx.active() as cuda:
            if tuple(x.shape) != self.buffers.shape:
                self._allocate(cuda, tuple(x.shape))
            b = self.buffers
            np.copyto(b.host_in, x, casting="same_kind")
            cuda.memcpy_htod_async(b.dev_in, b.host_in, self.stream)
            if not self.context.execute_async_v3(self.stream.handle):
                raise StylecastError("TensorRT execution failed")
            cuda.memcpy_dtoh_async(b.host_out, b.dev_out, self.stream)
            self.stream.synchronize()
            return b.host_out.astype(np.float32)  # a copy: the pinned buffer is reused by the next frame

    def close(self) -> None:
        """Free the GPU buffers now (otherwise at garbage collection or exit)."""
        self._finalizer()


def engine_cache_dir() -> Path:
    from runtime.files import cache_root

    return cache_root() / "engines"


def cached_engine(onnx_path: Path, say: Callable[[str], None]) -> Path:
    """A TensorRT engine for this ONNX file, GPU and TensorRT version: built and checked once (about a minute), then reused.

    A build or fidelity failure is remembered (a .failed file beside the engine) so that auto mode falls back
    at once on the next start instead of rebuilding; delete the file to retry.
    """
    from runtime.files import sha256_file
    from runtime.gpu import gpu_identity, import_tensorrt
    from runtime.trt_build import build_checked

    trt = import_tensorrt()
    if not hasattr(trt, "Builder"):
        raise DependencyError("only the TensorRT runtime is installed, not the builder: build an engine elsewhere with python -m export.trt")
    gpu, cc = gpu_identity()
    key = f"{onnx_path.stem}-{sha256_file(onnx_path)[:12]}-trt{trt.__version__}-sm{cc.replace('.', '')}"
    folder = engine_cache_dir()
    engine, failed = folder / f"{key}.trt", folder / f"{key}.failed"
    if failed.is_file():
        raise StylecastError(f"remembered in {failed} (delete it to retry): {failed.read_text().strip()}")
    if not engine.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        say(f"building a TensorRT engine for {onnx_path.stem} on {gpu} (once; cached in {folder})")
        try:
            build_checked(onnx_path, engine, timing_cache=folder / "timing.cache", say=say)
        except DependencyError:
            raise
        except StylecastError as exc:
            failed.write_text(f"TensorRT engine for {onnx_path.name} failed: {exc}\n")
            raise
    return engine
