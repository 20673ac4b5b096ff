"""GPU acceptance: every GPU figure of README in one command.

    python benchmarks/gpu.py [--model NET.safetensors] [--out-dir DIR] [--sizes 640x360,...]

Per backend that is present (TensorRT FP16 through runtime.trt_build/trt_engine, ONNX Runtime CUDA with
its fp16 model and IO binding, torch fp16 + CUDA graphs, torch fp32 eager: the pytorch/examples-style
baseline) and per size (640x360, 1280x720, 1920x1080): engine-only ms/frame and FPS (input and output
stay on the GPU), and the same through the runtime's Stylizer (uint8 frames from and to the host). Also
`stylevideo` as a whole process on a 1080p clip (NVENC/NVDEC through PyAV where the build has them, with
the decoder and encoder measured alone: they bound the pipeline there), one training step of the full
net (bf16 autocast, 256 px, batch 4) and GPU memory. Missing backends are skipped with the reason.
Without a GPU it says so in one line and exits 0. Writes JSON and a Markdown table (README-ready) to
benchmarks/results/ or --out-dir. Targets (issue 13): TensorRT FP16 1080p >= 500 FPS engine-only on an
H100-class GPU, torch fp16 + CUDA graphs >= 3x torch fp32 eager, stylevideo 1080p >= 120 FPS.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import RESULTS, ROOT, machine, median_ms, table  # noqa: E402

SIZES = [(360, 640), (720, 1280), (1080, 1920)]
TARGETS = {"trt_1080p_fps": 500.0, "graphs_vs_eager": 3.0, "stylevideo_1080p_fps": 120.0}


def _gpu() -> tuple[str | None, bool, str]:
    """(GPU name or None, whether torch has CUDA, why torch has not): torch first, else the NVIDIA driver/pycuda."""
    why = "PyTorch is not installed"
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0), True, ""
        why = "no CUDA GPU visible to PyTorch"
    except ImportError:
        pass
    from runtime.errors import DependencyError
    from runtime.gpu import gpu_identity, nvidia_gpu_present

    if not nvidia_gpu_present():
        return None, False, why
    try:
        return gpu_identity()[0], False, why
    except DependencyError:
        return "NVIDIA GPU (name unknown without pycuda)", False, why


def _size_label(h: int, w: int) -> str:
    return f"{w}x{h}"


def _parse_sizes(text: str) -> list[tuple[int, int]]:
    """'640x360,1280x720' -> [(360, 640), (720, 1280)] as (H, W)."""
    out = []
    for part in text.split(","):
        w, h = (int(v) for v in part.lower().split("x"))
        out.append((h, w))
    return out


def _frame(h: int, w: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _nchw(h: int, w: int) -> np.ndarray:
    """A padded NCHW float32 input, as the Stylizer feeds the engines."""
    from runtime.frames import pad_to_multiple, to_nchw

    return pad_to_multiple(to_nchw(_frame(h, w)))[0]


def _time_cuda(fn, repeats: int, warmup: int = 5) -> float:
    """Median ms of fn() between CUDA synchronisations."""
    import torch

    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def _model_file(args: argparse.Namespace, tmp: Path) -> Path:
    """--model, or a fresh Johnson net (weights do not change the speed) saved where the runtime can load it."""
    if args.model:
        return Path(args.model)
    from train.model_io import save_style_model
    from train.transformer_net import TransformerNet

    import torch

    torch.manual_seed(0)
    return save_style_model(tmp / "bench.safetensors", TransformerNet(), {"name": "bench"})


def torch_backends(model: Path, repeats: int, sizes: list[tuple[int, int]] = SIZES) -> list[dict]:
    import torch

    from runtime.engines import TorchStylizer
    from train.model_io import load_style_model

    rows = []
    net, _ = load_style_model(model)
    eager = net.float().cuda().eval()
    fast = TorchStylizer(model, "cuda")
    for h, w in sizes:
        x32 = torch.rand(1, 3, h, w, device="cuda") * 255
        with torch.no_grad():
            ms = _time_cuda(lambda: eager(x32), repeats)
        rows.append({"backend": "torch fp32 eager", "size": f"{w}x{h}", "engine_ms": ms, "fps": 1000 / ms})
        graph, static_in, static_out = fast._graph((1, 3, h, w))
        static_in.copy_(x32.half())
        ms = _time_cuda(graph.replay, repeats)
        frame = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
        host_ms = _time_cuda(lambda: fast(frame), max(10, repeats // 4))
        rows.append({"backend": "torch fp16 + CUDA graphs", "size": f"{w}x{h}", "engine_ms": ms, "fps": 1000 / ms,
                     "with_host_copies_ms": host_ms})
    return rows


def export_onnx(model: Path, tmp: Path) -> tuple[Path | None, str | None]:
    """The fp32 ONNX the TensorRT and ONNX Runtime rows start from (--model may be one already)."""
    if model.suffix == ".onnx":
        return model, None
    try:
        from export.onnx import export

        onnx_path = tmp / f"{model.stem}.onnx"
        export(model, onnx_path, check=False, verbose=False)  # parity is the exporter's tests' job
        return onnx_path, None
    except ImportError as exc:
        return None, f"cannot export ONNX here ({exc})"
    except Exception as exc:  # noqa: BLE001  (a DependencyError says what to install)
        return None, f"cannot export ONNX here ({str(exc).splitlines()[0][:200]})"


def tensorrt_rows(onnx_path: Path, repeats: int, sizes: list[tuple[int, int]],
                  notes: list[str]) -> tuple[list[dict], str | None]:
    """TensorRT FP16: engine built and gated by runtime.trt_build (through the runtime's engine cache), run by TrtStylizer.
    engine_ms: execute_async_v3 + stream sync on the engine's device buffers; with_host_copies_ms: uint8 frames."""
    from runtime.errors import StylecastError
    from runtime.gpu import import_tensorrt

    try:
        trt = import_tensorrt()
        from runtime.trt_engine import TrtStylizer, cached_engine
        from runtime.trt_sidecar import read_sidecar

        engine_path = cached_engine(onnx_path, lambda m: notes.append(m.removeprefix("note: ")))  # built and gated once; stylevideo then finds it
        info = read_sidecar(engine_path)
        st = TrtStylizer(engine_path)
    except StylecastError as exc:  # DependencyError included: not installed, no GPU, no onnx for TensorRT 11
        return [], str(exc).splitlines()[0][:300]
    notes.append(f"TensorRT {trt.__version__}: {info['build']}, build {info['build_seconds']} s, "
                 f"PSNR vs ONNX Runtime fp32 {info['fidelity']['psnr_db']} dB")
    rows = []
    try:
        for h, w in sizes:
            x = _nchw(h, w)
            if not st.accepts(x.shape):
                notes.append(f"TensorRT: {_size_label(h, w)} is outside the engine's profile {st.profile}")
                continue
            st.run_nchw(x)  # allocates this shape's buffers (set_input_shape, set_tensor_address)
            with st.ctx.active():
                def engine() -> None:
                    if not st.context.execute_async_v3(st.stream.handle):
                        raise StylecastError("TensorRT execution failed")
                    st.stream.synchronize()

                ms = median_ms(engine, repeats)  # engine() returns once its GPU work is done
            frame = _frame(h, w)
            host_ms = median_ms(lambda: st(frame), max(5, repeats // 4))
            rows.append({"backend": f"TensorRT {trt.__version__} FP16", "size": _size_label(h, w), "engine_ms": ms,
                         "fps": 1000 / ms, "with_host_copies_ms": host_ms})
    finally:
        st.close()
    return rows, None


def ort_cuda_rows(onnx_path: Path, repeats: int, sizes: list[tuple[int, int]],
                  notes: list[str]) -> tuple[list[dict], str | None]:
    """ONNX Runtime CUDA through OrtStylizer: its fp16 model when that passes the gate, IO binding.
    engine_ms: run_device (input and output OrtValues on the GPU); with_host_copies_ms: uint8 frames."""
    try:
        import onnxruntime as ort
    except ImportError:
        return [], "onnxruntime is not installed"
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return [], f"onnxruntime {ort.__version__} has no CUDAExecutionProvider (README: GPU install, onnxruntime-gpu)"
    from runtime.engines import OrtStylizer

    st = OrtStylizer(onnx_path, use_cuda=True, say=lambda m: notes.append(m.removeprefix("note: ")))
    if not st.cuda:
        return [], "the CUDA execution provider did not load (CUDA/cuDNN libraries?); ONNX Runtime fell back to CPU"
    if st.fidelity_db is not None:
        notes.append(f"ONNX Runtime CUDA fp16 model: PSNR vs fp32 {st.fidelity_db} dB")
    rows = []
    for h, w in sizes:
        on_gpu = st.to_device(_nchw(h, w))
        ms = median_ms(lambda: st.run_device(on_gpu), repeats)
        frame = _frame(h, w)
        host_ms = median_ms(lambda: st(frame), max(5, repeats // 4))
        rows.append({"backend": f"ONNX Runtime CUDA {st.precision} + IO binding", "size": _size_label(h, w),
                     "engine_ms": ms, "fps": 1000 / ms, "with_host_copies_ms": host_ms})
    return rows, None


def training_step(repeats: int) -> dict:
    """One optimizer step of the full Johnson net with VGG16 perceptual loss, bf16 autocast, 256 px, batch 4."""
    import torch

    from train import losses
    from train.transformer_net import TransformerNet
    from train.vgg import VGGFeatures, VGGWeights, conv_keys, layer_table

    layers = ["relu1_2", "relu2_2", "relu3_3", "relu4_3"]
    # random VGG16 weights: the speed of a step does not depend on their values, and no download is needed
    state = {}
    in_ch = 3
    for i, (name, kind) in enumerate(layer_table("vgg16")):
        if kind == "conv":
            out_ch = 64 * 2 ** min(3, int(name[4]) - 1)
            state[f"features.{i}.weight"] = torch.randn(out_ch, in_ch, 3, 3) * 0.05
            state[f"features.{i}.bias"] = torch.zeros(out_ch)
            in_ch = out_ch
    assert set(state) == set(conv_keys("vgg16"))
    vgg = VGGFeatures(VGGWeights("vgg16", state, "torchvision", "random"), layers).cuda().to(memory_format=torch.channels_last)
    net = TransformerNet().cuda().to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    x = (torch.rand(4, 3, 256, 256, device="cuda") * 255).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        grams = {l: losses.gram_per_position(f.float()).mean(0) for l, f in vgg(x[:1]).items()}

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            y = net(x)
            fy = vgg(y)
            with torch.no_grad():
                fx = vgg(x)
        terms = losses.perceptual_loss({k: v.float() for k, v in fy.items()}, y.float(), {"relu2_2": fx["relu2_2"].float()},
                                       grams, {}, losses.LossWeights(1e5, 1e10), losses.Normalisation.MEAN)
        terms.total.backward()
        opt.step()

    ms = _time_cuda(step, repeats)
    return {"what": "training step, full net, bf16 autocast, 256 px, batch 4", "ms": ms, "images_per_s": 4000 / ms}


def _pyav():
    try:
        import av
    except ImportError:
        return None
    return av


def make_clip(av, path: Path, h: int, w: int, frames: int, fps: int = 30) -> Path:
    """A synthetic H.264 clip (moving gradients: cheap to make, not trivially compressible)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264" if "libx264" in av.codecs_available else "mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(frames):
            rgb = np.stack([(x + 4 * i) % 256, (y + 2 * i) % 256, ((x + y) / 2 + 3 * i) % 256], -1).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def decode_fps(av, clip: Path, codec: str | None = None) -> float:
    """Frames/s decoding the clip alone: the stream's own (software) decoder, or `codec` (e.g. h264_cuvid, NVDEC)."""
    with av.open(str(clip)) as c:
        s = c.streams.video[0]
        ctx = s.codec_context
        if codec:
            ctx = av.CodecContext.create(codec, "r")
            ctx.extradata = s.codec_context.extradata
        n, t0 = 0, time.perf_counter()
        for packet in c.demux(s):
            n += len(ctx.decode(packet))
        return n / (time.perf_counter() - t0)


def encode_fps(av, codec: str, h: int, w: int, frames: int) -> float:
    """Frames/s encoding 1080p frames alone with `codec` (libx264 as stylevideo's default, or h264_nvenc)."""
    import io

    pictures = [av.VideoFrame.from_ndarray(_frame(h, w) // (i + 1), format="rgb24").reformat(format="yuv420p") for i in range(8)]
    with av.open(io.BytesIO(), "w", format="mp4") as out:
        stream = out.add_stream(codec, rate=30)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        t0 = time.perf_counter()
        for i in range(frames):
            picture = pictures[i % len(pictures)]
            picture.pts = i
            for packet in stream.encode(picture):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        return frames / (time.perf_counter() - t0)


def _stylevideo(clip: Path, out: Path, model: Path, codec: str, max_frames: int | None = None) -> tuple[float, dict]:
    """(wall seconds, --json record) of one `stylevideo` process."""
    cmd = [sys.executable, "-m", "runtime.video", str(clip), str(out), "--model", str(model), "--codec", codec, "--quiet", "--json"]
    cmd += ["--max-frames", str(max_frames)] if max_frames else []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError((proc.stderr.strip().splitlines() or ["exit %d" % proc.returncode])[-1][:300])
    return wall, json.loads(proc.stdout.strip().splitlines()[-1])


def video_figures(model: Path, h: int, w: int, frames: int, tmp: Path, notes: list[str]) -> tuple[dict | None, list[dict], str | None]:
    """stylevideo as a whole process at h x w, and the decoder and encoder alone (software and NVDEC/NVENC)."""
    av = _pyav()
    if av is None:
        return None, [], "PyAV is not installed on this machine (pip install av): no decode/encode or stylevideo figures"
    clip = make_clip(av, tmp / f"clip_{h}p.mp4", h, w, frames)
    codecs: list[dict] = []
    for what, name, run in (("decode", "h264 (software)", lambda: decode_fps(av, clip)),
                            ("decode", "h264_cuvid (NVDEC)", lambda: decode_fps(av, clip, "h264_cuvid")),
                            ("encode", "libx264 (software)", lambda: encode_fps(av, "libx264", h, w, frames)),
                            ("encode", "h264_nvenc (NVENC)", lambda: encode_fps(av, "h264_nvenc", h, w, frames))):
        codec = name.split()[0]
        if codec not in av.codecs_available:
            notes.append(f"this PyAV build has no {name}")
            continue
        try:
            codecs.append({"stage": what, "codec": name, "size": _size_label(h, w), "fps": run()})
        except Exception as exc:  # noqa: BLE001  (e.g. NVENC compiled in but no usable NVIDIA driver)
            notes.append(f"{name} is in this PyAV build but failed: {str(exc).splitlines()[0][:160]}")
    encoders = [c["codec"] for c in codecs if c["stage"] == "encode"]
    encoder = "h264_nvenc" if "h264_nvenc (NVENC)" in encoders else "libx264"
    notes.append(f"stylevideo encodes with {encoder}; it decodes with PyAV's default (software) decoder: "
                 "NVDEC is measured alone above, runtime/video.py has no decoder option")
    try:
        one, _ = _stylevideo(clip, tmp / "one.mp4", model, encoder, max_frames=1)
        wall, record = _stylevideo(clip, tmp / "styled.mp4", model, encoder)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return None, codecs, f"stylevideo failed: {exc}"
    row = {"what": f"stylevideo {_size_label(h, w)}, {frames} frames", "backend": record.get("backend", "?"), "encoder": encoder,
           "wall_s": wall, "fps_whole_process": frames / wall}
    if wall - one > 0.2:  # start-up (imports, model load, first frame) subtracted: the steady rate
        row["fps_after_start"] = (frames - 1) / (wall - one)
    return row, codecs, None


def _device_used_mib() -> float | None:
    try:
        import torch

        if torch.cuda.is_available():
            free, total = torch.cuda.mem_get_info()
            return (total - free) / 2**20
    except ImportError:
        pass
    return None


def _targets(rows: list[dict], video: dict | None) -> list[str]:
    """Issue 13's targets against what was measured (benchmarks, not tests)."""
    out = []
    trt = [r for r in rows if r["backend"].startswith("TensorRT") and r["size"] == "1920x1080"]
    if trt:
        fps = trt[0]["fps"]
        out.append(f"TensorRT FP16 1080p engine-only {fps:.0f} FPS (target >= {TARGETS['trt_1080p_fps']:.0f} on an H100-class GPU): "
                   + ("met" if fps >= TARGETS["trt_1080p_fps"] else "not met"))
    speedups = [r["speedup_vs_fp32_eager"] for r in rows if "speedup_vs_fp32_eager" in r]
    if speedups:
        out.append(f"torch fp16 + CUDA graphs vs fp32 eager {min(speedups):.2f}x..{max(speedups):.2f}x (target >= "
                   f"{TARGETS['graphs_vs_eager']:.0f}x): " + ("met" if min(speedups) >= TARGETS["graphs_vs_eager"] else "not met"))
    if video and video["what"].startswith("stylevideo 1920x1080"):
        fps = video["fps_whole_process"]
        out.append(f"stylevideo 1080p whole process {fps:.0f} FPS (target >= {TARGETS['stylevideo_1080p_fps']:.0f}): "
                   + ("met" if fps >= TARGETS["stylevideo_1080p_fps"] else "not met"))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python benchmarks/gpu.py", description=__doc__.splitlines()[0])
    p.add_argument("--model", help="style net (.safetensors/.pth, or .onnx: no torch rows); default: a fresh Johnson net (same speed)")
    p.add_argument("--repeats", type=int, default=50)
    p.add_argument("--sizes", type=_parse_sizes, default=SIZES, help="WxH,... (default 640x360,1280x720,1920x1080)")
    p.add_argument("--video-size", type=lambda t: _parse_sizes(t)[0], default=(1080, 1920), help="WxH of the stylevideo clip (default 1920x1080)")
    p.add_argument("--video-frames", type=int, default=300, help="frames in the stylevideo clip (default 300)")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    gpu, torch_cuda, why = _gpu()
    if gpu is None:
        print(f"benchmarks/gpu.py: no GPU here ({why}; no NVIDIA driver or pycuda GPU); nothing to measure")
        return 0
    skipped: dict[str, str] = {}
    notes: list[str] = []
    rows: list[dict] = []
    train = None
    inference_peak = None
    video = None
    codecs: list[dict] = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        os.environ.setdefault("STYLECAST_CACHE", str(tmp / "cache"))  # engines and fp16 models: built once here, reused by stylevideo
        model = _model_file(args, tmp)
        onnx_path, reason = export_onnx(model, tmp)
        if onnx_path is None:
            skipped["TensorRT FP16"] = skipped["ONNX Runtime CUDA"] = reason
        else:
            for label, measure in (("TensorRT FP16", lambda: tensorrt_rows(onnx_path, args.repeats, args.sizes, notes)),
                                   ("ONNX Runtime CUDA", lambda: ort_cuda_rows(onnx_path, args.repeats, args.sizes, notes))):
                got, reason = measure()
                used = _device_used_mib()  # device-wide, after the largest size (torch sees no TensorRT/ORT allocations)
                for r in got:
                    if used is not None:
                        r["gpu_used_mib"] = used
                rows += got
                if reason:
                    skipped[label] = reason
        if not torch_cuda:
            skipped["torch fp16 + CUDA graphs, torch fp32 eager, training step"] = why
        elif model.suffix == ".onnx":
            skipped["torch fp16 + CUDA graphs, torch fp32 eager"] = "--model is an ONNX file; give the .safetensors/.pth for torch rows"
        else:
            import torch

            torch.backends.cudnn.benchmark = True
            torch.cuda.reset_peak_memory_stats()
            rows += torch_backends(model, args.repeats, args.sizes)
            inference_peak = torch.cuda.max_memory_allocated() / 2**20
        if torch_cuda:
            import torch

            torch.cuda.reset_peak_memory_stats()
            train = training_step(max(10, args.repeats // 2))
            train["peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
        fast_onnx = any(r["backend"].startswith(("TensorRT", "ONNX Runtime CUDA")) for r in rows)
        video_model = onnx_path if (fast_onnx or not torch_cuda or model.suffix == ".onnx") else model
        vh, vw = args.video_size
        video, codecs, reason = video_figures(video_model or model, vh, vw, args.video_frames, tmp, notes)
        if reason:
            skipped[f"stylevideo {_size_label(vh, vw)}"] = reason
    eager = {r["size"]: r["engine_ms"] for r in rows if r["backend"] == "torch fp32 eager"}
    for r in rows:
        if r["backend"] != "torch fp32 eager" and r["size"] in eager:
            r["speedup_vs_fp32_eager"] = eager[r["size"]] / r["engine_ms"]
    targets = _targets(rows, video)
    versions = {"torch": _version("torch"), "onnxruntime": _version("onnxruntime"), "tensorrt": _version("tensorrt"), "av": _version("av")}
    payload = {"machine": machine(), "gpu": gpu, "versions": versions, "torch": versions["torch"], "rows": rows, "training": train,
               "inference_peak_mib": inference_peak, "stylevideo": video, "codecs": codecs, "targets": targets,
               "notes": notes, "skipped": skipped}
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "gpu.json").write_text(json.dumps(payload, indent=2) + "\n")
    have = ", ".join(f"{k} {v}" for k, v in versions.items() if v)
    md = [f"GPU: {gpu}; {have}; {payload['machine']['date']}", "",
          table(rows, ["backend", "size", "engine_ms", "fps", "with_host_copies_ms", "speedup_vs_fp32_eager", "gpu_used_mib"]), ""]
    if video:
        md += [table([video], ["what", "backend", "encoder", "wall_s", "fps_whole_process", "fps_after_start"]), ""]
    if codecs:
        md += [table(codecs, ["stage", "codec", "size", "fps"]), ""]
    if train:
        md += [f"Training step (full net, bf16, 256 px, batch 4): {train['ms']:.1f} ms ({train['images_per_s']:.0f} images/s), "
               f"peak {train['peak_mib']:.0f} MiB" + (f"; torch inference peak {inference_peak:.0f} MiB." if inference_peak else "."), ""]
    md += [f"- target: {t}" for t in targets]
    md += [f"- note: {n}" for n in notes]
    md += [f"- skipped {k}: {v}" for k, v in skipped.items()]
    (args.out_dir / "gpu.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0


def _version(name: str) -> str | None:
    from importlib import metadata

    for dist in ((name, "onnxruntime-gpu") if name == "onnxruntime" else (name,)):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return None


if __name__ == "__main__":
    sys.exit(main())
