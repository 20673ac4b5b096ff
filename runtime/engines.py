"""One interface over TensorRT, ONNX Runtime, OpenVINO and PyTorch: RGB uint8 frames in, RGB uint8 frames out.

`open_stylizer(name_or_path, backend="auto")` picks the fastest backend that works here, falls back
with a one-line message when a faster one is unavailable, and says once which one it chose.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from runtime import catalog
from runtime.errors import DependencyError, InputError, StylecastError
from runtime.frames import PAD_MULTIPLE
from runtime.openvino_engine import PRECISIONS
from runtime.gpu import nvidia_gpu_present
from runtime.onnx_meta import INPUT_NAME, OUTPUT_NAME, PRECISION_KEY, card_from_session
from runtime.stylizer import NonFiniteOutput, Stylizer  # noqa: F401  (re-exported: the runtime's public names)
from runtime.trt_sidecar import ENGINE_SUFFIXES

BACKENDS = ("auto", "trt", "ort-cuda", "openvino", "ort-cpu", "torch")  # auto tries them in this order
ONNX_SUFFIXES = (".onnx",)
TORCH_SUFFIXES = (".pth", ".model", ".safetensors", ".pt")


CUDA_EP = "CUDAExecutionProvider"


class OrtStylizer(Stylizer):
    """ONNX Runtime: on CPU, or on CUDA with IO binding and the fp16 model where it passes the fidelity gate.

    CUDA: the fp16 graph (runtime.fp16: NAME.fp16.onnx beside the model, else converted once into the cache)
    replaces the fp32 one only when it reaches TensorRT's gate (PSNR >= 40 dB against fp32 ONNX Runtime on
    real photos); otherwise a one-line note and fp32. `fp16=False` (`--precision f32`) keeps fp32.
    """

    def __init__(self, path: Path, use_cuda: bool, threads: int | None = None, fp16: bool = True,
                 say: Callable[[str], None] | None = None):
        import onnxruntime as ort

        self.ort = ort
        self.path = Path(path)
        say = say or (lambda m: print(m, file=sys.stderr))
        self.opts = self._options(use_cuda, threads)
        self.session = self._load(self.path, use_cuda)
        self.cuda = self.session.get_providers()[0] == CUDA_EP
        if use_cuda and not self.cuda:  # the CUDA EP failed to load (its CUDA/cuDNN libraries) and ORT fell back
            say("note: ONNX Runtime's CUDA provider did not load (CUDA/cuDNN libraries missing?); running on the CPU")
            self.opts = self._options(False, threads)
            self.session = self._load(self.path, False)
        self.threads = self.opts.intra_op_num_threads
        self.card = card_from_session(self.session)
        self.name = self.card.get("name", self.path.stem)
        self.model_path = self.path
        self.precision = "fp16" if _precision(self.session) == "fp16" else "fp32"
        self.fidelity_db: float | None = None
        if self.cuda and fp16 and self.precision != "fp16":
            self._use_fp16(say)
        # CUDA: IO binding, so the output stays on the device until the caller wants it (run_device: never)
        self.binding = self.session.io_binding() if self.cuda else None
        self.backend = (f"onnxruntime CUDA {self.precision} (IO binding)" if self.cuda
                        else f"onnxruntime CPU, {self.threads} threads")

    def _options(self, use_cuda: bool, threads: int | None):
        opts = self.ort.SessionOptions()
        opts.log_severity_level = 3
        opts.graph_optimization_level = self.ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if not use_cuda:
            opts.intra_op_num_threads = threads or max(1, os.cpu_count() or 1)
            # idle ORT threads spin by default, taking CPU from the decoder, encoder and smoothing threads
            # of the video pipeline: +13% end-to-end FPS with the lite nets on 2 cores (README Speed)
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return opts

    def _load(self, path: Path, use_cuda: bool):
        providers = [CUDA_EP, "CPUExecutionProvider"] if use_cuda else ["CPUExecutionProvider"]
        try:
            session = self.ort.InferenceSession(str(path), self.opts, providers=providers)
        except Exception as exc:  # corrupt or foreign file
            raise InputError(f"cannot load {path} with ONNX Runtime: {str(exc).splitlines()[0][:200]}") from None
        inputs = [i.name for i in session.get_inputs()]
        if INPUT_NAME not in inputs:
            raise InputError(f"{path} has inputs {inputs}, expected '{INPUT_NAME}' (export with python -m export.onnx)")
        return session

    def _use_fp16(self, say: Callable[[str], None]) -> None:
        """Swap in the fp16 model if it passes the gate (verdict remembered per model pair and ORT version)."""
        from runtime import fp16
        from runtime.trt_build import FIDELITY_DB

        try:
            model = fp16.fp16_model_for(self.path, say)
            candidate = self._load(model, use_cuda=True)
        except StylecastError as exc:
            say(f"note: {exc}; ONNX Runtime CUDA runs the fp32 model")
            return
        if candidate.get_providers()[0] != CUDA_EP:
            return
        record = fp16.gate_record_path(model, self.path, self.ort.__version__)

        def measure() -> float:
            reference = OrtStylizer(self.path, use_cuda=False)
            binding = candidate.io_binding()
            return fp16.worst_psnr(lambda x: _run_bound(candidate, binding, x), reference.run_nchw)

        verdict, remembered = fp16.ort_fp16_gate(record, measure)
        if not verdict["passed"]:
            again = f"; remembered in {record}, delete it to re-check" if remembered else ""
            say(f"note: the fp16 model {model.name} reaches only {verdict['psnr_db']:.1f} dB PSNR vs fp32 ONNX Runtime "
                f"(gate {FIDELITY_DB:.0f} dB){again}; ONNX Runtime CUDA runs the fp32 model")
            return
        self.session, self.model_path, self.precision, self.fidelity_db = candidate, model, "fp16", verdict["psnr_db"]

    def run_nchw(self, x: np.ndarray) -> np.ndarray:
        if self.binding is None:
            return self.session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
        return _run_bound(self.session, self.binding, x)

    def to_device(self, x: np.ndarray):
        """NCHW float32 host array -> an OrtValue on GPU 0 (one host-to-device copy), for run_device."""
        return self.ort.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(x, np.float32), "cuda", 0)

    def run_device(self, x):
        """CUDA only: NCHW float32 on the GPU in, an OrtValue on the GPU out; no host round trip.

        x: an OrtValue on 'cuda' (to_device) or a contiguous float32 torch CUDA tensor. H and W must be multiples
        of 8 (host frames are padded by __call__; device callers pad their own, a lite net's with the border margins of
        runtime.stylizer.border_margins(self.card): top/left, bottom/right). Each call returns a new device
        buffer: the output is rebound without a shape before every run, because ORT would otherwise reuse the
        previous output buffer and reject a new input size mid-stream.
        """
        if self.binding is None:
            raise StylecastError("run_device needs the ONNX Runtime CUDA provider (onnxruntime-gpu on an NVIDIA GPU)")
        b = self.binding
        shape = self._bind_device_input(b, x)
        if len(shape) != 4 or shape[1] != 3 or shape[2] % PAD_MULTIPLE or shape[3] % PAD_MULTIPLE:
            raise StylecastError(f"run_device needs N x 3 x H x W with H, W multiples of {PAD_MULTIPLE}, got {list(shape)}")
        b.synchronize_inputs()  # the producer may have written x on another CUDA stream
        b.bind_output(OUTPUT_NAME, "cuda", 0)
        self.session.run_with_iobinding(b)
        b.synchronize_outputs()  # ready for a consumer on another stream
        return b.get_outputs()[0]

    @staticmethod
    def _bind_device_input(b, x) -> tuple:
        if hasattr(x, "device_name"):  # onnxruntime.OrtValue
            if x.device_name() != "cuda" or x.data_type() != "tensor(float)":
                raise StylecastError(f"run_device takes float32 on 'cuda', got {x.data_type()} on '{x.device_name()}'")
            b.bind_ortvalue_input(INPUT_NAME, x)
            return tuple(x.shape())
        if hasattr(x, "data_ptr") and getattr(x, "is_cuda", False):  # a torch CUDA tensor: bound by pointer, no copy
            if str(x.dtype) != "torch.float32" or not x.is_contiguous():
                raise StylecastError(f"run_device takes a contiguous float32 tensor, got {x.dtype}")
            b.bind_input(INPUT_NAME, "cuda", x.device.index or 0, np.float32, tuple(x.shape), x.data_ptr())
            return tuple(x.shape)
        raise StylecastError("run_device takes an OrtValue on 'cuda' (OrtStylizer.to_device) or a torch CUDA tensor")


def _precision(session) -> str:
    return session.get_modelmeta().custom_metadata_map.get(PRECISION_KEY, "fp32")


def _run_bound(session, binding, x: np.ndarray) -> np.ndarray:
    """Host NCHW in, host out through IO binding on CUDA (output rebound per run: the shape may change)."""
    binding.bind_cpu_input(INPUT_NAME, np.ascontiguousarray(x, np.float32))
    binding.bind_output(OUTPUT_NAME, "cuda", 0)
    session.run_with_iobinding(binding)
    return binding.copy_outputs_to_cpu()[0]


class TorchStylizer(Stylizer):
    """PyTorch fast path for GPU users without TensorRT: fp16 NCHW with fused instance norms, CUDA graphs per input shape."""

    MAX_GRAPHS = 3  # input shapes whose CUDA graphs are kept (--max-size, a resized window, portrait clips)

    def __init__(self, path: Path, device: str | None = None):
        try:
            import torch
        except ImportError:
            raise DependencyError("the torch backend needs PyTorch: pip install 'stylecast[train]'") from None
        from train.model_io import load_style_model

        self.torch = torch
        net, self.card = load_style_model(path)
        self.name = self.card.get("name", path.stem)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.cuda = self.device.type == "cuda"
        if self.cuda:  # NCHW: channels_last made this net slower on an H100 (InstanceNorm layouts; gpu.md)
            from train.transformer_net import fuse_instance_norms

            net = fuse_instance_norms(net).half().to(self.device)
        self.net = net.eval().to(self.device)
        from collections import OrderedDict

        self.graphs: OrderedDict[tuple, tuple] = OrderedDict()  # least recently used first
        self.backend = "torch CUDA fp16 (CUDA graphs)" if self.cuda else f"torch CPU fp32, {torch.get_num_threads()} threads"

    def _capture(self, shape: tuple) -> tuple:
        """(graph, static input, static output) for one input shape; the graph owns a private memory pool."""
        torch = self.torch
        static_in = torch.zeros(shape, device=self.device, dtype=torch.half)
        stream = torch.cuda.Stream()
        stream.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(stream), torch.no_grad():
            for _ in range(2):
                self.net(static_in)
        torch.cuda.current_stream().wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph), torch.no_grad():
            static_out = self.net(static_in)
        return graph, static_in, static_out

    def _graph(self, shape: tuple):
        """The graph for this shape; at most MAX_GRAPHS kept (each pins its pool: a 1080p one is ~1 GB)."""
        if shape in self.graphs:
            self.graphs.move_to_end(shape)
            return self.graphs[shape]
        while len(self.graphs) >= self.MAX_GRAPHS:
            self.graphs.popitem(last=False)  # dropping the graph and its tensors releases its pool
            if self.cuda:
                self.torch.cuda.empty_cache()
        self.graphs[shape] = self._capture(shape)
        return self.graphs[shape]

    def run_nchw(self, x: np.ndarray) -> np.ndarray:
        torch = self.torch
        with torch.no_grad():
            t = torch.from_numpy(x)
            if not self.cuda:
                return self.net(t).numpy()
            graph, static_in, static_out = self._graph(tuple(x.shape))
            static_in.copy_(t.to(self.device, non_blocking=True))
            graph.replay()
            return static_out.float().cpu().numpy()


def __getattr__(name: str):
    """TrtStylizer, cached_engine and engine_cache_dir live in runtime.trt_engine, imported on first use."""
    if name in ("TrtStylizer", "cached_engine", "engine_cache_dir"):
        from runtime import trt_engine

        return getattr(trt_engine, name)
    raise AttributeError(f"module 'runtime.engines' has no attribute '{name}'")


def _ort_has_cuda() -> bool:
    import onnxruntime as ort

    return "CUDAExecutionProvider" in ort.get_available_providers()


def _ort_cuda_missing() -> tuple[str, bool]:
    """(why onnxruntime has no CUDA provider, whether the install is broken): onnxruntime and onnxruntime-gpu
    share one module folder, so installing the CPU wheel after the GPU one silently replaces it."""
    from importlib import metadata

    try:
        metadata.version("onnxruntime-gpu")
    except metadata.PackageNotFoundError:
        return "onnxruntime has no CUDA provider here (README: GPU install); using CPU", False
    return ("onnxruntime-gpu is installed but the CPU onnxruntime overwrote it: pip uninstall -y onnxruntime && "
            "pip install --force-reinstall --no-deps onnxruntime-gpu; using CPU"), True


def resolve(spec: str) -> Path:
    """A built-in style name or a model/engine path -> an existing file."""
    p = Path(spec)
    if p.suffix.lower() in ENGINE_SUFFIXES + ONNX_SUFFIXES + TORCH_SUFFIXES or os.sep in spec:
        if not p.is_file():
            raise InputError(f"model file not found: {p}")
        return p
    return catalog.style_path(spec)


def _sibling_onnx(path: Path) -> Path | None:
    for cand in (path.with_suffix(".onnx"),):
        if cand.is_file():
            return cand
    return None


def _openvino(path: Path, precision: str, threads: int | None, say: Callable[[str], None],
              size_hint: tuple[int, int] | None, device: str = "cpu") -> Stylizer:
    """OpenVINO at the requested precision ('auto': the fastest that passes its fidelity check here)."""
    from runtime.openvino_engine import PROBE_SHAPE, OpenVinoStylizer, import_openvino, measure_precisions, pick_precision

    ov = import_openvino()
    core = ov.Core()
    if device == "gpu":  # Intel integrated/discrete GPUs: OpenVINO's GPU plugin runs f16 by default
        if not any(d.startswith("GPU") for d in core.available_devices):
            raise DependencyError(f"OpenVINO sees no GPU here (devices: {', '.join(core.available_devices)}); "
                                  "an Intel GPU and its compute driver are needed for --device gpu")
        if precision not in ("auto", "f32"):
            say(f"note: --precision {precision} applies to CPUs; the OpenVINO GPU runs its default (f16)")
        return OpenVinoStylizer(path, "f32" if precision == "f32" else "gpu-default", threads, device="GPU", core=core)
    chosen = "f32"
    if precision != "f32":
        shape = PROBE_SHAPE if size_hint is None else (1, 3, *(-(-d // 8) * 8 for d in size_hint))
        record = measure_precisions(path, threads, say, shape, core=core)
        chosen = pick_precision(precision, record, say)
        speeds = ", ".join(f"{p} {ms:.0f} ms" for p, ms in sorted(record["ms"].items(), key=lambda kv: kv[1]))
        say(f"note: OpenVINO at {shape[3]}x{shape[2]}: {speeds}" + (f"; bf16 PSNR {record['psnr_db']['bf16']} dB" if "bf16" in record["psnr_db"] else ""))
    return OpenVinoStylizer(path, chosen, threads, core=core)


def open_stylizer(spec: str, backend: str = "auto", threads: int | None = None, announce: Callable[[str], None] | None = None,
                  precision: str = "auto", size_hint: tuple[int, int] | None = None, device: str = "cpu") -> Stylizer:
    """Open a style by name or path on the requested backend ('auto' = best available, with fallbacks).

    precision applies to OpenVINO (auto | f32 | bf16 | int8); size_hint (height, width) is the frame size the
    caller will feed, used to measure OpenVINO's precisions at the real size (default 640x360).
    """
    if backend not in BACKENDS:
        raise StylecastError(f"unknown backend '{backend}'; choose {', '.join(BACKENDS)}")
    if precision not in PRECISIONS:
        raise StylecastError(f"unknown precision '{precision}'; choose {', '.join(PRECISIONS)}")
    if device not in ("cpu", "gpu"):
        raise StylecastError(f"unknown device '{device}'; choose cpu or gpu")
    if device == "gpu" and backend != "openvino":
        raise StylecastError("--device gpu selects an Intel GPU through OpenVINO: use it with --backend openvino")
    if precision in ("bf16", "int8") and backend not in ("auto", "openvino"):
        raise StylecastError(f"--precision {precision} is an OpenVINO option; use --backend openvino (or auto)")
    say = announce or (lambda m: print(m, file=sys.stderr))
    path = resolve(spec)
    suffix = path.suffix.lower()
    notes: list[str] = []
    below = catalog.gate_note(path.name) if path.resolve().parent == catalog.STYLES_DIR else None
    stylizer: Stylizer | None = None

    if suffix in ENGINE_SUFFIXES:
        if backend not in ("auto", "trt"):
            raise StylecastError(f"{path.name} is a TensorRT engine; use --backend trt or pass the .onnx model")
        from runtime.trt_engine import TrtStylizer

        try:
            stylizer = TrtStylizer(path)
        except DependencyError as exc:
            onnx = _sibling_onnx(path)
            if backend == "trt" or onnx is None:
                raise
            notes.append(f"TensorRT unavailable ({exc}); falling back to {onnx.name}")
            path, suffix = onnx, ".onnx"
    if stylizer is None and suffix in TORCH_SUFFIXES:
        if backend not in ("auto", "torch"):
            raise StylecastError(f"{path.name} is a PyTorch checkpoint; export it with python -m export.onnx to use {backend}")
        stylizer = TorchStylizer(path)
    nvidia = backend in ("auto", "trt", "ort-cuda") and nvidia_gpu_present()  # no word about TensorRT on machines without one
    if stylizer is None and suffix in ONNX_SUFFIXES and (backend == "trt" or (backend == "auto" and nvidia)):
        from runtime.trt_engine import TrtStylizer, cached_engine

        try:
            stylizer = TrtStylizer(cached_engine(path, say))
        except DependencyError as exc:
            if backend == "trt":
                raise
            if not notes:
                reason = str(exc).split(":")[0]
                notes.append(f"{reason}; using the next backend (pip install 'stylecast[gpu]' adds TensorRT on NVIDIA GPUs)")
        except StylecastError as exc:  # a failed build or fidelity gate: auto goes on to the next backend
            if backend == "trt":
                raise
            notes.append(f"TensorRT unusable for {path.name} ({str(exc)[:400]}); falling back to the next backend")
    if stylizer is None and backend == "torch":
        raise StylecastError(f"--backend torch needs a .pth/.safetensors model, got {path.name}")
    has_cuda = backend in ("auto", "ort-cuda") and _ort_has_cuda()
    if stylizer is None and not has_cuda and backend in ("auto", "openvino"):
        try:
            stylizer = _openvino(path, precision, threads, say, size_hint, device)
        except DependencyError as exc:
            if backend == "openvino":
                raise
            notes.append(f"{exc}; using ONNX Runtime CPU (pip install openvino is up to 8x faster on CPUs)")
    if stylizer is None:
        if backend in ("auto", "ort-cuda") and not has_cuda:
            why, broken = _ort_cuda_missing()
            if backend == "ort-cuda":  # a forced backend that is unavailable fails, as --backend trt does
                raise DependencyError(why.removesuffix("; using CPU") + ("" if nvidia else " (and no NVIDIA GPU is visible)"))
            if broken:
                notes.append(why)
        stylizer = OrtStylizer(path, use_cuda=has_cuda, threads=threads, fp16=precision != "f32", say=say)
    for n in ([below] if below else []) + notes:
        say(f"note: {n}")
    say(stylizer.describe())
    return stylizer
