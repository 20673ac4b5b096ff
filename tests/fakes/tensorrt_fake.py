"""A fake `tensorrt` (10.x or 11.x) with exactly the documented names and signatures of the calls we use.

Removed or misspelled names raise AttributeError as the real bindings do (setting unknown attributes too:
`config.max_workspace_size = ...`); TensorRT 11 has no BuilderFlag.FP16. It checks shapes against the
optimization profile, honours version-compatibility rules on load, records every call in CALLS, and executes
an engine by running its ONNX with ONNX Runtime on the fake pycuda device memory (rounded through float16
when the engine is fp16), so fidelity and threading can be tested for real.
"""
from __future__ import annotations

import hashlib
import json
import types

import numpy as np

from tests.fakes import pycuda_fake

MAGIC = b"FAKETRT\0"
CALLS: list[tuple] = []
CONFIG: dict = {}
_sessions: dict[str, object] = {}


def reset(version: str) -> None:
    CALLS.clear()
    CONFIG.clear()
    CONFIG.update(version=version, major=int(version.split(".")[0]), fail_build=False, fail_context=False,
                  output_bias=0.0, output_dtype=None)


def _rec(name: str, *args) -> None:
    CALLS.append((name, args))


def names(prefix: str) -> list[tuple]:
    """The recorded calls whose name starts with prefix."""
    return [c for c in CALLS if c[0].startswith(prefix)]


class _Strict:
    """pybind11 objects: setting an attribute they do not define is an AttributeError."""

    _settable: tuple = ()

    def __setattr__(self, name, value):
        if not name.startswith("_") and name not in self._settable:
            raise AttributeError(f"'tensorrt.{type(self).__name__}' object has no attribute '{name}'")
        object.__setattr__(self, name, value)


class DataType:
    FLOAT, HALF, INT8, INT32, BOOL, UINT8, FP8, BF16, INT64 = range(9)


_NP = {DataType.FLOAT: np.float32, DataType.HALF: np.float16, DataType.INT8: np.int8, DataType.INT32: np.int32,
       DataType.BOOL: np.bool_, DataType.UINT8: np.uint8, DataType.INT64: np.int64}


def nptype(trt_type: int):
    if trt_type not in _NP:
        raise TypeError("Could not resolve TensorRT datatype to an equivalent numpy datatype.")
    return _NP[trt_type]


class TensorIOMode:
    NONE, INPUT, OUTPUT = range(3)


class MemoryPoolType:
    WORKSPACE, DLA_MANAGED_SRAM, DLA_LOCAL_DRAM, DLA_GLOBAL_DRAM, TACTIC_DRAM, TACTIC_SHARED_MEMORY = range(6)


class ILogger(_Strict):
    INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE = range(5)


class Logger(ILogger):
    _settable = ("min_severity",)

    def __init__(self, min_severity: int = ILogger.WARNING):
        self.min_severity = min_severity


class IHostMemory:
    def __init__(self, data: bytes):
        self._data = data
        self.nbytes = len(data)

    def __bytes__(self) -> bytes:
        return self._data

    def __buffer__(self, flags):
        return memoryview(self._data)


def _flag_enums(major: int):
    flags = ["FP16", "BF16", "INT8", "FP8", "DEBUG", "GPU_FALLBACK", "REFIT", "DISABLE_TIMING_CACHE", "TF32",
             "SPARSE_WEIGHTS", "SAFETY_SCOPE", "OBEY_PRECISION_CONSTRAINTS", "PREFER_PRECISION_CONSTRAINTS",
             "DIRECT_IO", "REJECT_EMPTY_ALGORITHMS", "VERSION_COMPATIBLE", "EXCLUDE_LEAN_RUNTIME"]
    if major >= 11:  # removed in 11 (migration guide, "Removed Python APIs")
        removed = {"FP16", "BF16", "INT8", "FP8", "OBEY_PRECISION_CONSTRAINTS", "PREFER_PRECISION_CONSTRAINTS", "DIRECT_IO"}
        flags = [f for f in flags if f not in removed]
    builder_flag = type("BuilderFlag", (), {f: i for i, f in enumerate(flags)})
    creation = {"STRONGLY_TYPED": 1} if major >= 11 else {"EXPLICIT_BATCH": 0, "STRONGLY_TYPED": 1}
    return builder_flag, type("NetworkDefinitionCreationFlag", (), creation)


