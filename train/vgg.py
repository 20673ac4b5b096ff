"""The VGG loss network: one layer table, weight loading, and a truncated feature extractor.

Callers always pass RGB float in [0, 255]; the module applies the normalisation its
checkpoint expects (torchvision: RGB/255 with ImageNet mean/std; Caffe: BGR minus mean).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import torch
from torch import nn

from runtime.errors import DependencyError, InputError, StylecastError

# Channel plan per block, as in Simonyan & Zisserman; "M" is a 2x2 max pool.
_CFG: dict[str, list[int | str]] = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}

URLS = {
    "vgg16": "https://download.pytorch.org/models/vgg16-397923af.pth",
    "vgg19": "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth",
}

TORCHVISION = "torchvision"
CAFFE = "caffe"
CONVENTIONS = (TORCHVISION, CAFFE)
_TV_MEAN = (0.485, 0.456, 0.406)
_TV_STD = (0.229, 0.224, 0.225)
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def layer_table(net: str) -> list[tuple[str, str]]:
    """[(name, kind)] in `features` index order: conv1_1, relu1_1, ..., pool1, ... (kind conv|relu|pool)."""
    if net not in _CFG:
        raise StylecastError(f"unknown network '{net}'; choose vgg16 or vgg19")
    table: list[tuple[str, str]] = []
    block, idx = 1, 1
    for item in _CFG[net]:
        if item == "M":
            table.append((f"pool{block}", "pool"))
            block, idx = block + 1, 1
        else:
            table += [(f"conv{block}_{idx}", "conv"), (f"relu{block}_{idx}", "relu")]
            idx += 1
    return table


def layer_names(net: str) -> list[str]:
    return [name for name, _ in layer_table(net)]


def downsampling_before(net: str, layer: str) -> int:
    """How many 2x poolings precede `layer`: inputs need at least 2**k pixels per side."""
    names = layer_names(net)
    return sum(1 for n in names[: names.index(layer)] if n.startswith("pool"))


def validate_layers(net: str, layers: Iterable[str]) -> list[str]:
    names = layer_names(net)
    out = list(layers)
    for layer in out:
        if layer not in names:
            relus = [n for n in names if n.startswith("relu")]
            raise StylecastError(f"unknown {net} layer '{layer}'; known: {', '.join(relus)} (and conv/pool names)")
    return out


def conv_keys(net: str) -> list[str]:
    """State-dict keys (torchvision names) of the conv weights, in order."""
    keys = []
    for i, (_, kind) in enumerate(layer_table(net)):
        if kind == "conv":
            keys += [f"features.{i}.weight", f"features.{i}.bias"]
    return keys


@dataclass
class VGGWeights:
    net: str
    state: dict[str, torch.Tensor]  # features.N.weight/bias, float32
    convention: str
    source: str


def _detect_net(state: Mapping[str, torch.Tensor], meta: Mapping[str, str] | None = None) -> str:
    """vgg16/vgg19 from the conv count; a file truncated after a layer says its net in metadata."""
    n_convs = sum(1 for k in state if k.endswith(".weight") and state[k].ndim == 4)
    found = {13: "vgg16", 16: "vgg19"}.get(n_convs, "")
    declared = (meta or {}).get("stylecast.net", "")
    return found or (declared if declared in _CFG else "")


def _convention_from_metadata(meta: Mapping[str, str] | None) -> str | None:
    if not meta:
        return None
    explicit = meta.get("stylecast.input") or meta.get("convention")
    if explicit in CONVENTIONS:
        return explicit
    text = meta.get("input", "")
    if "BGR" in text or "caffe" in text.lower():
        return CAFFE
    if text:
        return TORCHVISION
    return None


def _read_state(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str] | None]:
    if not path.is_file():
        raise InputError(f"VGG weights not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), "pt") as handle:
                return {k: handle.get_tensor(k) for k in handle.keys()}, handle.metadata()
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt or foreign file
        raise InputError(f"cannot read VGG weights {path}: {type(exc).__name__}: {exc}") from None
    if isinstance(obj, Mapping) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping):
        raise InputError(f"{path} holds no state dict")
    return dict(obj), None


def _normalise_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keep features.N.* (full torchvision checkpoints also hold classifier.*); accept bare 'N.weight'."""
    out = {}
    for key, value in state.items():
        if key.startswith("features."):
            out[key] = value
        elif key.split(".")[0].isdigit():
            out["features." + key] = value
    return out


