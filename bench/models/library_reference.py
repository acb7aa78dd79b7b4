"""The reference for the CAM methods beyond the first eight and for the pixel attributions, written to
test/fixtures/cam/library/ for test/unit/cam-library.test.ts.

Two small colour networks with seeded random weights, 3 x 32 x 32 input, 10 classes, exported at opset 17:
- cnn: conv / batch norm (random running statistics) / ReLU blocks with residual additions, global
  average pooling, a linear head;
- vit: torchvision's VisionTransformer (8-px patches, 2 blocks, 2 heads, width 32), a token layer.
Inputs: two photographs of skimage.data, resized to 32 x 32 and normalised with ImageNet's statistics.

CAM maps come from pytorch-grad-cam itself (the library, fetched: github.com/jacobgil/pytorch-grad-cam,
with qubvel/ttach for aug_smooth, both on PYTHONPATH), run on the same weights, at layer resolution
(its scale_cam_image keeps the min-max scaling, which aug_smooth averages, but resizes nothing). The
first principal component has no defined sign: where the library projects (Eigen-CAM, EigenGrad-CAM,
eigen_smooth), its raw projection is recorded and both ReLU(P) and ReLU(-P) are kept.

FullGrad is the library's (at input resolution, its own resizing). The other pixel attributions have no library here (Captum is not packaged): they are computed with autograd
from their definitions (../shared/METHODS.md), independently of the app's code; SmoothGrad's noise and
RISE's masks are drawn here and stored, and the test hands the same ones to the app.
Run: PYTHONPATH=/tmp/pgc /usr/bin/python3 bench/models/library_reference.py test/fixtures/cam/library

With --random it writes random.json instead: the library's RandomCAM at each layer, with the uniform
channel weights it drew (recorded from its get_cam_weights), so the test can hand the app the same draws
(the app's own Random-CAM draws from a fixed seed, the same weights for every image).
"""
import base64
import json
import os
import sys
import warnings

import numpy as np
import onnx
import torch
from torch import nn
import torch.nn.functional as F
import torchvision
from skimage import data as photos
from skimage.transform import resize

import pytorch_grad_cam as pgc
import pytorch_grad_cam.base_cam as base_cam
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from pytorch_grad_cam.utils import svd_on_activations

warnings.filterwarnings("ignore")
_scale = base_cam.scale_cam_image
base_cam.scale_cam_image = lambda cam, target_size=None: _scale(cam, None)  # min-max, layer resolution

# Every module that imported get_2d_projection gets a recording wrapper: the raw projection's sign.
projections = []


def recording(projection):
    def wrapped(batch):
        result = projection(batch)
        projections.append(result)
        return result
    return wrapped


for module in [base_cam, pgc.eigen_cam, pgc.eigen_grad_cam, pgc.hirescam, pgc.layer_cam, pgc.grad_cam_elementwise]:
    module.get_2d_projection = recording(svd_on_activations.get_2d_projection)