class INetworkDefinition(_Strict):
    _settable = ("name",)

    def __init__(self, flags: int):
        self._flags = flags
        self._model: bytes | None = None
        self._precision = "fp32"

    @property
    def num_inputs(self) -> int:
        return 1 if self._model else 0

    @property
    def strongly_typed(self) -> bool:  # TensorRT 11: always
        return CONFIG["major"] >= 11 or bool(self._flags & (1 << 1))


def _session(model: bytes):
    import onnxruntime as ort

    key = hashlib.sha256(model).hexdigest()
    if key not in _sessions:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        _sessions[key] = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    return _sessions[key]


class OnnxParser(_Strict):
    def __init__(self, network: INetworkDefinition, logger: ILogger):
        if not isinstance(network, INetworkDefinition) or not isinstance(logger, ILogger):
            raise TypeError("OnnxParser(network: INetworkDefinition, logger: ILogger)")
        self._network, self._errors = network, []

    def parse(self, model, path: str | None = None) -> bool:
        _rec("OnnxParser.parse", len(bytes(model)), path)
        try:
            session = _session(bytes(model))
        except Exception as exc:  # noqa: BLE001
            self._errors.append(f"ModelImporter: {str(exc).splitlines()[0]}")
            return False
        self._network._model = bytes(model)
        self._network._precision = session.get_modelmeta().custom_metadata_map.get("stylecast.precision", "fp32")
        return True

    def parse_from_file(self, model: str) -> bool:
        with open(model, "rb") as f:
            return self.parse(f.read(), model)

    @property
    def num_errors(self) -> int:
        return len(self._errors)

    def get_error(self, index: int) -> str:
        return self._errors[index]

    def clear_errors(self) -> None:
        self._errors.clear()


class IOptimizationProfile(_Strict):
    def __init__(self):
        self._shapes: dict[str, tuple] = {}

    def set_shape(self, input: str, min, opt, max) -> None:  # noqa: A002  (documented names)
        _rec("IOptimizationProfile.set_shape", input, tuple(min), tuple(opt), tuple(max))
        self._shapes[input] = (tuple(min), tuple(opt), tuple(max))

    def get_shape(self, input: str) -> list:  # noqa: A002
        return [list(s) for s in self._shapes[input]]


class ITimingCache(_Strict):
    def __init__(self, blob: bytes):
        self._valid = not blob or blob == b"FAKETC " + CONFIG["version"].encode()

    def serialize(self) -> IHostMemory:
        return IHostMemory(b"FAKETC " + CONFIG["version"].encode())


class IBuilderConfig(_Strict):
    _settable = ("profiling_verbosity", "builder_optimization_level", "hardware_compatibility_level", "avg_timing_iterations")

    def __init__(self):
        self._flags: set[int] = set()
        self._profiles: list[IOptimizationProfile] = []
        self._cache: ITimingCache | None = None
        self._pools: dict[int, int] = {}

    def set_memory_pool_limit(self, pool: int, pool_size: int) -> None:
        _rec("IBuilderConfig.set_memory_pool_limit", pool, pool_size)
        self._pools[pool] = int(pool_size)

    def set_flag(self, flag: int) -> None:
        _rec("IBuilderConfig.set_flag", flag)
        self._flags.add(flag)

    def get_flag(self, flag: int) -> bool:
        return flag in self._flags

    def clear_flag(self, flag: int) -> None:
        self._flags.discard(flag)

    def add_optimization_profile(self, profile: IOptimizationProfile) -> int:
        _rec("IBuilderConfig.add_optimization_profile", profile._shapes)
        for lo, opt, hi in profile._shapes.values():
            if len(lo) != 4 or not all(a <= b <= c for a, b, c in zip(lo, opt, hi)):
                return -1
        self._profiles.append(profile)
        return len(self._profiles) - 1

    def create_timing_cache(self, serialized_timing_cache) -> ITimingCache:
        return ITimingCache(bytes(serialized_timing_cache))

    def set_timing_cache(self, cache: ITimingCache, ignore_mismatch: bool) -> bool:
        _rec("IBuilderConfig.set_timing_cache", cache._valid, ignore_mismatch)
        if not cache._valid and not ignore_mismatch:
            return False
        self._cache = cache
        return True

    def get_timing_cache(self) -> ITimingCache | None:
        return self._cache


