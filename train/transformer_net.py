"""The residual transform net of Johnson et al., exactly as pytorch/examples fast_neural_style defines it.

Key names match pytorch/examples checkpoints (conv1.conv2d.weight, in1.weight, res1.conv1.conv2d.weight,
deconv1.conv2d.weight, ...). Input and output are RGB float NCHW in [0, 255]; H and W must be
multiples of 4 (8 for the lite net) for the output to match the input size (the runtime pads to 8).
No control flow depends on shapes, so the modules export to ONNX with dynamic height and width as they are.

`LiteTransformerNet` is our CPU variant (distilled from a full net by train.distill): the same layer
names, but nothing runs at full resolution (bar an optional refinement stage): a stride-2 5x5 stem,
residual blocks at 1/8 resolution, and a sub-pixel (depth-to-space) head. About 1/16 of the Johnson net's multiply-adds.
"""
from __future__ import annotations

import re
from typing import Mapping

import torch
from torch import nn
import torch.nn.functional as F

DEFAULT_CHANNELS = (32, 64, 128)
DEFAULT_RESIDUAL_BLOCKS = 5


class ConvLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int):
        super().__init__()
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2d(self.reflection_pad(x))


class UpsampleConvLayer(nn.Module):
    """Nearest-neighbour x2 upsampling then a conv: avoids the checkerboard of transposed convs."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int, upsample: int = 2):
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(kernel_size // 2)
        self.conv2d = nn.Conv2d(in_channels, out_channels, kernel_size, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=float(self.upsample), mode="nearest")
        return self.conv2d(self.reflection_pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = ConvLayer(channels, channels, 3, 1)
        self.in1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = ConvLayer(channels, channels, 3, 1)
        self.in2 = nn.InstanceNorm2d(channels, affine=True)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.in1(self.conv1(x)))
        return self.in2(self.conv2(out)) + x


class TransformerNet(nn.Module):
    def __init__(self, channels: tuple[int, int, int] = DEFAULT_CHANNELS, residual_blocks: int = DEFAULT_RESIDUAL_BLOCKS,
                 stem: tuple[int, int] = (9, 1), head: tuple[int, int] = (3, 9)):
        """stem = (kernel, stride) of conv1, head = (out channels, kernel) of deconv3; the defaults are Johnson's."""
        super().__init__()
        c1, c2, c3 = channels
        self.channels = tuple(channels)
        self.residual_blocks = residual_blocks
        self.conv1 = ConvLayer(3, c1, stem[0], stem[1])
        self.in1 = nn.InstanceNorm2d(c1, affine=True)
        self.conv2 = ConvLayer(c1, c2, 3, 2)
        self.in2 = nn.InstanceNorm2d(c2, affine=True)
        self.conv3 = ConvLayer(c2, c3, 3, 2)
        self.in3 = nn.InstanceNorm2d(c3, affine=True)
        for i in range(1, residual_blocks + 1):
            setattr(self, f"res{i}", ResidualBlock(c3))
        self.deconv1 = UpsampleConvLayer(c3, c2, 3, 1, upsample=2)
        self.in4 = nn.InstanceNorm2d(c2, affine=True)
        self.deconv2 = UpsampleConvLayer(c2, c1, 3, 1, upsample=2)
        self.in5 = nn.InstanceNorm2d(c1, affine=True)
        self.deconv3 = ConvLayer(c1, head[0], head[1], 1)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.in1(self.conv1(x)))
        y = self.relu(self.in2(self.conv2(y)))
        y = self.relu(self.in3(self.conv3(y)))
        for i in range(1, self.residual_blocks + 1):
            y = getattr(self, f"res{i}")(y)
        y = self.relu(self.in4(self.deconv1(y)))
        y = self.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)

    def arch(self) -> dict:
        return {"channels": list(self.channels), "residual_blocks": self.residual_blocks}


LITE_CHANNELS = (16, 32, 64)
LITE_RESIDUAL_BLOCKS = 5