SIZE = 32
CLASSES = 10


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        self.relu2 = nn.ReLU()

    def forward(self, x):
        return self.relu2(self.bn2(self.conv2(self.relu1(self.bn1(self.conv1(x))))) + self.short(x))


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.layer1 = Block(16, 24, 2)   # 16 x 16
        self.layer2 = Block(24, 32, 2)   # 8 x 8
        self.layer3 = Block(32, 48, 2)   # 4 x 4
        self.fc = nn.Linear(48, CLASSES)

    def forward(self, x):
        x = self.layer3(self.layer2(self.layer1(self.stem(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def vit():
    return torchvision.models.VisionTransformer(image_size=SIZE, patch_size=8, num_layers=2, num_heads=2,
                                                hidden_dim=32, mlp_dim=64, num_classes=CLASSES)


def vit_tokens(tensor):
    n, t, c = tensor.shape
    side = int(round((t - 1) ** 0.5))
    return tensor[:, 1:, :].reshape(n, side, side, c).permute(0, 3, 1, 2)


# name -> (constructor, target layers (module path), reshape transform)
MODELS = {
    "cnn": (Cnn, ["layer2", "layer3"], None),
    "vit": (vit, ["encoder.layers.encoder_layer_1.ln_1"], vit_tokens),
}

# app name -> (library class, keyword arguments of the call)
LAYER_METHODS = {
    "gradcam": (pgc.GradCAM, {}),
    "hirescam": (pgc.HiResCAM, {}),
    "xgradcam": (pgc.XGradCAM, {}),
    "gradcam++": (pgc.GradCAMPlusPlus, {}),
    "layercam": (pgc.LayerCAM, {}),
    "scorecam": (pgc.ScoreCAM, {}),
    "eigencam": (pgc.EigenCAM, {}),
    "gradcam-elementwise": (pgc.GradCAMElementWise, {}),
    "eigengradcam": (pgc.EigenGradCAM, {}),
    "kpcacam": (pgc.KPCA_CAM, {}),
    "fem": (pgc.FEM, {}),
}
EIGEN_SMOOTH = ["gradcam", "hirescam", "xgradcam", "gradcam++", "layercam", "gradcam-elementwise", "scorecam"]
AUG_SMOOTH = ["gradcam", "layercam", "gradcam-elementwise", "eigencam", "fem"]
PROJECTING = {"eigencam", "eigengradcam"}

IG_STEPS = 32
NOISE_SAMPLES = 8
RISE_MASKS = 64


def encode(array) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode()


def onnx_tensor_of(graph, path):
    parts = path.split(".")
    scopes = [".".join(parts[: i + 1]) if parts[i].isdigit() else parts[i] for i in range(len(parts))]
    prefix = "/" + "/".join(scopes) + "/"
    outputs = [node.output[0] for node in graph.node if node.name.startswith(prefix)]
    if not outputs:
        raise ValueError(f"no ONNX node for module {path} (looked for {prefix})")
    return outputs[-1]


def inputs():
    mean = np.array([0.485, 0.456, 0.406])[:, None, None]
    std = np.array([0.229, 0.224, 0.225])[:, None, None]
    images = [resize(photo, (SIZE, SIZE), anti_aliasing=True).transpose(2, 0, 1) for photo in
              (photos.chelsea(), photos.coffee())]
    return torch.tensor((np.stack(images) - mean) / std, dtype=torch.float32)


def build(constructor, seed):
    torch.manual_seed(seed)
    model = constructor()
    for module in model.modules():
        if isinstance(module, nn.Linear) and not module.weight.any():  # torchvision's ViT head starts at zero
            nn.init.normal_(module.weight, std=0.5)
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def signed(map_batch):
    """Library maps with a sign-free projection: the recorded raw projection, both ways, min-max scaled."""
    raw = projections[-1]
    return [_scale(np.maximum(raw, 0)), _scale(np.maximum(-raw, 0))]


def cam_case(model, layer, reshape, x, targets, name, smoothing):
    method, kwargs = LAYER_METHODS[name]
    projections.clear()
    cam = method(model=model, target_layers=[layer], reshape_transform=reshape, **kwargs)
    if name == "scorecam":
        cam.batch_size = 16
    wanted = None if targets is None else [ClassifierOutputTarget(t) for t in targets]
    result = cam(input_tensor=x, targets=wanted, aug_smooth=smoothing == "aug", eigen_smooth=smoothing == "eigen")
    if (name in PROJECTING or smoothing == "eigen") and smoothing != "aug":
        return [encode(m) for m in signed(result)]
    if smoothing == "aug" and name in PROJECTING:
        return None  # the mean of six sign-free projections: no one sign to record
    return [encode(result)]


def finer_case(model, layer, reshape, x, targets):
    cam = pgc.FinerCAM(model=model, target_layers=[layer], reshape_transform=reshape)
    maps = []
    for i in range(len(x)):
        maps.append(cam(input_tensor=x[i:i + 1], targets=None, target_idx=None if targets is None else targets[i])[0])
    return [encode(np.stack(maps))]


def input_gradients(model, x, target, guided=False):
    handles = []
    if guided:
        for module in model.modules():
            if isinstance(module, nn.ReLU):
                handles.append(module.register_full_backward_hook(lambda m, gin, gout: (gin[0].clamp(min=0),)))
    x = x.clone().requires_grad_(True)
    scores = model(x)
    scores[:, target].sum().backward()
    for h in handles:
        h.remove()
    return x.grad.detach().numpy().astype(np.float64)


def pixel_cases(model, x, target, layer, reshape, rng):
    """Per image: the pixel attributions of one class, from their definitions."""
    out = {}
    g = input_gradients(model, x, target)
    out["saliency"] = np.abs(g).max(axis=1)
    out["inputxgradient"] = np.maximum((g * x.numpy()).sum(axis=1), 0)
    alphas = torch.arange(1, IG_STEPS + 1, dtype=torch.float32) / IG_STEPS
    total = sum(input_gradients(model, x * a, target) for a in alphas)
    ig = total / IG_STEPS * x.numpy()
    out["integratedgradients"] = np.maximum(ig.sum(axis=1), 0)
    with torch.no_grad():
        gap = ig.sum() - float(model(x)[0, target] - model(torch.zeros_like(x))[0, target])
    sigma = 0.15 * float(x.max() - x.min())
    noise = rng.normal(0, sigma, size=(NOISE_SAMPLES, *x.shape[1:])).astype(np.float32)
    grads = [np.abs(input_gradients(model, x + torch.tensor(n)[None], target)) for n in noise]
    out["smoothgrad"] = np.mean(grads, axis=0).max(axis=1)
    guided = input_gradients(model, x, target, guided=True)
    out["guidedbackprop"] = np.abs(guided).max(axis=1)
    gradcam = pgc.GradCAM(model=model, target_layers=[layer], reshape_transform=reshape)
    base_cam.scale_cam_image = lambda cam, target_size=None: cam
    cam = gradcam(input_tensor=x, targets=[ClassifierOutputTarget(target)])
    base_cam.scale_cam_image = lambda cam, target_size=None: _scale(cam, None)
    up = F.interpolate(torch.tensor(cam)[:, None], size=(SIZE, SIZE), mode="nearest").numpy()[:, 0]
    out["guidedgradcam"] = (np.abs(guided) * up[:, None]).max(axis=1)
    out["occlusion"] = occlusion(model, x, target)
    fullgrad = pgc.FullGrad(model=model, target_layers=[])
    out["fullgrad"] = fullgrad(input_tensor=x, targets=[ClassifierOutputTarget(target)])
    if isinstance(model, torchvision.models.VisionTransformer):
        out.update(rollouts(model, x, target))
    masks = ((rng.random((RISE_MASKS, SIZE, SIZE)) > 0.5) * rng.random((RISE_MASKS, 1, 1))).astype(np.float32)
    with torch.no_grad():
        probabilities = torch.softmax(model(x * torch.tensor(masks)[:, None]), dim=1)[:, target].numpy()
    out["rise"] = (probabilities[:, None, None] * masks).sum(axis=0)[None] / (RISE_MASKS * 0.5)
    return out, noise, masks, gap


def rollouts(model, x, target):
    """Attention rollout and gradient rollout of a torchvision ViT, with its attention computed explicitly
    (the library has neither): per block A = mean_h P + I, rows normalised, R = A R; or A = mean_h
    ReLU(dP * P), R = R + A R; the class token's row over the patches."""
    probabilities = []

    def explicit(mha):
        def forward(query, key, value, need_weights=False):
            n, t, c = query.shape
            heads, d = mha.num_heads, c // mha.num_heads
            q, k, v = F.linear(query, mha.in_proj_weight, mha.in_proj_bias).chunk(3, dim=-1)
            q, k, v = (z.reshape(n, t, heads, d).transpose(1, 2) for z in (q, k, v))
            attention = torch.softmax(q @ k.transpose(-2, -1) / d ** 0.5, dim=-1)
            attention.retain_grad()
            probabilities.append(attention)
            out = (attention @ v).transpose(1, 2).reshape(n, t, c)
            return mha.out_proj(out), None
        return forward

    blocks = [layer.self_attention for layer in model.encoder.layers]
    saved = [block.forward for block in blocks]
    for block in blocks:
        block.forward = explicit(block)
    try:
        model(x)[0, target].backward()
    finally:
        for block, forward in zip(blocks, saved):
            block.forward = forward
    tokens = probabilities[0].shape[-1]
    plain, weighted = np.eye(tokens), np.eye(tokens)
    for attention in probabilities:
        p = attention[0].detach().numpy().astype(np.float64)
        g = attention.grad[0].numpy().astype(np.float64)
        a = p.mean(axis=0) + np.eye(tokens)
        plain = (a / a.sum(axis=1, keepdims=True)) @ plain
        weighted = weighted + np.maximum(g * p, 0).mean(axis=0) @ weighted
    side = int(round((tokens - 1) ** 0.5))
    return {"attentionrollout": plain[0, 1:].reshape(1, side, side),
            "gradientrollout": weighted[0, 1:].reshape(1, side, side)}


def occlusion(model, x, target):
    """Captum's Occlusion with windows of 2 s pixels every s pixels (s = size / 28), one flush with the end."""
    stride = max(1, round(SIZE / 28))
    window = 2 * stride
    starts = list(range(0, SIZE - window + 1, stride))
    if starts[-1] + window < SIZE:
        starts.append(SIZE - window)
    total = np.zeros((SIZE, SIZE))
    count = np.zeros((SIZE, SIZE))
    with torch.no_grad():
        original = float(model(x)[0, target])
        for y in starts:
            for z in starts:
                occluded = x.clone()
                occluded[:, :, y:y + window, z:z + window] = 0
                total[y:y + window, z:z + window] += original - float(model(occluded)[0, target])
                count[y:y + window, z:z + window] += 1
    return np.maximum(total / count, 0)[None]


def main(out):
    os.makedirs(out, exist_ok=True)
    x = inputs()
    reference = {"input": encode(x.numpy()), "inputShape": list(x.shape), "models": []}
    rng = np.random.default_rng(7)
    for seed, (name, (constructor, layers, reshape)) in enumerate(MODELS.items()):
        model = build(constructor, seed)
        path = os.path.join(out, f"{name}.onnx")
        torch.onnx.export(model, x[:1], path, opset_version=17, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, do_constant_folding=True)
        graph = onnx.load(path).graph
        with torch.no_grad():
            logits = model(x).numpy()
        entry = {"name": name, "file": f"{name}.onnx", "logits": encode(logits), "layers": [], "pixels": []}
        modules = dict(model.named_modules())
        for path_name in layers:
            layer = modules[path_name]
            cases = []
            for targets in (None, [3, 3]):
                maps = {}
                for method in LAYER_METHODS:
                    for smoothing in ["none"] + (["eigen"] if method in EIGEN_SMOOTH else []) + \
                            (["aug"] if method in AUG_SMOOTH else []):
                        recorded = cam_case(model, layer, reshape, x, targets, method, smoothing)
                        if recorded:
                            maps[method if smoothing == "none" else f"{method}:{smoothing}"] = recorded
                maps["finercam"] = finer_case(model, layer, reshape, x, targets)
                cases.append({"target": "pred" if targets is None else targets[0],
                              "chosen": [int(v) for v in (logits.argmax(axis=1) if targets is None else targets)],
                              "maps": maps})
            entry["layers"].append({"module": path_name, "tensor": onnx_tensor_of(graph, path_name), "cases": cases})
        layer = modules[layers[-1]]
        for i in range(len(x)):
            target = int(logits[i].argmax())
            maps, noise, masks, gap = pixel_cases(model, x[i:i + 1], target, layer, reshape, rng)
            entry["pixels"].append({"image": i, "target": target, "layer": entry["layers"][-1]["tensor"],
                                    "noise": encode(noise), "masks": encode(masks), "completenessGap": gap,
                                    "maps": {k: encode(v) for k, v in maps.items()}})
        reference["models"].append(entry)
        print(name, "done", file=sys.stderr)
    with open(os.path.join(out, "library.json"), "w") as f:
        json.dump(reference, f)


def random_cams(out):
    drawn = []
    own = pgc.RandomCAM.get_cam_weights

    def recorded(self, *args, **kwargs):
        weights = own(self, *args, **kwargs)
        drawn.append(weights)
        return weights

    pgc.RandomCAM.get_cam_weights = recorded
    np.random.seed(3)  # a seed where no map is all zero (a negative weighted sum everywhere)
    x = inputs()
    os.makedirs(out, exist_ok=True)
    reference = {"models": []}
    for seed, (name, (constructor, layers, reshape)) in enumerate(MODELS.items()):
        model = build(constructor, seed)
        with torch.no_grad():
            logits = model(x).numpy()
        modules = dict(model.named_modules())
        cases = []
        for path_name in layers:
            drawn.clear()
            cam = pgc.RandomCAM(model=model, target_layers=[modules[path_name]], reshape_transform=reshape)
            result = cam(input_tensor=x, targets=None)
            cases.append({"module": path_name, "weights": encode(drawn[0]), "weightShape": list(drawn[0].shape),
                          "map": encode(result)})
        reference["models"].append({"name": name, "logits": encode(logits), "layers": cases})
    with open(os.path.join(out, "random.json"), "w") as f:
        json.dump(reference, f)


if __name__ == "__main__":
    if "--random" in sys.argv:
        random_cams(sys.argv[1])
    else:
        main(sys.argv[1])
