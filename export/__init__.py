"""Export trained style nets: ONNX (dynamic shapes, parity-checked) and TensorRT FP16 engines."""
