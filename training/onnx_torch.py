"""A registered ONNX classifier as a differentiable torch module (issue 18, point 1).

`OnnxModule(onnx.load(path))` runs the graph node by node with torch operations, so gradients flow to
its input (DXAI's classifier term) and its intermediate tensors can be read (`outputs=[names]`: a
frozen backbone's feature map for InfoDisent). The weights are buffers: the module trains nothing of
its own. Shapes are computed as the graph computes them (Shape, Gather, Concat on int64 tensors), so a
model exported with a dynamic batch runs at any batch size.

The ops are those of torchvision's classification families exported at opsets 11-17 (the gradient
builder's table and then some), each in the forms its opsets give it (axes as an attribute or an input,
Split's sizes, Slice and Pad before and after opset 10/11). An op outside OPS is refused by name when
the module is built, not half-way through a run.
"""
import math

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import helper, numpy_helper
from torch import nn

_TORCH_TYPES = {
    onnx.TensorProto.FLOAT: torch.float32, onnx.TensorProto.DOUBLE: torch.float64,
    onnx.TensorProto.FLOAT16: torch.float16, onnx.TensorProto.INT64: torch.int64,
    onnx.TensorProto.INT32: torch.int32, onnx.TensorProto.BOOL: torch.bool, onnx.TensorProto.UINT8: torch.uint8,
    onnx.TensorProto.INT8: torch.int8,
}


class UnsupportedOp(ValueError):
    pass


def _ints(t):
    return [int(v) for v in t.reshape(-1).tolist()]


def _axes(node, inputs, attrs, position=1):
    """Axes from an attribute (older opsets) or an input (newer ones); None when neither is given."""
    if "axes" in attrs:
        return list(attrs["axes"])
    if len(inputs) > position and inputs[position] is not None:
        return _ints(inputs[position])
    return None


def _reduce(fn):
    def run(node, inputs, attrs):
        x = inputs[0]
        axes = _axes(node, inputs, attrs)
        keep = bool(attrs.get("keepdims", 1))
        if axes is None:
            if attrs.get("noop_with_empty_axes", 0):
                return x
            axes = list(range(x.dim()))
        return fn(x, [a % x.dim() for a in axes], keep)
    return run


def _pads(pads, dims):
    """ONNX pads (begin..., end...) for the last `dims` axes as F.pad's (last axis first) list."""
    begin, end = pads[:dims], pads[dims:]
    out = []
    for axis in reversed(range(dims)):
        out += [begin[axis], end[axis]]
    return out


def _conv(node, inputs, attrs):
    x, w = inputs[0], inputs[1]
    b = inputs[2] if len(inputs) > 2 else None
    dims = w.dim() - 2
    strides = attrs.get("strides", [1] * dims)
    dilations = attrs.get("dilations", [1] * dims)
    pads = attrs.get("pads", [0] * (2 * dims))
    auto = attrs.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0] * (2 * dims)
        for axis in range(dims):
            size = x.shape[2 + axis]
            out = math.ceil(size / strides[axis])
            total = max(0, (out - 1) * strides[axis] + (w.shape[2 + axis] - 1) * dilations[axis] + 1 - size)
            small, large = total // 2, total - total // 2
            pads[axis], pads[dims + axis] = (small, large) if auto == "SAME_UPPER" else (large, small)
    if any(pads):
        x = F.pad(x, _pads(pads, dims))
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[dims]
    return conv(x, w, b, strides, 0, dilations, attrs.get("group", 1))


