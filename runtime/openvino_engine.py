"""OpenVINO on CPUs: the fast CPU backend (f32, bf16 where the CPU has it, int8 models quantized at export time).

Why OpenVINO: on a 2-core Xeon with AMX it runs the full Johnson net 8x faster than ONNX Runtime in bf16
(README Speed). Models are reshaped to each input shape once and compiled with OpenVINO's CACHE_DIR under
the user cache folder, so a second run skips compilation. `--precision auto` measures the precisions that
this CPU supports, keeps only those that pass their fidelity check, takes the fastest, and remembers the
decision per machine, model and size (a JSON beside the compiled-model cache).
"""
from __future__ import annotations

import json
import os
import time
from collections import OrderedDict
from pathlib import Path
from typing import Callable

import numpy as np

from runtime.errors import DependencyError, InputError, StylecastError
from runtime.files import atomic_path, cache_root, sha256_file
from runtime.frames import psnr
from runtime.onnx_meta import CARD_KEY, INPUT_NAME
from runtime.stylizer import Stylizer

PRECISIONS = ("auto", "f32", "bf16", "int8")
INT8_SUFFIX = ".int8.xml"  # NNCF-quantized OpenVINO IR shipped beside NAME.onnx (with its .bin)
BF16_MIN_PSNR_DB = 40.0  # issue 12: bf16 must stay within 40 dB of f32 on a few frames
INT8_MIN_PSNR_DB = 15.0  # int8 changes texture (21-35 dB against f32 on the built-ins; its real check is the export-time quality gate): this only catches a broken kernel
PROBE_SHAPE = (1, 3, 360, 640)  # the size `auto` measures at when the caller has no better hint
INT8_RT_KEY = "stylecast_int8"  # rt_info of the int8 IR: calibration set and measured fidelity (JSON)
MAX_COMPILED = 3  # compiled shapes kept in memory (a video has one; a folder of photos may have many)


def import_openvino():
    try:
        import openvino as ov
    except ImportError:
        raise DependencyError("--backend openvino needs OpenVINO: pip install openvino") from None
    return ov


def cache_dir() -> Path:
    return cache_root() / "openvino"


def int8_path(onnx_path: Path) -> Path:
    """Where NAME.onnx's int8 model lives: NAME.int8.xml beside it (its weights in NAME.int8.bin)."""
    return onnx_path.with_name(onnx_path.stem + INT8_SUFFIX)


def int8_sibling(onnx_path: Path) -> Path | None:
    """NAME.int8.xml beside NAME.onnx (and its .bin), or None."""
    xml = int8_path(onnx_path)
    return xml if xml.is_file() and xml.with_suffix(".bin").is_file() else None


def bf16_supported(core, device: str = "CPU") -> bool:
    """Read from OpenVINO's device capabilities (AMX or AVX512-BF16 on CPUs), not guessed from the CPU name."""
    return "BF16" in core.get_property(device, "OPTIMIZATION_CAPABILITIES")


