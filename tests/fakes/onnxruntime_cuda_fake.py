"""A fake `onnxruntime` with the CUDA provider: the real CPU onnxruntime underneath, the GPU simulated.

It reports "CUDAExecutionProvider" as available and implements the documented Python API of the calls the
runtime uses for CUDA (onnxruntime_inference_collection: `InferenceSession.io_binding()`,
`IOBinding.bind_cpu_input(name, arr_on_cpu)`, `bind_input(name, device_type, device_id, element_type, shape,
buffer_ptr)`, `bind_ortvalue_input(name, ortvalue)`, `bind_output(name, device_type="cpu", device_id=0,
element_type=None, shape=None, buffer_ptr=None)`, `synchronize_inputs/outputs()`, `get_outputs()`,
`copy_outputs_to_cpu()`, `run_with_iobinding(iobinding, run_options=None)`,
`OrtValue.ortvalue_from_numpy(numpy_obj, /, device_type="cpu", device_id=0, vendor_id=-1)`), with the real
one's strictness: device strings are exactly "cpu" or "cuda" (device 0 only), an IOBinding belongs to its
session, and an output left bound to last run's buffer is reused, so a new input shape fails with ORT's
"Shape mismatch attempting to re-use buffer" unless the output is rebound. "Device" values hold private
copies; every host<->device copy is recorded in TRANSFERS, every call in CALLS. With CONFIG["fp16_output_bias"]
a CUDA session of an fp16 graph returns shifted output (a bad fp16 model for the fidelity gate).
"""
from __future__ import annotations

import sys
import types

import numpy as np

CALLS: list[tuple] = []
TRANSFERS: list[tuple] = []  # ("htod" | "dtoh", shape, where)
CONFIG: dict = {}
DEVICE: dict[int, "OrtValue"] = {}  # fake device address -> value
_TYPES = {np.dtype(np.float32): ("tensor(float)", 1), np.dtype(np.float16): ("tensor(float16)", 10),
          np.dtype(np.int64): ("tensor(int64)", 7)}
_real = None


def reset() -> None:
    CALLS.clear()
    TRANSFERS.clear()
    DEVICE.clear()
    CONFIG.clear()
    CONFIG.update(providers=["CUDAExecutionProvider", "CPUExecutionProvider"], cuda_loads=True, fp16_output_bias=0.0)


def _rec(name: str, *args) -> None:
    CALLS.append((name, args))


def names(prefix: str) -> list[tuple]:
    return [c for c in CALLS if c[0].startswith(prefix)]


def _device(device_type, device_id) -> str:
    """OrtDevice.make: 'cpu' and 'cuda' only (case-sensitive, as get_ort_device_type), and one GPU."""
    if device_type not in ("cpu", "cuda"):
        raise Exception("Unsupported device type: " + str(device_type))  # what get_ort_device_type raises
    if device_type == "cuda" and device_id != 0:
        raise RuntimeError(f"CUDA device {device_id} does not exist (one GPU)")
    return device_type


class OrtValue:
    _next_address = [0x7F0000000000]

    def __init__(self, data: np.ndarray, device: str):
        self._data, self._device = data, device
        OrtValue._next_address[0] += (data.nbytes + 255) // 256 * 256 + 256
        self._address = OrtValue._next_address[0]
        if device == "cuda":
            DEVICE[self._address] = self

    @classmethod
    def ortvalue_from_numpy(cls, numpy_obj, /, device_type="cpu", device_id=0, vendor_id=-1) -> "OrtValue":
        dev = _device(device_type, device_id)
        arr = np.asarray(numpy_obj)
        _rec("OrtValue.ortvalue_from_numpy", arr.shape, dev, device_id)
        if dev == "cuda":
            TRANSFERS.append(("htod", arr.shape, "ortvalue_from_numpy"))
            return cls(np.array(arr, copy=True), dev)
        return cls(arr, dev)

    @classmethod
    def ortvalue_from_shape_and_type(cls, shape, element_type, device_type="cpu", device_id=0, vendor_id=-1,
                                     memory_info=None) -> "OrtValue":
        return cls(np.zeros(tuple(shape), element_type), _device(device_type, device_id))

    def device_name(self) -> str:
        return self._device

    def shape(self) -> list[int]:
        return list(self._data.shape)

    def data_type(self) -> str:
        return _TYPES[self._data.dtype][0]

    def element_type(self) -> int:
        return _TYPES[self._data.dtype][1]

    def data_ptr(self) -> int:
        return self._address

    def is_tensor(self) -> bool:
        return True

    def tensor_size_in_bytes(self) -> int:
        return self._data.nbytes

    def numpy(self) -> np.ndarray:
        if self._device == "cuda":
            TRANSFERS.append(("dtoh", self._data.shape, "OrtValue.numpy"))
        return np.array(self._data, copy=True)