def _pool(kind):
    def run(node, inputs, attrs):
        x = inputs[0]
        kernel = attrs["kernel_shape"]
        dims = len(kernel)
        strides = attrs.get("strides", [1] * dims)
        pads = attrs.get("pads", [0] * (2 * dims))
        ceil = bool(attrs.get("ceil_mode", 0))
        symmetric = pads[:dims] == pads[dims:] and all(p * 2 <= k for p, k in zip(pads[:dims], kernel))
        if kind == "max":
            if not symmetric:
                x = F.pad(x, _pads(pads, dims), value=-math.inf)
                pads = [0] * (2 * dims)
            return F.max_pool2d(x, kernel, strides, pads[:dims], attrs.get("dilations", [1] * dims), ceil)
        include = bool(attrs.get("count_include_pad", 0))
        if not symmetric:
            raise UnsupportedOp(f"AveragePool with asymmetric pads {pads} (node {node.name!r})")
        return F.avg_pool2d(x, kernel, strides, pads[:dims], ceil, include)
    return run


def _gemm(node, inputs, attrs):
    a, b = inputs[0], inputs[1]
    if attrs.get("transA", 0):
        a = a.t()
    if attrs.get("transB", 0):
        b = b.t()
    y = attrs.get("alpha", 1.0) * (a @ b)
    if len(inputs) > 2 and inputs[2] is not None:
        y = y + attrs.get("beta", 1.0) * inputs[2]
    return y


def _batch_norm(node, inputs, attrs):
    x, scale, bias, mean, var = inputs[:5]
    shape = [1, -1] + [1] * (x.dim() - 2)
    eps = attrs.get("epsilon", 1e-5)
    return (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps) * scale.reshape(shape) + bias.reshape(shape)


def _layer_norm(node, inputs, attrs):
    x, scale = inputs[0], inputs[1]
    bias = inputs[2] if len(inputs) > 2 else None
    axis = attrs.get("axis", -1) % x.dim()
    return F.layer_norm(x, x.shape[axis:], scale, bias, attrs.get("epsilon", 1e-5))


