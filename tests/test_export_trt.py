"""TensorRT: pure logic everywhere; real builds only where TensorRT and an NVIDIA GPU exist."""
import importlib.util
import json

import pytest

from export import trt as trt_export
from runtime import trt_build
from runtime.errors import DependencyError, StylecastError
from runtime.trt_sidecar import EngineMismatch, check_compatible, read_sidecar, write_sidecar
from tests.conftest import assert_user_error, run_cli


def _has_real_tensorrt() -> bool:
    if importlib.util.find_spec("tensorrt") is None or importlib.util.find_spec("pycuda") is None:
        return False
    try:
        from runtime.gpu import CudaContext, import_tensorrt

        import_tensorrt()
        CudaContext()
        return True
    except Exception:
        return False


needs_trt = pytest.mark.skipif(not _has_real_tensorrt(), reason="needs TensorRT (full builder) + pycuda + an NVIDIA GPU")


def test_build_plan_per_version():
    assert trt_export.build_plan is trt_build.build_plan  # the CLI uses the runtime's builder
    assert trt_build.build_plan(10, "fp32") == {"convert_to_fp16": False, "fp16_flag": True, "strongly_typed": False}
    assert trt_export.build_plan(10, "fp16") == {"convert_to_fp16": False, "fp16_flag": False, "strongly_typed": True}
    assert trt_export.build_plan(11, "fp32") == {"convert_to_fp16": True, "fp16_flag": False, "strongly_typed": True}
    assert trt_export.build_plan(11, "fp16")["convert_to_fp16"] is False
    with pytest.raises(StylecastError, match="TensorRT 8"):
        trt_export.build_plan(8, "fp32")


def test_shapes_and_profile_checks():
    assert trt_export.parse_shape("720x1280") == (1, 3, 720, 1280)
    assert trt_export.parse_shape("2x3x64x64") == (2, 3, 64, 64)
    for bad in ("720", "1x4x8x8", "axb"):
        with pytest.raises(StylecastError):
            trt_export.parse_shape(bad)
    with pytest.raises(StylecastError, match="min <= opt <= max"):
        trt_export.check_profile((1, 3, 256, 256), (1, 3, 128, 128), (1, 3, 512, 512))


INFO = {"tensorrt_version": "10.8.0", "gpu": "NVIDIA H100 80GB HBM3", "compute_capability": "9.0", "version_compatible": False}


def test_sidecar_mismatches_name_both_sides(tmp_path):
    assert check_compatible(INFO, "10.8.0", "NVIDIA H100 80GB HBM3", "9.0") == []
    with pytest.raises(EngineMismatch) as err:
        check_compatible(INFO, "10.8.0", "NVIDIA GeForce RTX 4090", "8.9")
    assert "H100" in str(err.value) and "4090" in str(err.value) and "9.0" in str(err.value) and "8.9" in str(err.value)
    with pytest.raises(EngineMismatch) as err:
        check_compatible(INFO, "10.9.1", "NVIDIA H100 80GB HBM3", "9.0")
    assert "10.8.0" in str(err.value) and "10.9.1" in str(err.value)
    compat = {**INFO, "version_compatible": True}
    assert check_compatible(compat, "10.9.1", "NVIDIA H100 80GB HBM3", "9.0") == []
    assert check_compatible(compat, "11.1.0", "NVIDIA H100 80GB HBM3", "9.0") == []  # documented: 10 VC engines load in 11
    with pytest.raises(EngineMismatch, match="10.7.0"):
        check_compatible(compat, "10.7.0", "NVIDIA H100 80GB HBM3", "9.0")  # never on an older TensorRT
    with pytest.raises(EngineMismatch, match="11.1.0"):
        check_compatible(INFO, "11.1.0", "NVIDIA H100 80GB HBM3", "9.0")
    with pytest.raises(EngineMismatch, match="12.0.0"):
        check_compatible({**compat, "tensorrt_version": "11.1.0"}, "12.0.0", "NVIDIA H100 80GB HBM3", "9.0")
    warn = check_compatible(INFO, "10.8.0", "NVIDIA H100 PCIe", "9.0")
    assert warn and "PCIe" in warn[0]


def test_sidecar_round_trip_and_missing(tmp_path):
    engine = tmp_path / "s.trt"
    write_sidecar(engine, INFO)
    assert read_sidecar(engine) == INFO
    with pytest.raises(StylecastError, match="missing"):
        read_sidecar(tmp_path / "other.trt")


@pytest.mark.skipif(_has_real_tensorrt(), reason="TensorRT is installed here")
def test_without_tensorrt_the_cli_says_what_to_install(small_onnx, tmp_path):
    proc = run_cli("export.trt", str(small_onnx), str(tmp_path / "x.trt"))
    assert_user_error(proc, "stylecast[gpu]", "ONNX Runtime")
    assert not (tmp_path / "x.trt").exists()


@needs_trt
def test_real_build_passes_the_fidelity_gate(small_onnx, tmp_path):
    engine = tmp_path / "tiny.trt"
    info = trt_export.build_checked(small_onnx, engine, lo=(1, 3, 64, 64), opt=(1, 3, 256, 256), hi=(2, 3, 720, 720),
                                    workspace_gb=1.0, timing_cache=tmp_path / "cache.bin")
    assert info["fidelity"]["psnr_db"] >= trt_export.FIDELITY_DB
    assert json.loads((tmp_path / "tiny.trt.json").read_text())["compute_capability"] == info["compute_capability"]
    assert trt_build.timing_cache_file(tmp_path / "cache.bin", info["tensorrt_version"]).stat().st_size > 0
