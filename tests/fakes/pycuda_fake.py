"""A fake `pycuda.driver` with pycuda's documented names and signatures and its per-thread context stack.

What it enforces, as pycuda does: cuInit first; pagelocked_empty, mem_alloc, Stream and the copies need a
current context on the calling thread (else LogicError "... no currently active context?"); Context.pop
is static and pops the calling thread's top context; a context left on the stack at exit aborts the process
(when installed with abort_at_exit). Device memory is real host memory keyed by a fake address, so a fake
TensorRT can execute on it.
"""
from __future__ import annotations

import atexit
import os
import sys
import threading
import types

import numpy as np

MEMORY: dict[int, np.ndarray] = {}  # address -> uint8 buffer ("device memory")
_next_address = [0x7F0000000000]
_local = threading.local()
_stacks: dict[int, list] = {}  # thread id -> that thread's context stack (for leak checks)
state = {"initialized": False, "count": 1, "name": "NVIDIA H100 80GB HBM3", "cc": (9, 0), "calls": []}


class Error(Exception):
    pass


class LogicError(Error):
    pass


def _stack() -> list:
    if not hasattr(_local, "stack"):
        _local.stack = []
        _stacks[threading.get_ident()] = _local.stack
    return _local.stack


def _need_context(what: str) -> None:
    if not state["initialized"]:
        raise LogicError(f"{what} failed: cuInit has not been called")
    if not _stack():
        raise LogicError(f"{what} failed: invalid device context - no currently active context?")


def init(flags: int = 0) -> None:
    state["initialized"] = True


class Context:
    def __init__(self, device: "Device"):
        self.device = device

    def push(self) -> None:
        _stack().append(self)

    @staticmethod
    def pop() -> None:
        st = _stack()
        if not st:
            raise LogicError("cuCtxPopCurrent failed: invalid device context")
        st.pop()

    @staticmethod
    def get_current():
        st = _stack()
        return st[-1] if st else None

    @staticmethod
    def synchronize() -> None:
        _need_context("cuCtxSynchronize")

    def detach(self) -> None:
        pass

    def get_device(self) -> "Device":
        return self.device


class Device:
    def __init__(self, number: int):
        if not state["initialized"]:
            raise LogicError("cuDeviceGet failed: cuInit has not been called")
        if not 0 <= number < state["count"]:
            raise LogicError("cuDeviceGet failed: invalid device ordinal")
        self.number = number

    @staticmethod
    def count() -> int:
        if not state["initialized"]:
            raise LogicError("cuDeviceGetCount failed: cuInit has not been called")
        return state["count"]

    def name(self) -> str:
        return state["name"]

    def compute_capability(self) -> tuple[int, int]:
        return state["cc"]

    def retain_primary_context(self) -> Context:
        return Context(self)

    def make_context(self, flags: int = 0) -> Context:
        ctx = Context(self)
        ctx.push()
        return ctx


class DeviceAllocation:
    def __init__(self, nbytes: int):
        self.address = _next_address[0]
        _next_address[0] += (nbytes + 255) // 256 * 256 + 256
        MEMORY[self.address] = np.zeros(nbytes, np.uint8)
        self.nbytes = nbytes

    def __int__(self) -> int:
        return self.address

    __index__ = __int__

    def free(self) -> None:
        MEMORY.pop(self.address, None)


class Stream:
    _handles = [0x5000]

    def __init__(self, flags: int = 0):
        _need_context("cuStreamCreate")
        Stream._handles[0] += 16
        self.handle = Stream._handles[0]

    def synchronize(self) -> None:
        _need_context("cuStreamSynchronize")

    def is_done(self) -> bool:
        return True


def mem_alloc(bytes: int) -> DeviceAllocation:  # noqa: A002  (pycuda's parameter name)
    _need_context("cuMemAlloc")
    return DeviceAllocation(int(bytes))


def pagelocked_empty(shape, dtype, order: str = "C", mem_flags: int = 0) -> np.ndarray:
    _need_context("cuMemHostAlloc")
    return np.empty(shape, dtype, order=order)


def _device(ptr) -> np.ndarray:
    addr = int(ptr)
    if addr not in MEMORY:
        raise LogicError("cuMemcpy failed: invalid argument (not a live device allocation)")
    return MEMORY[addr]


def memcpy_htod_async(dest, src, stream: Stream | None = None) -> None:
    _need_context("cuMemcpyHtoDAsync")
    if not isinstance(src, np.ndarray):
        raise TypeError("src must be a host array")
    mem = _device(dest)
    if src.nbytes > mem.nbytes:
        raise LogicError("cuMemcpyHtoDAsync failed: invalid argument (copy larger than the allocation)")
    mem[: src.nbytes] = np.frombuffer(np.ascontiguousarray(src).tobytes(), np.uint8)


def memcpy_dtoh_async(dest, src, stream: Stream | None = None) -> None:
    _need_context("cuMemcpyDtoHAsync")
    mem = _device(src)
    if dest.nbytes > mem.nbytes:
        raise LogicError("cuMemcpyDtoHAsync failed: invalid argument (copy larger than the allocation)")
    dest.reshape(-1).view(np.uint8)[:] = mem[: dest.nbytes]


def leftover_stacks() -> dict[int, int]:
    """Thread id -> contexts still pushed on it (what makes real pycuda abort at exit)."""
    return {tid: len(st) for tid, st in _stacks.items() if st}


def _abort_if_pushed() -> None:
    if _stack():
        sys.stderr.write("PyCUDA ERROR: The context stack was not empty upon module cleanup.\n")
        sys.stderr.flush()
        os.abort()


def module(abort_at_exit: bool = False) -> tuple[types.ModuleType, types.ModuleType]:
    """(pycuda package, pycuda.driver) as fresh module objects over this state."""
    driver = types.ModuleType("pycuda.driver")
    for name in ("Error", "LogicError", "init", "Context", "Device", "DeviceAllocation", "Stream", "mem_alloc",
                 "pagelocked_empty", "memcpy_htod_async", "memcpy_dtoh_async"):
        setattr(driver, name, globals()[name])
    pkg = types.ModuleType("pycuda")
    pkg.__path__ = []  # a package, so "import pycuda.driver" resolves through sys.modules
    pkg.driver = driver
    if abort_at_exit:
        atexit.register(_abort_if_pushed)
    return pkg, driver
