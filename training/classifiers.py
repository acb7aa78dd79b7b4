"""The user's classifier in the training loop (issue 18, point 1): an ONNX file (through onnx_torch) or a
TorchScript file, with its manifest (docs/MANIFEST.md), in pixel space; and the feature map InfoDisent
attaches to.

The feature map: the last tensor in the graph's order that is a map. That is a 4-D [N, D, h, w] tensor
with h, w >= 2 (a CNN's last block, before global pooling), a channels-last [N, h, w, D] one (read as the
manifest's `layers.channelsLast` says, else when h = w != D, as the app does), or a token tensor
[N, S + h x w, D] (a ViT's last block: S leading tokens, the manifest's `layers.tokens` or 1 and a square
grid). `FeatureMap.to_map` turns it into [N, D, h, w]. A TorchScript classifier gives its map when it has
a `features` submodule; otherwise InfoDisent is not offered for it.
"""
import math
import os
from dataclasses import dataclass

import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn

from .common import ClassifierInPixelSpace
from .onnx_torch import OPS, OnnxModule


class ClassifierError(ValueError):
    pass


@dataclass
class FeatureMap:
    tensor: str  # the graph tensor (ONNX) or "features" (TorchScript)
    kind: str  # "channels-first", "channels-last" or "tokens"
    channels: int
    grid: tuple  # (h, w)
    skip: int = 0  # leading tokens

    def to_map(self, value: torch.Tensor) -> torch.Tensor:
        if self.kind == "channels-last":
            return value.permute(0, 3, 1, 2)
        if self.kind == "tokens":
            return value[:, self.skip :].transpose(1, 2).reshape(value.shape[0], self.channels, *self.grid)
        return value


class Backbone(nn.Module):
    """Normalised input -> (feature map [N, D, h, w], logits)."""

    def __init__(self, graph: OnnxModule, feature: FeatureMap, logits: str):
        super().__init__()
        self.graph, self.feature, self.logits = graph, feature, logits

    def forward(self, normalised):
        out = self.graph(normalised)
        return self.feature.to_map(out[self.feature.tensor]), out[self.logits]


@dataclass
class Loaded:
    pixel: ClassifierInPixelSpace  # pixel space -> logits
    manifest: dict
    path: str
    backbone: nn.Module = None  # normalised -> (map, logits), None when no map is found
    feature: FeatureMap = None
    onnx_model: onnx.ModelProto = None


def _trace_shapes(model: onnx.ModelProto, example: torch.Tensor) -> list:
    """(tensor name, shape) of every node output in graph order, from one run at batch 1."""
    module = OnnxModule(model)
    env = {name: getattr(module, key) for name, key in module.names.items()}
    env[module.inputs[0]] = example
    shapes = []
    with torch.no_grad():
        for node, attrs in module.nodes:
            result = OPS[node.op_type](node, [env[n] if n else None for n in node.input], attrs)
            for name, value in zip(node.output, result if isinstance(result, (list, tuple)) else [result]):
                if name:
                    env[name] = value
                    if value.is_floating_point():
                        shapes.append((name, tuple(value.shape)))
    return shapes


def find_feature_map(model: onnx.ModelProto, manifest: dict) -> FeatureMap:
    inputs = manifest["input"]
    layout = inputs.get("layout", "NCHW")
    dims = (inputs["height"], inputs["width"], inputs["channels"]) if layout == "NHWC" else \
        (inputs["channels"], inputs["height"], inputs["width"])
    layers = manifest.get("layers", {})
    found = None
    for name, shape in _trace_shapes(model, torch.zeros(1, *dims)):
        if len(shape) == 4:
            a, b, c = shape[1:]
            last = layers.get("channelsLast", a == b != c)
            if last and a >= 2 and b >= 2:
                found = FeatureMap(name, "channels-last", c, (a, b))
            elif not last and b >= 2 and c >= 2:
                found = FeatureMap(name, "channels-first", a, (b, c))
        elif len(shape) == 3:
            tokens, width = shape[1:]
            if "tokens" in layers:
                skip, grid = layers["tokens"]["skip"], tuple(layers["tokens"]["grid"])
            else:
                side = math.isqrt(max(tokens - 1, 0))
                skip, grid = 1, (side, side)
            if grid[0] >= 2 and skip + grid[0] * grid[1] == tokens:
                found = FeatureMap(name, "tokens", width, grid, skip)
    if found is None:
        raise ClassifierError("the model has no spatial feature map or token map for InfoDisent to attach to")
    return found