class Builder(_Strict):
    _settable = ("max_threads",)

    def __init__(self, logger: ILogger):
        if not isinstance(logger, ILogger):
            raise TypeError("Builder(logger: ILogger)")
        self._logger = logger

    def create_network(self, flags: int = 0) -> INetworkDefinition:
        _rec("Builder.create_network", flags)
        return INetworkDefinition(int(flags))

    def create_builder_config(self) -> IBuilderConfig:
        return IBuilderConfig()

    def create_optimization_profile(self) -> IOptimizationProfile:
        return IOptimizationProfile()

    def build_serialized_network(self, network: INetworkDefinition, config: IBuilderConfig) -> IHostMemory | None:
        _rec("Builder.build_serialized_network", network._flags, sorted(config._flags))
        flag = CONFIG["BuilderFlag"]
        fp16_flag = getattr(flag, "FP16", None) in config._flags
        if CONFIG["fail_build"] or network._model is None or not config._profiles:
            return None  # real TensorRT: logs the error, returns None (dynamic input needs a profile)
        if network.strongly_typed and fp16_flag:
            return None  # "precision flags are not allowed with strongly typed networks"
        lo, opt, hi = config._profiles[0]._shapes["input"]
        header = {"version": CONFIG["version"], "cc": list(pycuda_fake.state["cc"]),
                  "vc": flag.VERSION_COMPATIBLE in config._flags, "lean_excluded": flag.EXCLUDE_LEAN_RUNTIME in config._flags,
                  "precision": "fp16" if fp16_flag or network._precision == "fp16" else "fp32",
                  "profile": [lo, opt, hi], "strongly_typed": network.strongly_typed}
        return IHostMemory(MAGIC + json.dumps(header).encode() + b"\0" + network._model)


class ICudaEngine(_Strict):
    def __init__(self, header: dict, model: bytes):
        self._header, self._model = header, model

    @property
    def num_io_tensors(self) -> int:
        return 2

    def get_tensor_name(self, index: int) -> str:
        return ("input", "output")[index]

    def _check(self, name: str) -> None:
        if name not in ("input", "output"):
            raise KeyError(f"tensor '{name}' not found")

    def get_tensor_mode(self, name: str) -> int:
        self._check(name)
        return TensorIOMode.INPUT if name == "input" else TensorIOMode.OUTPUT

    def get_tensor_dtype(self, name: str) -> int:
        self._check(name)
        if name == "output" and CONFIG["output_dtype"] is not None:
            return CONFIG["output_dtype"]
        return DataType.FLOAT

    def get_tensor_shape(self, name: str) -> tuple:
        self._check(name)
        return (-1, 3, -1, -1)

    def get_tensor_profile_shape(self, name: str, profile_index: int) -> list:
        if name != "input" or profile_index != 0:
            raise ValueError("no profile shape for that tensor/profile")
        return [tuple(s) for s in self._header["profile"]]

    def create_execution_context(self, strategy: int = 0):
        _rec("ICudaEngine.create_execution_context")
        return None if CONFIG["fail_context"] else IExecutionContext(self)


