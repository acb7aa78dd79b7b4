"""Op-by-op gradient fixtures for the ops of modern architectures (ViT, Swin, ConvNeXt, EfficientNet,
MobileNet V3): small modules exported by torch at opsets 13 and 17, plus graphs written with
onnx.helper for ops torch 1.13 cannot export (Gelu 20, Mish 18, GroupNormalization 18 and 21,
variadic Sum and Mean, reductions with axes as an input at opset 18). Each case stores the input and
the gradient of two output entries with respect to it, computed by PyTorch autograd on the same
function. Run: /usr/bin/python3 -m training modern-ops (writes test/fixtures/cam/modern-ops.json)."""
import json
import os

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from .cam_reference import _Op, encode


def _torch_cases():
    torch.manual_seed(1)
    ln = nn.LayerNorm(5)
    inorm = nn.InstanceNorm2d(3, affine=True)
    gnorm = nn.GroupNorm(2, 4)
    for module in (ln, inorm, gnorm):
        with torch.no_grad():
            module.weight.uniform_(0.5, 1.5)
            module.bias.uniform_(-0.5, 0.5)
    mask = torch.tensor([[True, False, True, False]])
    return {
        "layernorm": ([3, 5], _Op(lambda m, x: m.ln(x) * 2, ln=ln)),
        "gelu_erf": ([2, 3, 3], _Op(lambda m, x: F.gelu(x))),
        "unary_math": ([2, 4], _Op(lambda m, x: torch.exp(0.3 * x) + torch.log(x.abs() + 1) - torch.sqrt(x * x + 1)
                                   + torch.reciprocal(x * x + 2) + (-x) * x.pow(3) * 0.1 + F.softplus(x))),
        "reductions": ([3, 4], _Op(lambda m, x: torch.cat([x.mean(dim=2, keepdim=True).flatten(1), x.sum(dim=(1, 2))[:, None],
                                                          x.amax(dim=1), torch.linalg.vector_norm(x, dim=-1)], 1))),
        "slice_gather_split": ([3, 7], _Op(lambda m, x: torch.cat([x[:, 0], x[:, :, 1:6:2].flatten(1),
                                                                  torch.split(x, [2, 1], dim=1)[0].flatten(1) * 3], 1))),
        "gather_vector": ([4, 3], _Op(lambda m, x: x[:, [2, 0, 2]] * torch.arange(1.0, 4.0)[None, :, None])),
        "expand_tile_where": ([1, 4], _Op(lambda m, x: torch.cat([x.expand(-1, 3, -1).flatten(1) * torch.arange(12.0),
                                                                 x.repeat(1, 2, 3).flatten(1),
                                                                 torch.where(mask, x[:, 0], 2 * x[:, 0])], 1))),
        "cast_roundtrip": ([2, 3], _Op(lambda m, x: (x.double() * 2).float() + x)),
        "einsum": ([3, 4], _Op(lambda m, x: torch.einsum("bij,jk->bik", x, m.w), w=nn.Parameter(torch.randn(4, 2)))),
        "instancenorm": ([3, 4, 4], _Op(lambda m, x: m.n(x) * torch.arange(1.0, 49.0).reshape(3, 4, 4), n=inorm)),
        "groupnorm": ([4, 3, 3], _Op(lambda m, x: m.n(x) * torch.arange(1.0, 37.0).reshape(4, 3, 3), n=gnorm)),
        "max_min": ([2, 4], _Op(lambda m, x: torch.maximum(x, x.flip(-1) * 0.5) + torch.minimum(x, torch.zeros(1, 4)))),
        "mish": ([2, 4], _Op(lambda m, x: F.mish(x))),
        # Resize as torch exports F.interpolate; a random projection of the result makes each of the two
        # checked outputs depend on every resized position
        "resize_nearest_scale": ([2, 3, 4], _resized(lambda x: F.interpolate(x, scale_factor=2, mode="nearest"), 96)),
        "resize_nearest_size": ([2, 3, 4], _resized(lambda x: F.interpolate(x, size=(5, 7), mode="nearest"), 70)),
        "resize_bilinear_scale": ([2, 3, 4], _resized(lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"), 96)),
        "resize_bilinear_corners": ([2, 3, 4], _resized(lambda x: F.interpolate(x, size=(5, 7), mode="bilinear",
                                                                                align_corners=True), 70)),
        "resize_bicubic_size": ([2, 3, 4], _resized(lambda x: F.interpolate(x, size=(5, 3), mode="bicubic"), 30)),
        "resize_bilinear_down": ([2, 5, 6], _resized(lambda x: F.interpolate(x, size=(2, 4), mode="bilinear"), 16)),
    }


def _resized(fn, width):
    generator = torch.Generator().manual_seed(width)
    return _Op(lambda m, x: fn(x).flatten(1) @ m.w, w=nn.Parameter(torch.randn(width, 3, generator=generator)))



def _graph(name, nodes, shape, out_shape, inits, opset):
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *shape])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", out_shape])],
                              [numpy_helper.from_array(np.asarray(v, dtype=np.int64 if k.startswith("i_") else np.float32), k)
                               for k, v in inits.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _helper_cases():
    """(shape, onnx model, torch function of x with the same values)."""
    rng = np.random.default_rng(3)
    g18 = rng.uniform(0.5, 1.5, 2).astype(np.float32)
    b18 = rng.uniform(-0.5, 0.5, 2).astype(np.float32)
    g21 = rng.uniform(0.5, 1.5, 4).astype(np.float32)
    b21 = rng.uniform(-0.5, 0.5, 4).astype(np.float32)
    weights = np.arange(1, 37, dtype=np.float32).reshape(1, 4, 3, 3)
    flat = lambda out: helper.make_node("Flatten", [out], ["y"], axis=1)
    cases = {
        "gelu_opset20": ([2, 4], _graph("gelu", [helper.make_node("Gelu", ["x"], ["a"]),
                                                helper.make_node("Gelu", ["x"], ["b"], approximate="tanh"),
                                                helper.make_node("Concat", ["a", "b"], ["c"], axis=1), flat("c")],
                                         [2, 4], 16, {}, 20),
                          lambda x: torch.cat([F.gelu(x), F.gelu(x, approximate="tanh")], 1).flatten(1)),
        "mish_opset18": ([2, 4], _graph("mish", [helper.make_node("Mish", ["x"], ["a"]), flat("a")], [2, 4], 8, {}, 18),
                         lambda x: F.mish(x).flatten(1)),
        "groupnorm_opset18": ([4, 3, 3], _graph("gn18", [helper.make_node("GroupNormalization", ["x", "s", "b"], ["a"], num_groups=2),
                                                         helper.make_node("Mul", ["a", "w"], ["m"]), flat("m")],
                                                [4, 3, 3], 36, {"s": g18, "b": b18, "w": weights}, 18),
                              lambda x: (F.group_norm(x, 2) * torch.from_numpy(np.repeat(g18, 2))[None, :, None, None]
                                         + torch.from_numpy(np.repeat(b18, 2))[None, :, None, None]).mul(torch.from_numpy(weights)).flatten(1)),
        "groupnorm_opset21": ([4, 3, 3], _graph("gn21", [helper.make_node("GroupNormalization", ["x", "s", "b"], ["a"], num_groups=2),
                                                         helper.make_node("Mul", ["a", "w"], ["m"]), flat("m")],
                                                [4, 3, 3], 36, {"s": g21, "b": b21, "w": weights}, 21),
                              lambda x: F.group_norm(x, 2, torch.from_numpy(g21), torch.from_numpy(b21)).mul(torch.from_numpy(weights)).flatten(1)),
        "sum_mean_variadic": ([2, 3], _graph("variadic", [helper.make_node("Mul", ["x", "k"], ["a"]),
                                                          helper.make_node("Sum", ["x", "a", "k"], ["s"]),
                                                          helper.make_node("Mean", ["x", "a"], ["m"]),
                                                          helper.make_node("Concat", ["s", "m"], ["c"], axis=1), flat("c")],
                                         [2, 3], 12, {"k": np.array([1.5, -2.0, 0.5], dtype=np.float32)}, 13),
                              lambda x: torch.cat([x + x * torch.tensor([1.5, -2.0, 0.5]) + torch.tensor([1.5, -2.0, 0.5]),
                                                   (x + x * torch.tensor([1.5, -2.0, 0.5])) / 2], 1).flatten(1)),
        "reduce_opset18": ([3, 4], _graph("reduce18", [helper.make_node("ReduceMean", ["x", "i_axes"], ["a"], keepdims=0),
                                                       helper.make_node("ReduceMax", ["x", "i_axes"], ["b"], keepdims=0),
                                                       helper.make_node("ReduceL2", ["x", "i_axes"], ["c"], keepdims=0),
                                                       helper.make_node("ReduceSum", ["x", "i_axes"], ["d"], keepdims=0),
                                                       helper.make_node("Concat", ["a", "b", "c", "d"], ["e"], axis=1), flat("e")],
                                           [3, 4], 12, {"i_axes": np.array([2], dtype=np.int64)}, 18),
                           lambda x: torch.cat([x.mean(2), x.amax(2), torch.linalg.vector_norm(x, dim=2), x.sum(2)], 1).flatten(1)),
    }
    return cases


def build(out: str = "test/fixtures/cam") -> dict:
    folder = os.path.join(out, "modern")
    os.makedirs(folder, exist_ok=True)
    cases = []

    def record(name, shape, fn, path, opset):
        generator = torch.Generator().manual_seed(sum(map(ord, name)))
        x = torch.rand([1, *shape], generator=generator) * 4 - 2
        width = fn(x).shape[1]
        gradients = []
        targets = [0, width - 1]
        for target in targets:
            xg = x.clone().requires_grad_(True)
            fn(xg)[0, target].backward()
            gradients.append(encode(xg.grad.numpy()))
        cases.append({"name": f"{name} (opset {opset})", "file": os.path.relpath(path, out), "shape": shape, "opset": opset,
                      "input": encode(x.numpy()), "targets": targets, "gradients": gradients})

    for name, (shape, module) in _torch_cases().items():
        module.eval()
        x = torch.rand([1, *shape]) * 4 - 2
        for opset in (13, 17):
            path = os.path.join(folder, f"{name}_{opset}.onnx")
            torch.onnx.export(module, x, path, opset_version=opset, input_names=["x"], output_names=["y"],
                              dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, do_constant_folding=True)
            record(name, shape, module, path, opset)
    for name, (shape, model, fn) in _helper_cases().items():
        if model.opset_import[0].version <= 17:  # the checker of Debian's onnx 1.12 knows opsets up to 17
            onnx.checker.check_model(model)
        path = os.path.join(folder, f"{name}.onnx")
        onnx.save(model, path)
        record(name, shape, fn, path, model.opset_import[0].version)
    result = {"format": "xaiws.op-gradients/1", "cases": cases}
    with open(os.path.join(out, "modern-ops.json"), "w") as handle:
        json.dump(result, handle, indent=1)
    return result
