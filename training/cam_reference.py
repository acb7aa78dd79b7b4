"""The project's reference for the CAM family: maps computed with PyTorch autograd the way
jacobgil/pytorch-grad-cam defines them, for three small CNNs trained briefly on Fashion-MNIST and
exported to ONNX. The workstation's ONNX gradient graphs and CAM code are tested against these maps.

Architectures (each exercises a different part of the op list):
- plain: conv + dense head; overlapping max pooling, LeakyReLU, average pooling, a concatenated branch,
  dropout, two Gemm layers.
- residual: conv / batch-norm / ReLU blocks with identity and projection shortcuts (Add), a batch norm
  after an addition (kept as a BatchNormalization op), global average pooling.
- separable: MobileNet-style depthwise + pointwise convolutions, ReLU6 (Clip), HardSwish, a
  squeeze-and-excitation gate (HardSigmoid, broadcast Mul), global average pooling.

Maps are at layer resolution, before upsampling, after the final ReLU, not min-max scaled (scaling does
not change the correlation the tests use). Eigen-CAM's singular vector has no defined sign; here, as in
the workstation, its sign makes the projection correlate positively with the channel sum of the
activations. Ablation-CAM fills an ablated channel with 0 when the layer's minimum activation is 0, else
with that minimum - 1e7 (the library does so too, but lowers the fill further for every channel of a batch;
the reference keeps it fixed).
"""
import base64
import json
import os

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from .classifier import MEAN, STD
from .common import load_idx_dataset, seed_everything

METHODS = ["gradcam", "hirescam", "xgradcam", "gradcam++", "layercam", "scorecam", "ablationcam", "eigencam"]
SCORE_CAM_BATCH = 16
ABLATION_BATCH = 32


class Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(3, stride=2, padding=1)              # 28 -> 14, overlapping windows
        self.conv2 = nn.Conv2d(16, 24, 3, padding=1)
        self.act2 = nn.LeakyReLU(0.1)
        self.branch = nn.Conv2d(16, 8, 1)
        self.branch_act = nn.ReLU()
        self.pool2 = nn.AvgPool2d(2)                                  # 14 -> 7
        self.conv3 = nn.Conv2d(32, 32, 3, padding=1)
        self.relu3 = nn.ReLU()
        self.fc1 = nn.Linear(32 * 7 * 7, 64)
        self.drop = nn.Dropout(0.2)
        self.relu4 = nn.ReLU()
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(x)))
        x = torch.cat([self.act2(self.conv2(x)), self.branch_act(self.branch(x))], dim=1)
        x = self.relu3(self.conv3(self.pool2(x)))
        return self.fc2(self.relu4(self.drop(self.fc1(torch.flatten(x, 1)))))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), nn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else nn.Identity())
        self.relu2 = nn.ReLU()

    def forward(self, x):
        y = self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x)))))
        return self.relu2(y + self.shortcut(x))


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.block1 = Block(16, 16, 1)
        self.block2 = Block(16, 32, 2)                                # 28 -> 14
        self.block3 = Block(32, 48, 2)                                # 14 -> 7
        self.post_bn = nn.BatchNorm2d(48)                             # after a ReLU: stays a BatchNormalization op
        self.fc = nn.Linear(48, 10)

    def forward(self, x):
        x = self.post_bn(self.block3(self.block2(self.block1(self.stem(x)))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class Separable(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        self.dw1 = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16, bias=False), nn.BatchNorm2d(16), nn.ReLU6())
        self.pw1 = nn.Sequential(nn.Conv2d(16, 32, 1, bias=False), nn.BatchNorm2d(32), nn.Hardswish())
        self.dw2 = nn.Sequential(nn.Conv2d(32, 32, 3, stride=2, padding=1, groups=32, bias=False), nn.BatchNorm2d(32),
                                 nn.ReLU6())
        self.squeeze = nn.Conv2d(32, 8, 1)
        self.excite = nn.Conv2d(8, 32, 1)
        self.pw2 = nn.Sequential(nn.Conv2d(32, 48, 1, bias=False), nn.BatchNorm2d(48), nn.Hardswish())
        self.fc = nn.Linear(48, 10)

    def forward(self, x):
        x = self.dw2(self.pw1(self.dw1(self.stem(x))))                # 28 -> 14 -> 7
        gate = F.hardsigmoid(self.excite(F.relu(self.squeeze(F.adaptive_avg_pool2d(x, 1)))))
        x = self.pw2(x * gate)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


# name -> (constructor, ONNX opset, target layers as module paths)
ARCHITECTURES = {
    "plain": (Plain, 13, ["relu1", "conv2", "relu3"]),
    "residual": (Residual, 13, ["block2.relu2", "block3.relu2", "post_bn"]),
    "separable": (Separable, 14, ["pw1.2", "dw2.2", "pw2.2"]),
}


def normalise(images: torch.Tensor) -> torch.Tensor:
    return (images - MEAN) / STD


def train_briefly(model: nn.Module, split, steps: int, seed: int) -> float:
    generator = torch.Generator().manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), 2e-3)
    model.train()
    for _ in range(steps):
        index = torch.randint(0, len(split.labels), (64,), generator=generator)
        loss = F.cross_entropy(model(normalise(split.at(index))), split.labels[index])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    return float(loss)


