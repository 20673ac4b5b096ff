"""Style-net files: our float16 safetensors + model card, pytorch/examples .pth/.model checkpoints, and our
exported .onnx (its initializers keep the state-dict names, so a shipped style can be fine-tuned)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from runtime.errors import InputError
from runtime.files import atomic_path
from runtime.onnx_meta import CARD_KEY  # the same key in safetensors and ONNX metadata
from train.transformer_net import TransformerNet, clean_state_dict, net_from_state_dict

CARD_FORMAT = "stylecast-style/1"


def card_path_for(weights: str | os.PathLike) -> Path:
    return Path(weights).with_suffix(".json")


def save_style_model(path: str | os.PathLike, net: TransformerNet, card: dict) -> Path:
    """Write float16 weights (safetensors, card in its metadata; or .pth state dict) and <name>.json."""
    from safetensors.torch import save_file

    path = Path(path)
    state = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in net.state_dict().items()}
    card = {"format": CARD_FORMAT, **card, "arch": net.arch()}
    with atomic_path(path) as tmp:
        if path.suffix == ".safetensors":
            save_file(state, str(tmp), metadata={CARD_KEY: json.dumps(card)})
        else:  # pytorch/examples-style plain state dict: their neural_style.py loads it unchanged
            torch.save(state, tmp)
    with atomic_path(card_path_for(path)) as tmp:
        tmp.write_text(json.dumps(card, indent=2) + "\n")
    return path


def _read_card(path: Path, metadata: dict | None) -> dict:
    if metadata and CARD_KEY in metadata:
        return json.loads(metadata[CARD_KEY])
    side = card_path_for(path)
    if side.is_file() and side != path:
        try:
            return json.loads(side.read_text())
        except json.JSONDecodeError:
            return {}
    return {}


def _read_onnx(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """State dict and metadata of an ONNX file written by export.onnx: initializer names are the net's
    parameter names, with a '__fp16' suffix where the weights are stored at half precision."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    state = {}
    for init in model.graph.initializer:
        name = init.name.removesuffix("__fp16")
        state[name] = torch.from_numpy(numpy_helper.to_array(init).copy()).float()
    return state, {p.key: p.value for p in model.metadata_props}


def load_style_model(path: str | os.PathLike) -> tuple[TransformerNet, dict]:
    """Load a style net from .safetensors (ours), .pth/.model (pytorch/examples or our training checkpoint),
    or .onnx (exported by us: a shipped style as the start of a fine-tuning run)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"style model not found: {path}")
    metadata = None
    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), "pt") as handle:
                state = {k: handle.get_tensor(k) for k in handle.keys()}
                metadata = handle.metadata()
        elif path.suffix == ".onnx":
            state, metadata = _read_onnx(path)
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
            if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
                state = state["model"]  # a train.fast checkpoint
    except Exception as exc:
        raise InputError(f"cannot read style model {path}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None
    if not isinstance(state, dict) or "conv1.conv2d.weight" not in clean_state_dict(state):
        raise InputError(f"{path} is not a transform-net checkpoint (no conv1.conv2d.weight)")
    try:
        net = net_from_state_dict(state)
    except (RuntimeError, KeyError) as exc:
        raise InputError(f"{path} does not match the transform net: {str(exc).splitlines()[0]}") from None
    card = _read_card(path, metadata)
    card.setdefault("name", path.stem)
    return net, card