class OpenVinoStylizer(Stylizer):
    """One model at one precision; compiled lazily per input shape (cached on disk by OpenVINO)."""

    def __init__(self, path: Path, precision: str = "f32", threads: int | None = None, device: str = "CPU", core=None):
        ov = import_openvino()
        if precision not in ("f32", "bf16", "int8", "gpu-default"):
            raise StylecastError(f"OpenVINO precision must be f32, bf16 or int8, got {precision}")
        self.ov, self.path, self.precision, self.device = ov, path, precision, device
        self.core = core or ov.Core()
        cache = cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        self.core.set_property({"CACHE_DIR": str(cache)})
        self.threads = threads or max(1, os.cpu_count() or 1)
        source = path
        if precision == "int8":
            source = int8_sibling(path) if path.suffix.lower() == ".onnx" else path
            if source is None:
                raise InputError(f"no int8 model beside {path.name} ({path.stem}{INT8_SUFFIX}): quantize it with python -m export.int8")
        try:
            self.model = self.core.read_model(str(source))
        except Exception as exc:  # corrupt or foreign file
            raise InputError(f"cannot load {source} with OpenVINO: {str(exc).splitlines()[0][:200]}") from None
        names = [n for p in self.model.inputs for n in p.get_names()]
        if INPUT_NAME not in names or len(self.model.inputs) != 1 or self.model.inputs[0].get_partial_shape().rank.get_length() != 4:
            raise InputError(f"{source.name}: expected one 4-D input '{INPUT_NAME}' (export with python -m export.onnx), got {names}")
        self.config: dict = {"PERFORMANCE_HINT": "LATENCY"}
        if device == "CPU":
            self.config.update({"INFERENCE_NUM_THREADS": self.threads, "NUM_STREAMS": 1,
                                "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32"})
        elif precision == "f32":
            self.config["INFERENCE_PRECISION_HINT"] = "f32"
        self.compiled: OrderedDict[tuple, object] = OrderedDict()
        self.compile_seconds: dict[tuple, float] = {}
        self.card = _card_from_rt_info(self.model)
        self.name = self.card.get("name", path.stem)
        self.backend = (f"openvino {device} {precision}, {self.threads} threads" if device == "CPU"
                        else f"openvino {device} {'f16 (default)' if precision == 'gpu-default' else precision}")

    def _request(self, shape: tuple):
        """The infer request for this shape: reshape once, compile (from OpenVINO's disk cache when warm)."""
        if shape in self.compiled:
            self.compiled.move_to_end(shape)
            return self.compiled[shape]
        t0 = time.perf_counter()
        model = self.model.clone()
        model.reshape({INPUT_NAME: list(shape)})
        try:
            compiled = self.core.compile_model(model, self.device, self.config)
        except RuntimeError as exc:
            raise StylecastError(f"OpenVINO could not compile {self.path.name} for {shape[3]}x{shape[2]}: {str(exc).splitlines()[0][:200]}") from None
        request = compiled.create_infer_request()
        self.compile_seconds[shape] = time.perf_counter() - t0
        self.compiled[shape] = request
        while len(self.compiled) > MAX_COMPILED:
            self.compiled.popitem(last=False)
        return request

    def run_nchw(self, x: np.ndarray) -> np.ndarray:
        request = self._request(tuple(x.shape))
        request.infer({0: x})  # releases the GIL: decode and encode threads keep running
        return np.array(request.get_output_tensor(0).data, copy=True)


def _card_from_rt_info(model) -> dict:
    """The model card stored by export.onnx (ONNX metadata) as OpenVINO exposes it, or {}."""
    try:
        raw = model.get_rt_info(["framework", CARD_KEY]).astype(str)
    except Exception:  # noqa: BLE001 - metadata is optional (int8 IR, foreign models)
        try:
            raw = model.get_rt_info([CARD_KEY]).astype(str)
        except Exception:  # noqa: BLE001
            return {}
    try:
        return json.loads(raw)
    except (json.JSONDecodeError, TypeError):
        return {}