def module_at(model: nn.Module, path: str) -> nn.Module:
    return dict(model.named_modules())[path]


def onnx_tensor_of(onnx_model, model: nn.Module, path: str) -> str:
    """The ONNX tensor a module's output became: torch names nodes after the module scope, e.g. module
    block2.relu2 -> node "/block2/relu2/Relu", Sequential child pw1.2 -> "/pw1/pw1.2/HardSwish"."""
    parts = path.split(".")
    scopes = [".".join(parts[: i + 1]) if parts[i].isdigit() else parts[i] for i in range(len(parts))]
    prefix = "/" + "/".join(scopes) + "/"
    outputs = [node.output[0] for node in onnx_model.graph.node if node.name.startswith(prefix)]
    if not outputs:
        raise ValueError(f"no ONNX node for module {path} (looked for {prefix})")
    return outputs[-1]


def export(model: nn.Module, path: str, opset: int) -> None:
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path, opset_version=opset, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                      do_constant_folding=True)


def eigen_projection(activations: np.ndarray) -> np.ndarray:
    channels = activations.shape[0]
    rows = activations.reshape(channels, -1).T
    rows = rows - rows.mean(axis=0)
    _, _, vt = np.linalg.svd(rows, full_matrices=False)
    projection = rows @ vt[0]
    if projection @ activations.reshape(channels, -1).sum(axis=0) < 0:
        projection = -projection
    return projection.reshape(activations.shape[1:])