class LiteTransformerNet(TransformerNet):
    """Johnson-style encoder/residual/decoder, one stride deeper, with a depth-to-space output head.

    refine = (k, r), optional: the head also emits k feature maps at full resolution, and a small
    full-resolution stage (3x3 conv to r channels, norm, ReLU, 3x3 conv to RGB) adds a correction to the
    RGB. It is the only part of the net that is nonlinear at full resolution, which is where the 16/32/64
    net fell short of the Johnson net on VGG's finest style layers (relu1_2, relu2_2). refine2 starts at
    zero, so a net grown from a plain lite net starts with the same output.
    """

    def __init__(self, channels: tuple[int, int, int] = LITE_CHANNELS, residual_blocks: int = LITE_RESIDUAL_BLOCKS,
                 refine: tuple[int, int] | None = None):
        k, r = refine or (0, 0)
        # 5x5 stride-2 stem; 4*(3+k) channels at 1/2 resolution -> 3+k at full resolution
        super().__init__(channels, residual_blocks, stem=(5, 2), head=((3 + k) * 4, 3))
        self.refine = (int(k), int(r)) if refine else None
        if self.refine:
            self.refine1 = ConvLayer(3 + k, r, 3, 1)
            self.in6 = nn.InstanceNorm2d(r, affine=True)
            self.refine2 = ConvLayer(r, 3, 3, 1)
            nn.init.zeros_(self.refine2.conv2d.weight)
            nn.init.zeros_(self.refine2.conv2d.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # the head works around 0 (+-1 = the 0-255 range), so a fresh net starts at mid-grey and
        # Adam's step size suits it; the interface stays RGB 0-255
        y = F.pixel_shuffle(super().forward(x), 2)
        if self.refine:
            y = y[:, :3] + self.refine2(self.relu(self.in6(self.refine1(y))))
        return y * 127.5 + 127.5

    def arch(self) -> dict:
        return {"variant": "lite", "channels": list(self.channels), "residual_blocks": self.residual_blocks,
                **({"refine": list(self.refine)} if self.refine else {})}


class FusedInstanceNorm(nn.Module):
    """Inference-only InstanceNorm: statistics in fp32, then one multiply-add in the input's dtype.

    On an H100 at 1920x1080 in fp16, PyTorch's InstanceNorm2d (batch-norm kernels over a reshaped
    tensor) took most of the frame; this form took the net from 21.4 to 14.4 ms (benchmarks/results/gpu_layouts.md).
    """

    def __init__(self, norm: nn.InstanceNorm2d):
        super().__init__()
        self.weight, self.bias, self.eps = norm.weight, norm.bias, norm.eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        var, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, correction=0)
        scale = self.weight.float()[None, :, None, None] * torch.rsqrt(var + self.eps)
        shift = self.bias.float()[None, :, None, None] - mean * scale
        return torch.addcmul(shift.to(x.dtype), x, scale.to(x.dtype))


def fuse_instance_norms(net: nn.Module) -> nn.Module:
    """Replace every affine InstanceNorm2d by FusedInstanceNorm (same parameters, same results), in place."""
    for name, module in list(net.named_modules()):
        if isinstance(module, nn.InstanceNorm2d) and module.affine:
            parent = net.get_submodule(name.rpartition(".")[0]) if "." in name else net
            setattr(parent, name.rpartition(".")[2], FusedInstanceNorm(module))
    return net


_STALE_KEY = re.compile(r"in\d+\.running_(mean|var)$|\.num_batches_tracked$")


def clean_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop InstanceNorm running stats saved by old PyTorch versions (pytorch/examples does the same)."""
    return {k.removeprefix("module."): v for k, v in state.items() if not _STALE_KEY.search(k)}


def arch_from_state_dict(state: Mapping[str, torch.Tensor]) -> dict:
    """Infer channels and residual block count, so narrower variants load without extra flags."""
    c1 = state["conv1.conv2d.weight"].shape[0]
    c2 = state["conv2.conv2d.weight"].shape[0]
    c3 = state["conv3.conv2d.weight"].shape[0]
    blocks = len({k.split(".")[0] for k in state if re.match(r"res\d+\.", k)})
    if "refine1.conv2d.weight" in state:
        k, r = state["refine1.conv2d.weight"].shape[1] - 3, state["refine1.conv2d.weight"].shape[0]
        return {"variant": "lite", "channels": [c1, c2, c3], "residual_blocks": blocks, "refine": [k, r]}
    variant = "lite" if state["deconv3.conv2d.weight"].shape[0] == 12 else "johnson"
    return {"variant": variant, "channels": [c1, c2, c3], "residual_blocks": blocks}


def build_net(arch: Mapping) -> TransformerNet:
    if arch.get("variant") == "lite":
        return LiteTransformerNet(tuple(arch["channels"]), arch["residual_blocks"], tuple(arch["refine"]) if arch.get("refine") else None)
    return TransformerNet(tuple(arch["channels"]), arch["residual_blocks"])


def net_from_state_dict(state: Mapping[str, torch.Tensor]) -> TransformerNet:
    state = clean_state_dict(state)
    net = build_net(arch_from_state_dict(state))
    net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return net.eval()