class IExecutionContext(_Strict):
    _settable = ("debug_sync", "name")

    def __init__(self, engine: ICudaEngine):
        self._engine = engine
        self._shape: tuple | None = None
        self._addresses: dict[str, int] = {}

    def set_input_shape(self, name: str, shape) -> bool:
        _rec("IExecutionContext.set_input_shape", name, tuple(shape))
        lo, _, hi = self._engine._header["profile"]
        shape = tuple(int(s) for s in shape)
        if name != "input" or len(shape) != 4 or not all(a <= s <= b for a, s, b in zip(lo, shape, hi)):
            return False
        self._shape = shape
        return True

    def get_tensor_shape(self, name: str) -> tuple:
        self._engine._check(name)
        return self._shape if self._shape else (-1, 3, -1, -1)

    def set_tensor_address(self, name: str, memory: int) -> bool:
        if not isinstance(memory, int):
            raise TypeError("set_tensor_address(name: str, memory: int)")
        _rec("IExecutionContext.set_tensor_address", name, memory)
        if name not in ("input", "output"):
            return False
        self._addresses[name] = memory
        return True

    def execute_async_v3(self, stream_handle: int) -> bool:
        if not isinstance(stream_handle, int):
            raise TypeError("execute_async_v3(stream_handle: int)")
        _rec("IExecutionContext.execute_async_v3", stream_handle)
        if self._shape is None or set(self._addresses) != {"input", "output"}:
            return False
        e = self._engine
        n = int(np.prod(self._shape))
        x = pycuda_fake.MEMORY[self._addresses["input"]][: n * 4].view(np.float32).reshape(self._shape)
        y = _session(e._model).run(["output"], {"input": x})[0] + CONFIG["output_bias"]
        if e._header["precision"] == "fp16":
            y = y.astype(np.float16).astype(np.float32)
        out = y.astype(nptype(e.get_tensor_dtype("output")))
        dst = pycuda_fake.MEMORY[self._addresses["output"]]
        dst[: out.nbytes] = np.frombuffer(out.tobytes(), np.uint8)
        return True


def _major(v: str) -> int:
    return int(v.split(".")[0])


def _loadable(built: str, running: str, vc: bool) -> bool:
    if not vc:
        return built == running
    b, r = tuple(map(int, built.split("."))), tuple(map(int, running.split(".")))
    return (b[0] == r[0] and r >= b) or (b[0], r[0]) == (10, 11)


class Runtime(_Strict):
    _settable = ("engine_host_code_allowed", "max_threads", "temporary_directory", "tempfile_control_flags")

    def __init__(self, logger: ILogger):
        if not isinstance(logger, ILogger):
            raise TypeError("Runtime(logger: ILogger)")
        self._logger = logger
        self._lean_loaded = False
        self.engine_host_code_allowed = False

    def load_runtime(self, path: str) -> "Runtime":
        rt = Runtime(self._logger)
        rt._lean_loaded = True
        return rt

    def deserialize_cuda_engine(self, serialized_engine) -> ICudaEngine | None:
        data = bytes(serialized_engine)
        _rec("Runtime.deserialize_cuda_engine", len(data))
        if not data.startswith(MAGIC):
            return None  # "Serialization assertion failed: magic tag"
        head, _, model = data[len(MAGIC):].partition(b"\0")
        header = json.loads(head)
        if tuple(header["cc"]) != tuple(pycuda_fake.state["cc"]):
            return None  # engine built for another GPU architecture
        if not _loadable(header["version"], CONFIG["version"], header["vc"]):
            return None
        if header["vc"] and not (self._lean_loaded if header["lean_excluded"] else self.engine_host_code_allowed):
            return None  # lean runtime missing (EXCLUDE_LEAN_RUNTIME) or host code not allowed
        return ICudaEngine(header, model)


def module(version: str) -> types.ModuleType:
    """A fresh `tensorrt` module object for this version."""
    reset(version)
    mod = types.ModuleType("tensorrt")
    builder_flag, creation = _flag_enums(_major(version))
    CONFIG["BuilderFlag"] = builder_flag
    mod.__version__ = version
    mod.BuilderFlag, mod.NetworkDefinitionCreationFlag = builder_flag, creation
    for name in ("DataType", "nptype", "TensorIOMode", "MemoryPoolType", "ILogger", "Logger", "IHostMemory", "INetworkDefinition",
                 "OnnxParser", "IOptimizationProfile", "ITimingCache", "IBuilderConfig", "Builder", "ICudaEngine",
                 "IExecutionContext", "Runtime"):
        setattr(mod, name, globals()[name])
    return mod