def cam_maps(model: nn.Module, layer: nn.Module, x: torch.Tensor, targets):
    """All methods' maps for a batch; targets: list of class indices or None for the prediction."""
    saved = {}

    def keep(_, __, output):
        saved["activations"] = output
        output.register_hook(lambda grad: saved.__setitem__("gradients", grad))

    handle = layer.register_forward_hook(keep)
    x = x.clone().requires_grad_(False)
    logits = model(x)
    handle.remove()
    chosen = [int(logits[i].argmax()) if t is None else t for i, t in enumerate(targets)]
    model.zero_grad()
    logits[torch.arange(len(chosen)), torch.tensor(chosen)].sum().backward()
    a = saved["activations"].detach().numpy().astype(np.float64)
    g = saved["gradients"].detach().numpy().astype(np.float64)

    def weighted(weights):
        return np.maximum((weights[:, :, None, None] * a).sum(axis=1), 0)

    maps = {"gradcam": weighted(g.mean(axis=(2, 3))),
            "hirescam": np.maximum((g * a).sum(axis=1), 0),
            "layercam": np.maximum((np.maximum(g, 0) * a).sum(axis=1), 0)}
    sums = a.sum(axis=(2, 3))[:, :, None, None]
    maps["xgradcam"] = weighted((g * a / (sums + 1e-7)).sum(axis=(2, 3)))
    g2, g3 = g ** 2, g ** 3
    aij = np.where(g != 0, g2 / (2 * g2 + sums * g3 + 1e-6), 0)
    maps["gradcam++"] = weighted((np.maximum(g, 0) * aij).sum(axis=(2, 3)))
    maps["eigencam"] = np.maximum(np.stack([eigen_projection(item) for item in a]), 0)

    with torch.no_grad():
        activations = saved["activations"].detach()
        upsampled = F.interpolate(activations, size=x.shape[-2:], mode="bilinear", align_corners=True)
        flat = upsampled.flatten(2)
        low, high = flat.min(-1)[0][:, :, None, None], flat.max(-1)[0][:, :, None, None]
        upsampled = (upsampled - low) / (high - low + 1e-8)
        score_weights = []
        for i, target in enumerate(chosen):
            masked = x[i][None] * upsampled[i][:, None]                  # [K, C, H, W]
            scores = torch.cat([model(masked[s:s + SCORE_CAM_BATCH])[:, target]
                                for s in range(0, len(masked), SCORE_CAM_BATCH)])
            score_weights.append(torch.softmax(scores, 0).numpy())
        maps["scorecam"] = weighted(np.stack(score_weights).astype(np.float64))

        ablation_weights = []
        for i, target in enumerate(chosen):
            own = activations[i]
            fill = 0.0 if float(own.min()) == 0 else float(own.min()) - 1e7
            original = float(logits[i, target])
            scores = []
            for start in range(0, own.shape[0], ABLATION_BATCH):
                channels = list(range(start, min(start + ABLATION_BATCH, own.shape[0])))
                replaced = own[None].repeat(len(channels), 1, 1, 1)
                for row, channel in enumerate(channels):
                    replaced[row, channel] = fill
                hook = layer.register_forward_hook(lambda *_: replaced)
                scores.append(model(x[i][None].repeat(len(channels), 1, 1, 1))[:, target])
                hook.remove()
            ablation_weights.append((original - torch.cat(scores).numpy()) / original)
        maps["ablationcam"] = weighted(np.stack(ablation_weights).astype(np.float64))
    return maps, logits.detach().numpy(), chosen


