"""Facts about our ONNX files shared by the exporter and the runtime (no torch, no onnx needed to read them)."""
from __future__ import annotations

import json

OPSET = 17  # one place: InstanceNormalization, Resize and Pad are stable here, and TensorRT 10/11 parse it
INPUT_NAME = "input"  # N x 3 x H x W float32, RGB, 0-255
OUTPUT_NAME = "output"  # same layout and scale; values may overshoot [0, 255] and are clipped by runtime.frames
CARD_KEY = "stylecast.card"
PRECISION_KEY = "stylecast.precision"  # fp32 | fp16-weights | fp16


def card_from_session(session) -> dict:
    """The model card embedded in an onnxruntime InferenceSession's metadata, or {}."""
    meta = session.get_modelmeta().custom_metadata_map
    try:
        return json.loads(meta.get(CARD_KEY, "{}"))
    except json.JSONDecodeError:
        return {}


def card_variant(card: dict) -> str:
    """'lite' or 'johnson': which net (and so which quality gate) a model card describes."""
    return (card.get("arch") or {}).get("variant", "johnson")
