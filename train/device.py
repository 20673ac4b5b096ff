"""Device choice and hardware description shared by the trainers."""
from __future__ import annotations

import platform

import torch

from runtime.errors import DependencyError, StylecastError

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def pick_device(name: str = "auto") -> torch.device:
    if name not in DEVICE_CHOICES:
        raise StylecastError(f"unknown device '{name}'; choose {', '.join(DEVICE_CHOICES)}")
    if name == "cuda" and not torch.cuda.is_available():
        raise DependencyError("--device cuda was asked for but no CUDA GPU is visible to PyTorch (use --device cpu)")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (torch {torch.__version__})"
    return f"CPU {cpu_name()}, {torch.get_num_threads()} threads (torch {torch.__version__})"


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 on CUDA GPUs that have it (fp16 on older ones) and on CPUs with native bf16 (AMX / AVX512-BF16);
    None (fp32) elsewhere: emulated bf16 on an AVX2-only CPU is slower than fp32."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return None
    return torch.bfloat16 if (" amx_bf16" in flags or " avx512_bf16" in flags) else None


def amp_label(dtype: torch.dtype | None) -> str:
    return f"autocast {str(dtype).replace('torch.', '')}" if dtype else "fp32"