def encode(array: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode()


def build(out: str, data: str, seed: int = 0, threads: int = 2, steps: int = 300, images: int = 4, fixed_class: int = 3) -> dict:
    import onnx

    os.makedirs(out, exist_ok=True)
    dataset = load_idx_dataset(data)
    test_images = dataset.test.at(slice(0, images))
    x = normalise(test_images)
    reference = {"format": "xaiws.cam-reference/1", "methods": METHODS, "mean": MEAN, "std": STD,
                 "input": encode(x.numpy()), "inputShape": list(x.shape), "models": []}
    for name, (constructor, opset, layers) in ARCHITECTURES.items():
        seed_everything(seed, threads)
        model = constructor()
        loss = train_briefly(model, dataset.train, steps, seed)
        path = os.path.join(out, f"{name}.onnx")
        export(model, path, opset)
        graph = onnx.load(path)
        with torch.no_grad():
            accuracy = float((model(normalise(dataset.test.at(slice(0, 1000)))).argmax(1) == dataset.test.labels[:1000])
                             .float().mean())
        entry = {"name": name, "file": f"{name}.onnx", "opset": opset, "trainingLoss": round(loss, 4),
                 "accuracy1000": round(accuracy, 4), "ops": sorted({n.op_type for n in graph.graph.node}),
                 "layers": []}
        for path_in_model in layers:
            layer = module_at(model, path_in_model)
            cases = []
            for target in (None, fixed_class):
                maps, logits, chosen = cam_maps(model, layer, x, [target] * len(x))
                cases.append({"target": "pred" if target is None else target, "chosen": chosen,
                              "logits": encode(logits), "maps": {m: encode(maps[m]) for m in METHODS}})
            shape = list(maps["gradcam"].shape[1:])
            entry["layers"].append({"module": path_in_model, "tensor": onnx_tensor_of(graph, model, path_in_model),
                                    "shape": shape, "cases": cases})
        reference["models"].append(entry)
        print(f"{name}: loss {loss:.3f}, accuracy on 1000 test images {accuracy:.3f}, ops {entry['ops']}", flush=True)
    with open(os.path.join(out, "reference.json"), "w") as handle:
        json.dump(reference, handle, indent=1)
    with open(os.path.join(out, "ops.json"), "w") as handle:
        json.dump(op_fixtures(out), handle, indent=1)
    return reference


# Single-op (or few-op) modules for the op-by-op gradient check against autograd; each output is
# flattened to [N, D] so that any entry can serve as the "class score".
class _Op(nn.Module):
    def __init__(self, fn, **modules):
        super().__init__()
        self.fn = fn
        for name, module in modules.items():
            setattr(self, name, module)

    def forward(self, x):
        return torch.flatten(self.fn(self, x), 1)


def _op_cases():
    torch.manual_seed(0)
    return {
        "conv_transpose": ([3, 4, 3], _Op(lambda m, x: m.up(x), up=nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1,
                                                                                       output_padding=1)), 13),
        "conv_grouped_dilated": ([4, 7, 6], _Op(lambda m, x: m.conv(x), conv=nn.Conv2d(4, 4, 3, padding=2, dilation=2,
                                                                                        groups=2)), 13),
        "matmul": ([3, 4], _Op(lambda m, x: torch.matmul(x, m.w), w=nn.Parameter(torch.randn(4, 5))), 13),
        "sub_div_tanh": ([2, 3, 3], _Op(lambda m, x: (x - torch.tanh(x)) / (1 + x * x)), 13),
        "sigmoid_mul": ([2, 3, 3], _Op(lambda m, x: torch.sigmoid(x) * x)),
        "softmax": ([6], _Op(lambda m, x: torch.softmax(m.fc(x), dim=-1), fc=nn.Linear(6, 4)), 13),
        "transpose_reshape": ([2, 3, 4], _Op(lambda m, x: x.permute(0, 2, 3, 1).reshape(x.shape[0], -1) @ m.w,
                                             w=nn.Parameter(torch.randn(24, 5))), 13),
        "maxpool_ceil": ([2, 7, 7], _Op(lambda m, x: F.max_pool2d(x, 3, 2, ceil_mode=True)), 13),
        "avgpool_padded": ([2, 6, 5], _Op(lambda m, x: F.avg_pool2d(x, 3, 2, padding=1, count_include_pad=False)), 13),
        "batchnorm1d": ([6], _Op(lambda m, x: m.bn(m.fc(x)), fc=nn.Linear(6, 5), bn=nn.BatchNorm1d(5)), 13),
        "squeeze_unsqueeze_concat": ([2, 3, 3], _Op(lambda m, x: torch.cat([x.unsqueeze(1).squeeze(1), F.relu6(x)], 1))),
        "hardswish_hardsigmoid": ([2, 3, 3], _Op(lambda m, x: F.hardswish(x * 3) + F.hardsigmoid(x * 3)), 14),
        "leaky_gap": ([3, 4, 4], _Op(lambda m, x: F.adaptive_avg_pool2d(F.leaky_relu(x, 0.2), 1))),
    }


def op_fixtures(out: str) -> dict:
    """Export each op module, and the gradient of two output entries w.r.t. the input by autograd."""
    folder = os.path.join(out, "ops")
    os.makedirs(folder, exist_ok=True)
    cases = []
    for name, spec in _op_cases().items():
        shape, module, opset = spec if len(spec) == 3 else (*spec, 13)
        module.eval()
        if isinstance(getattr(module, "bn", None), nn.BatchNorm1d):
            with torch.no_grad():
                module.bn.running_mean.uniform_(-0.5, 0.5)
                module.bn.running_var.uniform_(0.5, 2.0)
                module.bn.weight.uniform_(0.5, 1.5)
        generator = torch.Generator().manual_seed(len(name))
        x = (torch.rand([1, *shape], generator=generator) * 4 - 2)
        path = os.path.join(folder, f"{name}.onnx")
        torch.onnx.export(module, x, path, opset_version=opset, input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "N"}, "y": {0: "N"}}, do_constant_folding=True)
        outputs = module(x)
        width = outputs.shape[1]
        targets = [0, width - 1]
        gradients = []
        for target in targets:
            xg = x.clone().requires_grad_(True)
            module(xg)[0, target].backward()
            gradients.append(encode(xg.grad.numpy()))
        cases.append({"name": name, "file": f"ops/{name}.onnx", "shape": shape, "input": encode(x.numpy()),
                      "targets": targets, "gradients": gradients})
    return {"format": "xaiws.op-gradients/1", "cases": cases}