def load_weights(net: str | None = None, path: str | os.PathLike | None = None, convention: str | None = None) -> VGGWeights:
    """Find and load VGG weights: explicit path, then $STYLECAST_VGG, then torchvision's URL via torch.hub."""
    source = path or os.environ.get("STYLECAST_VGG")
    meta = None
    if source:
        state, meta = _read_state(Path(source))
        origin = str(source)
    else:
        net = net or "vgg19"
        if net not in URLS:
            raise StylecastError(f"unknown network '{net}'; choose vgg16 or vgg19")
        url = URLS[net]
        try:
            state = torch.hub.load_state_dict_from_url(url, map_location="cpu", progress=True, check_hash=True)
        except Exception as exc:
            raise DependencyError(
                f"could not download VGG weights from {url} ({type(exc).__name__}); "
                f"pass a local file with --vgg FILE or set $STYLECAST_VGG"
            ) from None
        origin = url
    state = _normalise_keys(state)
    found = _detect_net(state, meta)
    if not found:
        raise InputError(f"{origin} is not a VGG16/VGG19 features checkpoint")
    if net and net != found:
        raise InputError(f"{origin} holds {found} weights but {net} was requested (use --net {found})")
    keys = conv_keys(found)
    present = [k in state for k in keys]
    depth = present.index(False) if False in present else len(keys)  # a truncated file holds a prefix
    if depth == 0 or any(present[depth:]):
        missing = [k for k, ok in zip(keys, present) if not ok]
        raise InputError(f"{origin} lacks {len(missing)} {found} tensors, e.g. {missing[0]}")
    conv = convention or _convention_from_metadata(meta) or TORCHVISION
    if conv not in CONVENTIONS:
        raise StylecastError(f"unknown input convention '{conv}'; choose {' or '.join(CONVENTIONS)}")
    state = {k: state[k].float() for k in keys[:depth]}
    return VGGWeights(found, state, conv, origin)


class VGGFeatures(nn.Module):
    """VGG truncated after the deepest requested layer; forward(x RGB 0-255) -> {layer: activation}."""

    def __init__(self, weights: VGGWeights, layers: Iterable[str]):
        super().__init__()
        self.net_name = weights.net
        self.layers = validate_layers(weights.net, layers)
        table = layer_table(weights.net)
        names = [n for n, _ in table]
        depth = max(names.index(layer) for layer in self.layers) + 1
        modules: list[nn.Module] = []
        in_ch = 3
        for i, (name, kind) in enumerate(table[:depth]):
            if kind == "conv":
                if f"features.{i}.weight" not in weights.state:
                    raise InputError(f"{weights.source} ends before {name}, which layer {table[depth - 1][0]} needs")
                w = weights.state[f"features.{i}.weight"]
                conv = nn.Conv2d(in_ch, w.shape[0], 3, padding=1)
                conv.weight.data.copy_(w)
                conv.bias.data.copy_(weights.state[f"features.{i}.bias"])
                modules.append(conv)
                in_ch = w.shape[0]
            elif kind == "relu":
                modules.append(nn.ReLU(inplace=False))
            else:
                modules.append(nn.MaxPool2d(2, 2))
        self.features = nn.Sequential(*modules)
        self._names = names[:depth]
        self.convention = weights.convention
        if self.convention == TORCHVISION:
            mean = torch.tensor(_TV_MEAN) * 255.0
            scale = 1.0 / (torch.tensor(_TV_STD) * 255.0)
        else:
            mean = torch.tensor(_CAFFE_MEAN_BGR[::-1])  # stored in RGB order; channels flipped after
            scale = torch.ones(3)
        self.register_buffer("mean", mean.view(1, 3, 1, 1))
        self.register_buffer("scale", scale.view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def min_size(self) -> int:
        return 2 ** max(downsampling_before(self.net_name, layer) for layer in self.layers)

    def normalise(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) * self.scale
        return x.flip(1) if self.convention == CAFFE else x

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out: dict[str, torch.Tensor] = {}
        h = self.normalise(x)
        wanted = set(self.layers)
        for name, module in zip(self._names, self.features):
            h = module(h)
            if name in wanted:
                out[name] = h
        return out


def build_vgg(layers: Iterable[str], net: str | None = None, path: str | os.PathLike | None = None,
              convention: str | None = None) -> VGGFeatures:
    return VGGFeatures(load_weights(net, path, convention), layers)