def _probe_frames(shape: tuple) -> np.ndarray:
    """A natural photo at `shape` (the package's sample), else smooth noise: what the fidelity checks run on."""
    from runtime.frames import read_image, resize_to, to_nchw
    from runtime.samples import sample_images

    samples = [p for p in sample_images() if p.is_file()]
    if samples:
        return to_nchw(resize_to(read_image(samples[-1]), shape[2], shape[3]))
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (shape[2] // 8 + 1, shape[3] // 8 + 1, 3), dtype=np.uint8)
    return to_nchw(resize_to(small, shape[2], shape[3]))


def _time_ms(run: Callable[[], object], repeats: int = 3) -> float:
    run()  # first call compiles or loads from cache
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return 1000 * float(np.median(times))


def decision_path() -> Path:
    return cache_dir() / "precision_decisions.json"


def int8_fidelity(core, onnx_path: Path, xml: Path | None = None) -> dict | None:
    """The export-time quality check stored inside the int8 IR by export.int8 (rt_info 'stylecast_int8'), or None
    when there is no int8 model (xml: the caller's int8_sibling(onnx_path), when it already looked)."""
    xml = xml or int8_sibling(onnx_path)
    if xml is None:
        return None
    try:
        return json.loads(core.read_model(str(xml)).get_rt_info([INT8_RT_KEY]).astype(str))
    except Exception:  # noqa: BLE001 - an IR without our record: treated as unchecked
        return {}


def measure_precisions(path: Path, threads: int | None, say: Callable[[str], None], shape: tuple = PROBE_SHAPE,
                       core=None, factory=None) -> dict:
    """Speed and fidelity of every precision this CPU and model offer, measured once per machine/model/size.

    bf16 must keep PSNR >= 40 dB against f32 on a sample photo. int8 must carry a passing export-time quality
    check (style and content distance within 3% of f32, measured by export.int8 with VGG) made from this very
    ONNX file (its sha256 is in the check's record: a stale or copied-in IR is refused), and keep a sanity
    PSNR here. The record is cached per CPU, OpenVINO version, model (and its int8 files), size and thread count.
    """
    ov = import_openvino()
    core = core or ov.Core()
    factory = factory or (lambda prec: OpenVinoStylizer(path, prec, threads, core=core))
    model_sha = sha256_file(path)
    int8_files = int8_sibling(path) if path.suffix.lower() == ".onnx" else None
    key = "|".join([core.get_property("CPU", "FULL_DEVICE_NAME"), ov.get_version(), model_sha[:16],
                    # the int8 pair too: a rebuilt or copied-in int8 model is measured afresh
                    *([sha256_file(int8_files)[:16], sha256_file(int8_files.with_suffix(".bin"))[:16]] if int8_files else []),
                    f"{shape[3]}x{shape[2]}", str(threads or os.cpu_count())])
    store = _load_decisions()
    if key in store:
        return store[key]
    record: dict = {"ms": {}, "psnr_db": {}, "rejected": {}}
    candidates = ["f32"]
    if bf16_supported(core):
        candidates.append("bf16")
    else:
        record["rejected"]["bf16"] = "this CPU has no bf16 support (needs AMX or AVX512-BF16)"
    fidelity = int8_fidelity(core, path, int8_files) if int8_files else None
    if fidelity is None:
        record["rejected"]["int8"] = f"no int8 model beside {path.name} (python -m export.int8)"
    elif not fidelity.get("passes"):
        record["rejected"]["int8"] = "its export-time quality check " + ("failed" if fidelity else "is missing")
    elif fidelity.get("onnx_sha256") != model_sha:
        why = (f"was quantized from another {path.name}" if fidelity.get("onnx_sha256")
               else "does not name the ONNX it was quantized from (made by an older export.int8)")
        record["rejected"]["int8"] = f"{int8_path(path).name} {why}; rebuild it: python -m export.int8 {path}"
    else:
        candidates.append("int8")
    say(f"measuring OpenVINO {', '.join(candidates)} for {path.stem} at {shape[3]}x{shape[2]} (once; cached)")
    x = _probe_frames(shape)
    reference = factory("f32")
    ref_out = np.clip(reference.run_nchw(x), 0, 255)
    record["ms"]["f32"] = round(_time_ms(lambda: reference.run_nchw(x)), 2)
    for prec in candidates[1:]:
        try:
            net = factory(prec)
            out = net.run_nchw(x)
        except StylecastError as exc:
            record["rejected"][prec] = str(exc)
            continue
        score = min(psnr(np.clip(out, 0, 255), ref_out), 99.0) if np.isfinite(out).all() else 0.0
        record["psnr_db"][prec] = round(float(score), 1)
        limit = BF16_MIN_PSNR_DB if prec == "bf16" else INT8_MIN_PSNR_DB
        if score < limit:
            record["rejected"][prec] = f"PSNR {score:.1f} dB against f32 < {limit:.0f} dB"
            continue
        record["ms"][prec] = round(_time_ms(lambda: net.run_nchw(x)), 2)
    store[key] = record
    _save_decisions(store)
    return record


def pick_precision(requested: str, record: dict, say: Callable[[str], None]) -> str:
    """auto: the fastest precision that passed; an explicit one if it passed, else f32 with the reason."""
    if requested == "auto":
        return min(record["ms"], key=record["ms"].get)
    if requested in record["ms"]:
        return requested
    say(f"note: OpenVINO {requested} is not usable here ({record['rejected'].get(requested, 'not measured')}); using f32")
    return "f32"


def _load_decisions() -> dict:
    try:
        return json.loads(decision_path().read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _save_decisions(store: dict) -> None:
    try:
        decision_path().parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(decision_path()) as tmp:
            tmp.write_text(json.dumps(store, indent=1))
    except OSError:  # a read-only cache only costs the measurement next time
        pass