def load(path: str, manifest: dict, feature_map: bool = True) -> Loaded:
    """The classifier of `path` with its manifest and, where one is found, its backbone (feature map and
    logits); `feature_map` makes a missing map an error (InfoDisent needs it)."""
    if path.lower().endswith(".onnx"):
        model = onnx.load(path, load_external_data=True)
        output = manifest.get("output", {}).get("name") or model.graph.output[0].name
        try:
            module = OnnxModule(model, [output]).eval()
        except ValueError as error:
            raise ClassifierError(f"{os.path.basename(path)}: {error}") from None
        loaded = Loaded(ClassifierInPixelSpace.of_manifest(module, manifest), manifest, path, onnx_model=model)
        try:
            feature = find_feature_map(model, manifest)
        except ClassifierError:
            if feature_map:
                raise
            return loaded
        loaded.feature = feature
        loaded.backbone = Backbone(OnnxModule(model, [feature.tensor, output]).eval(), feature, output)
        return loaded
    try:
        module = torch.jit.load(path, map_location="cpu").eval()
    except Exception as error:
        raise ClassifierError(f"{path} is neither an ONNX model nor a TorchScript file: {error}") from None
    loaded = Loaded(ClassifierInPixelSpace.of_manifest(module, manifest), manifest, path)
    if hasattr(module, "features"):
        with torch.no_grad():
            shape = module.features(torch.zeros(1, manifest["input"]["channels"], manifest["input"]["height"],
                                                manifest["input"]["width"])).shape
        if len(shape) == 4:
            loaded.feature = FeatureMap("features", "channels-first", shape[1], tuple(shape[2:]))
            loaded.backbone = _ScriptBackbone(module)
    if feature_map and loaded.backbone is None:
        raise ClassifierError(f"{os.path.basename(path)} has no `features` submodule giving a 4-D map for InfoDisent")
    return loaded


class _ScriptBackbone(nn.Module):
    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, normalised):
        return self.module.features(normalised), self.module(normalised)


def infodisent_graph(model: onnx.ModelProto, feature: FeatureMap, rotation: torch.Tensor, weight: torch.Tensor,
                     bias: torch.Tensor) -> onnx.ModelProto:
    """The classifier's graph up to its feature map, then InfoDisent's head, as one ONNX model:
    input -> logits [N, C], channel_maps [N, D, h, w], evidence [N, D] (the bundle's infodisent role)."""
    graph = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 13)
    nodes, inits = [], []

    def constant(name, array):
        inits.append(numpy_helper.from_array(array, name))
        return name

    import numpy as np

    x = feature.tensor
    if feature.kind == "channels-last":
        nodes.append(helper.make_node("Transpose", [x], ["xaiws_map"], perm=[0, 3, 1, 2]))
        x = "xaiws_map"
    elif feature.kind == "tokens":
        nodes.append(helper.make_node("Slice", [x, constant("xaiws_skip", np.array([feature.skip], np.int64)),
                                                constant("xaiws_end", np.array([1 << 62], np.int64)),
                                                constant("xaiws_axis", np.array([1], np.int64))], ["xaiws_patches"]))
        nodes.append(helper.make_node("Transpose", ["xaiws_patches"], ["xaiws_channels"], perm=[0, 2, 1]))
        grid = np.array([0, feature.channels, *feature.grid], np.int64)
        nodes.append(helper.make_node("Reshape", ["xaiws_channels", constant("xaiws_grid", grid)], ["xaiws_map"]))
        x = "xaiws_map"
    d = feature.channels
    rotation = rotation.detach().numpy().astype(np.float32).reshape(d, d, 1, 1)
    nodes.append(helper.make_node("Conv", [x, constant("xaiws_rotation", rotation)], ["channel_maps"]))
    nodes.append(helper.make_node("Reshape", ["channel_maps", constant("xaiws_flat", np.array([0, d, -1], np.int64))],
                                  ["xaiws_flat_maps"]))
    nodes.append(helper.make_node("Relu", ["xaiws_flat_maps"], ["xaiws_positive"]))
    nodes.append(helper.make_node("Neg", ["xaiws_flat_maps"], ["xaiws_negated"]))
    nodes.append(helper.make_node("Relu", ["xaiws_negated"], ["xaiws_negative"]))
    for side in ("positive", "negative"):
        if opset >= 18:
            nodes.append(helper.make_node("ReduceMax", [f"xaiws_{side}", constant(f"xaiws_axes_{side}", np.array([2], np.int64))],
                                          [f"xaiws_{side}_max"], keepdims=0))
        else:
            nodes.append(helper.make_node("ReduceMax", [f"xaiws_{side}"], [f"xaiws_{side}_max"], axes=[2], keepdims=0))
    nodes.append(helper.make_node("Sub", ["xaiws_positive_max", "xaiws_negative_max"], ["evidence"]))
    nodes.append(helper.make_node("Gemm", ["evidence", constant("xaiws_weight", weight.detach().numpy().astype(np.float32)),
                                           constant("xaiws_bias", bias.detach().numpy().astype(np.float32))],
                                  ["logits"], transB=1))
    # Keep only what the feature map needs of the classifier's graph.
    needed, kept = {feature.tensor}, []
    for node in reversed(list(graph.node)):
        if any(out in needed for out in node.output):
            kept.append(node)
            needed.update(name for name in node.input if name)
    kept.reverse()
    initialisers = [t for t in graph.initializer if t.name in needed] + inits
    n = "N"
    outputs = [helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, [n, weight.shape[0]]),
               helper.make_tensor_value_info("channel_maps", onnx.TensorProto.FLOAT, [n, d, *feature.grid]),
               helper.make_tensor_value_info("evidence", onnx.TensorProto.FLOAT, [n, d])]
    inputs = [i for i in graph.input if i.name not in {t.name for t in graph.initializer}][:1]
    out = helper.make_graph(kept + nodes, "infodisent", inputs, outputs, initialisers)
    result = helper.make_model(out, opset_imports=list(model.opset_import), producer_name="xaiws-training")
    result.ir_version = model.ir_version
    onnx.checker.check_model(result)
    return result