class IOBinding:
    def __init__(self, session: "InferenceSession"):
        self._session = session
        self._inputs: dict[str, tuple[str, np.ndarray]] = {}
        self._outputs: dict[str, object] = {}  # name -> device string (ORT allocates) or an OrtValue (reused)
        self._last: list[OrtValue] = []

    def _input(self, name: str) -> None:
        if name not in self._session._input_names:
            raise RuntimeError(f"Failed to find NodeArg with name: {name} in the def list")

    def bind_cpu_input(self, name, arr_on_cpu):
        self._input(name)
        _rec("IOBinding.bind_cpu_input", name, np.shape(arr_on_cpu))
        self._inputs[name] = ("cpu", np.asarray(arr_on_cpu))

    def bind_input(self, name, device_type, device_id, element_type, shape, buffer_ptr):
        self._input(name)
        dev = _device(device_type, device_id)
        _rec("IOBinding.bind_input", name, dev, device_id, np.dtype(element_type), tuple(shape), buffer_ptr)
        value = DEVICE.get(buffer_ptr) if dev == "cuda" else None
        if value is None:
            raise RuntimeError(f"no {dev} buffer at {buffer_ptr:#x}")
        if value._data.dtype != np.dtype(element_type) or value._data.size != int(np.prod(shape)):
            raise RuntimeError(f"buffer at {buffer_ptr:#x} is {value._data.dtype} {value._data.shape}, bound as {shape}")
        self._inputs[name] = (dev, value._data.reshape(tuple(shape)))

    def bind_ortvalue_input(self, name, ortvalue):
        self._input(name)
        if not isinstance(ortvalue, OrtValue):
            raise TypeError("bind_ortvalue_input(name, ortvalue: OrtValue)")
        _rec("IOBinding.bind_ortvalue_input", name, ortvalue.device_name(), tuple(ortvalue.shape()))
        self._inputs[name] = (ortvalue._device, ortvalue._data)

    def synchronize_inputs(self):
        _rec("IOBinding.synchronize_inputs")

    def bind_output(self, name, device_type="cpu", device_id=0, element_type=None, shape=None, buffer_ptr=None):
        if name not in self._session._output_names:
            raise RuntimeError(f"Failed to find NodeArg with name: {name} in the def list")
        dev = _device(device_type, device_id)
        _rec("IOBinding.bind_output", name, dev, device_id, shape)
        if buffer_ptr is not None:
            if element_type is None or shape is None:
                raise ValueError("`element_type` and `shape` are to be provided if pre-allocated memory is provided")
            self._outputs[name] = DEVICE[buffer_ptr]
        else:
            self._outputs[name] = dev

    def bind_ortvalue_output(self, name, ortvalue):
        self._outputs[name] = ortvalue

    def synchronize_outputs(self):
        _rec("IOBinding.synchronize_outputs")

    def get_outputs(self) -> list[OrtValue]:
        _rec("IOBinding.get_outputs")
        return list(self._last)

    def copy_outputs_to_cpu(self) -> list[np.ndarray]:
        _rec("IOBinding.copy_outputs_to_cpu")
        for v in self._last:
            if v._device == "cuda":
                TRANSFERS.append(("dtoh", v._data.shape, "copy_outputs_to_cpu"))
        return [np.array(v._data, copy=True) for v in self._last]

    def clear_binding_inputs(self):
        self._inputs.clear()

    def clear_binding_outputs(self):
        self._outputs.clear()