def _group_norm(node, inputs, attrs):
    x, scale, bias = inputs[:3]
    groups = attrs["num_groups"]
    y = F.group_norm(x, groups, eps=attrs.get("epsilon", 1e-5))
    shape = [1, -1] + [1] * (x.dim() - 2)
    if scale.numel() == groups:  # opset 18-20: scale and bias per group
        scale = scale.repeat_interleave(x.shape[1] // groups)
        bias = bias.repeat_interleave(x.shape[1] // groups)
    return y * scale.reshape(shape) + bias.reshape(shape)


def _reshape(node, inputs, attrs):
    x, shape = inputs[0], _ints(inputs[1])
    if not attrs.get("allowzero", 0):
        shape = [x.shape[i] if s == 0 else s for i, s in enumerate(shape)]
    return x.reshape(shape)


def _slice(node, inputs, attrs):
    x = inputs[0]
    if "starts" in attrs:  # opset < 10
        starts, ends = attrs["starts"], attrs["ends"]
        axes = attrs.get("axes", list(range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = _ints(inputs[1]), _ints(inputs[2])
        axes = _ints(inputs[3]) if len(inputs) > 3 and inputs[3] is not None else list(range(len(starts)))
        steps = _ints(inputs[4]) if len(inputs) > 4 and inputs[4] is not None else [1] * len(starts)
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis %= x.dim()
        size = x.shape[axis]
        start, end = start + size if start < 0 else start, end + size if end < 0 else end
        if step > 0:
            start, end = min(max(start, 0), size), min(max(end, 0), size)
        else:
            start, end = min(max(start, 0), size - 1), min(max(end, -1), size - 1)
        index = torch.arange(start, end, step, dtype=torch.int64)
        x = torch.index_select(x, axis, index)
    return x


def _split(node, inputs, attrs):
    x = inputs[0]
    axis = attrs.get("axis", 0)
    if "split" in attrs:
        sizes = list(attrs["split"])
    elif len(inputs) > 1 and inputs[1] is not None:
        sizes = _ints(inputs[1])
    else:
        parts = attrs.get("num_outputs", len(node.output))
        chunk = math.ceil(x.shape[axis] / parts)
        sizes = [min(chunk, x.shape[axis] - chunk * i) for i in range(parts)]
    return list(torch.split(x, sizes, dim=axis))


def _pad(node, inputs, attrs):
    x = inputs[0]
    if "pads" in attrs:  # opset < 11
        pads, value = list(attrs["pads"]), attrs.get("value", 0.0)
    else:
        pads = _ints(inputs[1])
        value = float(inputs[2].item()) if len(inputs) > 2 and inputs[2] is not None else 0.0
    mode = attrs.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    dims = len(pads) // 2
    if len(inputs) > 3 and inputs[3] is not None:  # opset 18: axes
        raise UnsupportedOp(f"Pad with axes (node {node.name!r})")
    if mode == "constant":
        return F.pad(x, _pads(pads, dims), value=value)
    if any(pads[:2]) or any(pads[dims:dims + 2]):
        raise UnsupportedOp(f"Pad in {mode} mode on the batch or channel axis (node {node.name!r})")
    spatial = pads[2:dims] + pads[dims + 2:]
    return F.pad(x, _pads(spatial, dims - 2), mode={"reflect": "reflect", "edge": "replicate"}[mode])


def _resize(node, inputs, attrs):
    x = inputs[0]
    mode = attrs.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    sizes = inputs[3] if len(inputs) > 3 and inputs[3] is not None and inputs[3].numel() else None
    scales = inputs[2] if len(inputs) > 2 and inputs[2] is not None and inputs[2].numel() else None
    if node.op_type == "Upsample":
        scales = inputs[1]
    if sizes is not None:
        size = _ints(sizes)[2:]
    else:
        size = [int(math.floor(d * s)) for d, s in zip(x.shape[2:], scales.tolist()[2:])]
    transform = attrs.get("coordinate_transformation_mode", b"half_pixel")
    transform = transform.decode() if isinstance(transform, bytes) else transform
    if mode == "nearest":
        return F.interpolate(x, size=size, mode="nearest")
    return F.interpolate(x, size=size, mode="bilinear" if x.dim() == 4 else "linear",
                         align_corners=transform == "align_corners")


def _einsum(node, inputs, attrs):
    equation = attrs["equation"]
    return torch.einsum(equation.decode() if isinstance(equation, bytes) else equation, *inputs)


def _cast(node, inputs, attrs):
    return inputs[0].to(_TORCH_TYPES[attrs["to"]])


def _gather(node, inputs, attrs):
    x, index = inputs
    axis = attrs.get("axis", 0) % x.dim()
    index = torch.where(index < 0, index + x.shape[axis], index)
    return torch.index_select(x, axis, index.reshape(-1)).reshape(
        list(x.shape[:axis]) + list(index.shape) + list(x.shape[axis + 1:]))


def _constant_of_shape(node, inputs, attrs):
    value = attrs.get("value")
    fill = torch.from_numpy(numpy_helper.to_array(value).copy()) if value is not None else torch.zeros(1)
    return fill.reshape(-1)[0].expand(_ints(inputs[0])).clone()


def _constant(node, inputs, attrs):
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in attrs:
            value = attrs[key]
            return torch.from_numpy(numpy_helper.to_array(value).copy()) if key == "value" else torch.tensor(value)
    raise UnsupportedOp(f"Constant without a value (node {node.name!r})")


def _flatten(x, axis):
    axis = axis + x.dim() if axis < 0 else axis
    return x.reshape(int(np.prod(x.shape[:axis], dtype=np.int64)), int(np.prod(x.shape[axis:], dtype=np.int64)))


def _variadic(fn):
    def run(node, inputs, attrs):
        out = inputs[0]
        for other in inputs[1:]:
            out = fn(out, other)
        return out
    return run


def _unsqueeze(node, inputs, attrs):
    x = inputs[0]
    axes = sorted(a % (x.dim() + len(_axes(node, inputs, attrs))) for a in _axes(node, inputs, attrs))
    for axis in axes:
        x = x.unsqueeze(axis)
    return x


def _squeeze(node, inputs, attrs):
    x = inputs[0]
    axes = _axes(node, inputs, attrs)
    if axes is None:
        return x.squeeze()
    for axis in sorted((a % x.dim() for a in axes), reverse=True):
        x = x.squeeze(axis)
    return x


def _clip(node, inputs, attrs):
    low = attrs.get("min", None) if "min" in attrs else (inputs[1] if len(inputs) > 1 else None)
    high = attrs.get("max", None) if "max" in attrs else (inputs[2] if len(inputs) > 2 else None)
    x = inputs[0]
    if low is not None:
        x = torch.maximum(x, torch.as_tensor(low, dtype=x.dtype))
    if high is not None:
        x = torch.minimum(x, torch.as_tensor(high, dtype=x.dtype))
    return x


OPS = {
    "Add": lambda n, i, a: i[0] + i[1], "Sub": lambda n, i, a: i[0] - i[1], "Mul": lambda n, i, a: i[0] * i[1],
    "Div": lambda n, i, a: (torch.div(i[0], i[1], rounding_mode="trunc") if not i[0].is_floating_point()
                            else i[0] / i[1]),
    "Pow": lambda n, i, a: torch.pow(i[0], i[1]), "Sqrt": lambda n, i, a: torch.sqrt(i[0]),
    "Reciprocal": lambda n, i, a: torch.reciprocal(i[0]), "Exp": lambda n, i, a: torch.exp(i[0]),
    "Log": lambda n, i, a: torch.log(i[0]), "Neg": lambda n, i, a: -i[0], "Abs": lambda n, i, a: torch.abs(i[0]),
    "Erf": lambda n, i, a: torch.erf(i[0]), "Tanh": lambda n, i, a: torch.tanh(i[0]),
    "Sigmoid": lambda n, i, a: torch.sigmoid(i[0]), "Relu": lambda n, i, a: F.relu(i[0]),
    "LeakyRelu": lambda n, i, a: F.leaky_relu(i[0], a.get("alpha", 0.01)),
    "HardSigmoid": lambda n, i, a: torch.clamp(a.get("alpha", 0.2) * i[0] + a.get("beta", 0.5), 0, 1),
    "HardSwish": lambda n, i, a: F.hardswish(i[0]), "Softplus": lambda n, i, a: F.softplus(i[0]),
    "Mish": lambda n, i, a: F.mish(i[0]),
    "Gelu": lambda n, i, a: F.gelu(i[0], approximate="tanh" if a.get("approximate", b"none") in (b"tanh", "tanh")
                                   else "none"),
    "Clip": _clip, "Softmax": lambda n, i, a: F.softmax(i[0], a.get("axis", -1)),
    "Conv": _conv, "MaxPool": _pool("max"), "AveragePool": _pool("avg"),
    "GlobalAveragePool": lambda n, i, a: i[0].mean(dim=list(range(2, i[0].dim())), keepdim=True),
    "GlobalMaxPool": lambda n, i, a: i[0].amax(dim=list(range(2, i[0].dim())), keepdim=True),
    "BatchNormalization": _batch_norm, "LayerNormalization": _layer_norm, "GroupNormalization": _group_norm,
    "InstanceNormalization": lambda n, i, a: F.instance_norm(i[0], weight=i[1], bias=i[2], eps=a.get("epsilon", 1e-5)),
    "Gemm": _gemm, "MatMul": lambda n, i, a: torch.matmul(i[0], i[1]), "Einsum": _einsum,
    "Flatten": lambda n, i, a: _flatten(i[0], a.get("axis", 1)),
    "Reshape": _reshape, "Transpose": lambda n, i, a: i[0].permute(a.get("perm", list(range(i[0].dim()))[::-1])),
    "Concat": lambda n, i, a: torch.cat(i, dim=a["axis"]), "Split": _split, "Slice": _slice,
    "Gather": _gather, "Unsqueeze": _unsqueeze, "Squeeze": _squeeze,
    "Expand": lambda n, i, a: i[0].expand(torch.broadcast_shapes(i[0].shape, tuple(_ints(i[1])))),
    "Tile": lambda n, i, a: i[0].repeat(_ints(i[1])),
    "Where": lambda n, i, a: torch.where(i[0].bool(), i[1], i[2]),
    "Equal": lambda n, i, a: torch.eq(i[0], i[1]), "Less": lambda n, i, a: torch.lt(i[0], i[1]),
    "Greater": lambda n, i, a: torch.gt(i[0], i[1]), "Not": lambda n, i, a: torch.logical_not(i[0]),
    "Mod": lambda n, i, a: torch.fmod(i[0], i[1]) if a.get("fmod", 0) else torch.remainder(i[0], i[1]),
    "Cast": _cast, "Shape": lambda n, i, a: torch.tensor(list(i[0].shape)[a.get("start", 0):a.get("end", None)],
                                                       dtype=torch.int64),
    "ConstantOfShape": _constant_of_shape, "Constant": _constant,
    "Range": lambda n, i, a: torch.arange(i[0].item(), i[1].item(), i[2].item(), dtype=i[0].dtype),
    "Identity": lambda n, i, a: i[0], "Dropout": lambda n, i, a: i[0],
    "ReduceMean": _reduce(lambda x, axes, keep: x.mean(dim=axes, keepdim=keep)),
    "ReduceSum": _reduce(lambda x, axes, keep: x.sum(dim=axes, keepdim=keep)),
    "ReduceMax": _reduce(lambda x, axes, keep: x.amax(dim=axes, keepdim=keep)),
    "ReduceMin": _reduce(lambda x, axes, keep: x.amin(dim=axes, keepdim=keep)),
    "ReduceL2": _reduce(lambda x, axes, keep: torch.sqrt((x * x).sum(dim=axes, keepdim=keep))),
    "Max": _variadic(torch.maximum), "Min": _variadic(torch.minimum), "Sum": _variadic(torch.add),
    "Mean": lambda n, i, a: _variadic(torch.add)(n, i, a) / len(i),
    "Pad": _pad, "Resize": _resize, "Upsample": _resize,
}


class OnnxModule(nn.Module):
    """An ONNX graph as a torch module: forward(x) -> the graph's first output, or a dict with `outputs`."""

    def __init__(self, model: onnx.ModelProto, outputs=None):
        super().__init__()
        graph = model.graph
        unknown = sorted({node.op_type for node in graph.node} - set(OPS))
        if unknown:
            raise UnsupportedOp(f"ops without a torch rule: {', '.join(unknown)}")
        self.nodes = [(node, {a.name: helper.get_attribute_value(a) for a in node.attribute}) for node in graph.node]
        self.names = {}
        initialised = set()
        for index, tensor in enumerate(graph.initializer):
            key = f"w{index}"
            self.register_buffer(key, torch.from_numpy(numpy_helper.to_array(tensor).copy()))
            self.names[tensor.name] = key
            initialised.add(tensor.name)
        self.inputs = [i.name for i in graph.input if i.name not in initialised]
        self.outputs = list(outputs) if outputs else [o.name for o in graph.output]

    def forward(self, *args):
        env = {name: getattr(self, key) for name, key in self.names.items()}
        env.update(zip(self.inputs, args))
        wanted = set(self.outputs)
        for node, attrs in self.nodes:
            inputs = [env[name] if name else None for name in node.input]
            result = OPS[node.op_type](node, inputs, attrs)
            results = result if isinstance(result, (list, tuple)) else [result]
            for name, value in zip(node.output, results):
                if name:
                    env[name] = value
            if wanted.issubset(env):
                break
        missing = [name for name in self.outputs if name not in env]
        if missing:
            raise KeyError(f"the graph computes no tensor named {missing[0]!r}")
        if len(self.outputs) == 1:
            return env[self.outputs[0]]
        return {name: env[name] for name in self.outputs}


def load(path: str, outputs=None) -> OnnxModule:
    return OnnxModule(onnx.load(path), outputs).eval()