class InferenceSession:
    def __init__(self, path_or_bytes, sess_options=None, providers=None, provider_options=None, **kwargs):
        for p in providers or []:
            if (p[0] if isinstance(p, tuple) else p) not in CONFIG["providers"]:
                raise ValueError(f"Specified provider '{p}' is not in available provider names.")
        self._real = _real.InferenceSession(path_or_bytes, sess_options, providers=["CPUExecutionProvider"])
        wants_cuda = "CUDAExecutionProvider" in [p[0] if isinstance(p, tuple) else p for p in providers or []]
        self._cuda = wants_cuda and CONFIG["cuda_loads"]  # a CUDA EP that fails to load falls back to CPU
        self._providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if self._cuda else ["CPUExecutionProvider"]
        self._input_names = [i.name for i in self._real.get_inputs()]
        self._output_names = [o.name for o in self._real.get_outputs()]
        self._precision = self._real.get_modelmeta().custom_metadata_map.get("stylecast.precision", "fp32")
        _rec("InferenceSession", tuple(self._providers), self._precision)

    def get_providers(self):
        return list(self._providers)

    def get_inputs(self):
        return self._real.get_inputs()

    def get_outputs(self):
        return self._real.get_outputs()

    def get_modelmeta(self):
        return self._real.get_modelmeta()

    def _compute(self, feed: dict) -> list[np.ndarray]:
        out = self._real.run(None, feed)
        if self._cuda and self._precision == "fp16" and CONFIG["fp16_output_bias"]:
            out = [o + np.float32(CONFIG["fp16_output_bias"]) for o in out]
        return out

    def run(self, output_names, input_feed, run_options=None):
        _rec("InferenceSession.run", self._cuda)
        if self._cuda:
            TRANSFERS.extend(("htod", np.shape(v), "run") for v in input_feed.values())
        outs = self._compute(input_feed)
        if self._cuda:
            TRANSFERS.extend(("dtoh", o.shape, "run") for o in outs)
        names = output_names or self._output_names
        return [outs[self._output_names.index(n)] for n in names]

    def io_binding(self) -> IOBinding:
        _rec("InferenceSession.io_binding")
        return IOBinding(self)

    def run_with_iobinding(self, iobinding, run_options=None):
        if iobinding._session is not self:
            raise ValueError("IOBinding must be used with the session that created it.")
        missing = [n for n in self._input_names if n not in iobinding._inputs]
        if missing:
            raise RuntimeError(f"inputs not bound: {missing}")
        feed = {}
        for name, (dev, arr) in iobinding._inputs.items():
            if dev == "cuda" and not self._cuda:
                raise RuntimeError("a CUDA input bound to a session without the CUDA provider")
            if dev == "cpu" and self._cuda:
                TRANSFERS.append(("htod", arr.shape, "bind_cpu_input"))
            feed[name] = arr
        _rec("InferenceSession.run_with_iobinding", {k: v.shape for k, v in feed.items()})
        results = dict(zip(self._output_names, self._compute(feed)))
        last = []
        for name in self._output_names:
            slot, value = iobinding._outputs.get(name, "cpu"), results[name]
            if isinstance(slot, OrtValue):  # last run's buffer (or a pre-allocated one) is reused
                if tuple(slot._data.shape) != value.shape:
                    raise RuntimeError(f"Shape mismatch attempting to re-use buffer. {{{','.join(map(str, slot._data.shape))}}} "
                                       f"!= {{{','.join(map(str, value.shape))}}}. Validate usage of dim_value (values should be > 0) "
                                       "and dim_param (all values with the same string should equate to the same size) in shapes in the model.")
                slot._data[...] = value
                out = slot
            else:
                if slot == "cuda" and not self._cuda:
                    raise RuntimeError("output bound to CUDA on a session without the CUDA provider")
                if slot == "cpu" and self._cuda:
                    TRANSFERS.append(("dtoh", value.shape, "output bound to cpu"))
                out = OrtValue(np.ascontiguousarray(value), slot)
            iobinding._outputs[name] = out  # as ORT: the fetched value stays bound for the next run
            last.append(out)
        iobinding._last = last


def get_available_providers() -> list[str]:
    return list(CONFIG["providers"])


def get_device() -> str:
    return "GPU"


def module() -> types.ModuleType:
    """A fresh fake `onnxruntime`: the names above, everything else from the real module."""
    global _real
    import onnxruntime as real

    _real = real if not getattr(real, "_stylecast_fake", False) else _real
    reset()
    mod = types.ModuleType("onnxruntime")
    mod.__dict__.update(__version__=_real.__version__, _stylecast_fake=True, InferenceSession=InferenceSession,
                        IOBinding=IOBinding, OrtValue=OrtValue, get_available_providers=get_available_providers,
                        get_device=get_device, __getattr__=lambda name: getattr(_real, name))
    return mod


def install(monkeypatch) -> types.SimpleNamespace:
    """Patch sys.modules['onnxruntime'] for one test; returns (ort, calls, transfers, config, names)."""
    mod = module()
    monkeypatch.setitem(sys.modules, "onnxruntime", mod)
    return types.SimpleNamespace(ort=mod, calls=CALLS, transfers=TRANSFERS, config=CONFIG, names=names)
