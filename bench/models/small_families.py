"""Small versions of torchvision's classification families, for the family x method test of `npm test`
(test/unit/cam-families.test.ts): the same classes and blocks as the full models (torchvision 0.14's own
constructors), with fewer stages, narrower widths and small inputs, so that the whole table builds,
exports and explains in about a minute. Seeded weights; batch norms get random running statistics and
affine terms (so that folding them is tested); heads that torchvision starts at zero are drawn.

Two modes:
- `export OUT`: every family at opsets 13 and 17 (`OUT/<name>_<opset>.onnx`) and `OUT/export.json` with
  the target layer's ONNX tensor per export, the input and PyTorch's logits. Needs only Debian's
  python3-torch and python3-torchvision; the test runs it.
- `reference FOLDER`: pytorch-grad-cam itself (the library, fetched: github.com/jacobgil/pytorch-grad-cam,
  on PYTHONPATH with stub `ttach` and `tqdm` modules) on the same weights and inputs, every method at the
  family's usual target layer, for the highest and the lowest class, maps at layer resolution (the
  library's resize and min-max scaling replaced by the identity); written to FOLDER/families.json, which
  is committed: the library is not installed where the tests run.
Run: PYTHONPATH=/tmp/pgc /usr/bin/python3 bench/models/small_families.py reference test/fixtures/cam/families
[family ...] (named families are recomputed, the others kept).
"""
import base64
import json
import os
import sys
import warnings

import numpy as np
import torch
from torch import nn
from torchvision.models import (convnext, densenet, efficientnet, inception, maxvit, mnasnet, mobilenetv2,
                                mobilenetv3, regnet, resnet, shufflenetv2, squeezenet, swin_transformer, vgg,
                                vision_transformer)
from torchvision.models.googlenet import GoogLeNet

warnings.filterwarnings("ignore")
CLASSES = 10


def small_vgg():
    # VGG's own 7 x 7 adaptive pooling and three-layer classifier, narrower (the full one is 100 M weights)
    model = vgg.VGG(vgg.make_layers([16, "M", 32, "M", 64, 64, "M"], batch_norm=True), num_classes=CLASSES)
    model.classifier = nn.Sequential(nn.Linear(64 * 7 * 7, 64), nn.ReLU(True), nn.Dropout(), nn.Linear(64, 64),
                                     nn.ReLU(True), nn.Dropout(), nn.Linear(64, CLASSES))
    return model


def small_efficientnet(arch, width, depth):
    settings, last = efficientnet._efficientnet_conf(arch, width_mult=width, depth_mult=depth)
    return efficientnet.EfficientNet(settings, 0.2, num_classes=CLASSES, last_channel=last)


def small_efficientnet_v2():
    settings, last = efficientnet._efficientnet_conf("efficientnet_v2_s")
    for setting in settings:  # one block per stage, a quarter of the width: Fused-MBConv and MBConv stages kept
        setting.num_layers = 1
        setting.input_channels = max(8, setting.input_channels // 4)
        setting.out_channels = max(8, setting.out_channels // 4)
    return efficientnet.EfficientNet(settings, 0.2, num_classes=CLASSES, last_channel=256)


def small_mobilenet_v3():
    settings, last = mobilenetv3._mobilenet_v3_conf("mobilenet_v3_small", width_mult=0.5)
    return mobilenetv3.MobileNetV3(settings, last, num_classes=CLASSES)


class DistilledViT(nn.Module):
    """DeiT's distilled form on torchvision's ViT encoder (torchvision has no DeiT): a class and a
    distillation token before the patches, two heads averaged, and a non-square input (32 x 48, a 4 x 6
    patch grid). Its 26 tokens read as 1 + 5 x 5 from the shapes alone: the manifest's `layers.tokens`
    says 2 + 4 x 6."""

    def __init__(self, width=32):
        super().__init__()
        self.conv_proj = nn.Conv2d(3, width, 8, 8)
        self.class_token = nn.Parameter(torch.randn(1, 1, width) * 0.5)
        self.dist_token = nn.Parameter(torch.randn(1, 1, width) * 0.5)
        self.encoder = vision_transformer.Encoder(26, 2, 2, width, 64, 0.0, 0.0, nn.LayerNorm)
        self.head = nn.Linear(width, CLASSES)
        self.head_dist = nn.Linear(width, CLASSES)

    def forward(self, x):
        x = self.conv_proj(x).flatten(2).transpose(1, 2)
        n = x.shape[0]
        x = torch.cat([self.class_token.expand(n, -1, -1), self.dist_token.expand(n, -1, -1), x], dim=1)
        x = self.encoder(x)
        return (self.head(x[:, 0]) + self.head_dist(x[:, 1])) / 2


# name -> (constructor, input size (side or [height, width]), the usual target layer: pytorch-grad-cam's
# README and tutorials)
FAMILIES = {
    "resnet": (lambda: resnet.ResNet(resnet.BasicBlock, [1, 1, 1, 1], num_classes=CLASSES), 64, "layer4"),
    "resnext": (lambda: resnet.ResNet(resnet.Bottleneck, [1, 1, 1, 1], groups=8, width_per_group=4,
                                      num_classes=CLASSES), 64, "layer4"),
    # ResNet-50's bottleneck block; Wide-ResNet is the same block with twice the inner width
    "resnet_bottleneck": (lambda: resnet.ResNet(resnet.Bottleneck, [1, 1, 1, 1], num_classes=CLASSES), 64, "layer4"),
    "vgg_bn": (small_vgg, 56, "features.13"),
    # norm5's output is overwritten by torchvision's in-place ReLU, so the library's activations there are
    # not that module's (docs/BENCHMARKS.md); the last dense block is the layer before it
    "densenet": (lambda: densenet.DenseNet(growth_rate=8, block_config=(2, 2, 2, 2), num_init_features=16,
                                           num_classes=CLASSES), 64, "features.denseblock4"),
    "mobilenet_v2": (lambda: mobilenetv2.MobileNetV2(num_classes=CLASSES, width_mult=0.25), 64, "features.18"),
    "mobilenet_v3": (small_mobilenet_v3, 64, "features.12"),
    "efficientnet": (lambda: small_efficientnet("efficientnet_b0", 0.25, 0.34), 64, "features.8"),
    "efficientnet_v2": (small_efficientnet_v2, 64, "features.7"),
    "regnet": (lambda: regnet.RegNet(regnet.BlockParams.from_init_params(depth=4, w_0=16, w_a=8.0, w_m=2.0,
                                                                         group_width=8, se_ratio=0.25),
                                     num_classes=CLASSES), 64, "trunk_output"),
    "shufflenet_v2": (lambda: shufflenetv2.ShuffleNetV2([1, 1, 1], [8, 16, 32, 64, 128], num_classes=CLASSES),
                      64, "conv5"),
    "squeezenet": (lambda: squeezenet.SqueezeNet("1_1", num_classes=CLASSES), 64, "features.12"),
    "mnasnet": (lambda: mnasnet.MNASNet(0.25, num_classes=CLASSES), 64, "layers.16"),
    "googlenet": (lambda: GoogLeNet(num_classes=CLASSES, aux_logits=False, init_weights=True), 64,
                  "inception5b"),
    "inception_v3": (lambda: inception.Inception3(num_classes=CLASSES, aux_logits=False, init_weights=False), 139,
                     "Mixed_7c"),
    "convnext": (lambda: convnext.ConvNeXt([convnext.CNBlockConfig(16, 32, 1), convnext.CNBlockConfig(32, 64, 1),
                                            convnext.CNBlockConfig(64, None, 1)], num_classes=CLASSES), 64,
                 "features.5"),
    "vit": (lambda: vision_transformer.VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2,
                                                         hidden_dim=32, mlp_dim=64, num_classes=CLASSES), 32,
            "encoder.layers.encoder_layer_1.ln_1"),
    "swin": (lambda: swin_transformer.SwinTransformer(patch_size=[4, 4], embed_dim=16, depths=[1, 1],
                                                      num_heads=[1, 2], window_size=[2, 2],
                                                      stochastic_depth_prob=0.0, num_classes=CLASSES), 32,
             "features.3.0.norm1"),
    "maxvit": (lambda: maxvit.MaxVit(input_size=(64, 64), stem_channels=8, partition_size=4, block_channels=[16, 32],
                                     block_layers=[1, 1], head_dim=8, stochastic_depth_prob=0.0,
                                     num_classes=CLASSES), 64, "blocks.1"),
    "deit_distilled": (DistilledViT, (32, 48), "encoder.layers.encoder_layer_1.ln_1"),
}
TOKENS = {"vit", "swin", "deit_distilled"}
# What the manifest says about layers whose shapes read wrongly (docs/MANIFEST.md, `layers`)
LAYOUTS = {"deit_distilled": {"tokens": {"skip": 2, "grid": [4, 6]}}}


def sides(size):
    return (size, size) if isinstance(size, int) else size


def build(name):
    make, size, _ = FAMILIES[name]
    torch.manual_seed(0)
    model = make()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Linear) and not module.weight.any():
                module.weight.normal_(0, 0.5)
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    x = torch.rand(1, 3, *sides(size), generator=torch.Generator().manual_seed(1)) * 2 - 1
    return model.eval(), x


def encode(array) -> str:
    return base64.b64encode(np.ascontiguousarray(array, dtype="<f4").tobytes()).decode()


def onnx_tensor_of(graph, path):
    """The tensor a torch module's output became: the last node named under its scope. torch names a
    Sequential's child `/features/features.0/` and a ModuleList's `/blocks.1/`; both are tried."""
    parts = path.split(".")
    sequential = [".".join(parts[: i + 1]) if parts[i].isdigit() else parts[i] for i in range(len(parts))]
    listed = [part for i, part in enumerate(sequential) if i + 1 == len(parts) or not parts[i + 1].isdigit()]
    for scopes in (sequential, listed):
        prefix = "/" + "/".join(scopes) + "/"
        outputs = [node.output[0] for node in graph.node if node.name.startswith(prefix)]
        if outputs:
            return outputs[-1]
    raise ValueError(f"no ONNX node for module {path}")


def export(out):
    import onnx
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    cases = []
    for name, (_, size, layer) in FAMILIES.items():
        model, x = build(name)
        with torch.no_grad():
            logits = model(x)
        layers = {}
        for opset in (13, 17):
            path = os.path.join(out, f"{name}_{opset}.onnx")
            torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
            layers[str(opset)] = onnx_tensor_of(onnx.load(path).graph, layer)
        cases.append({"name": name, "size": sides(size), "module": layer, "layers": layers, "input": encode(x),
                      "logits": logits[0].tolist(), "layouts": LAYOUTS.get(name)})
        print(name, "exported", flush=True)
    with open(os.path.join(out, "export.json"), "w") as handle:
        json.dump({"cases": cases}, handle)


def reference(folder, *names):
    """The library's maps; with family names, only those are (re)computed and the others kept."""
    import pytorch_grad_cam as pgc
    import pytorch_grad_cam.base_cam as base_cam
    from pytorch_grad_cam.ablation_layer import AblationLayerVit
    from pytorch_grad_cam.utils import svd_on_activations
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    base_cam.scale_cam_image = lambda cam, target_size=None: cam  # layer resolution, no min-max scaling
    projections = []  # the raw first-component projections: their sign is arbitrary, both are kept

    def recording(projection):
        def wrapped(batch):
            result = projection(batch)
            projections.append(result)
            return result
        return wrapped

    for module in [base_cam, pgc.eigen_cam, pgc.eigen_grad_cam]:
        module.get_2d_projection = recording(svd_on_activations.get_2d_projection)

    def vit_tokens(tensor):  # the library's ViT reshape_transform: class token dropped, channels first
        n, t, c = tensor.shape
        side = int(round((t - 1) ** 0.5))
        return tensor[:, 1:, :].reshape(n, side, side, c).permute(0, 3, 1, 2)

    def deit_tokens(tensor):  # class and distillation tokens dropped, the 4 x 6 grid
        return tensor[:, 2:, :].reshape(tensor.shape[0], 4, 6, tensor.shape[2]).permute(0, 3, 1, 2)

    reshapes = {"vit": vit_tokens, "swin": lambda tensor: tensor.permute(0, 3, 1, 2), "deit_distilled": deit_tokens}
    methods = {"gradcam": pgc.GradCAM, "hirescam": pgc.HiResCAM, "gradcam++": pgc.GradCAMPlusPlus,
               "xgradcam": pgc.XGradCAM, "layercam": pgc.LayerCAM, "gradcam-elementwise": pgc.GradCAMElementWise,
               "eigengradcam": pgc.EigenGradCAM, "eigencam": pgc.EigenCAM, "scorecam": pgc.ScoreCAM,
               "ablationcam": pgc.AblationCAM}
    torch.set_num_threads(2)
    listing = os.path.join(folder, "families.json")
    kept = json.load(open(listing))["cases"] if names and os.path.exists(listing) else []
    cases = [case for case in kept if case["name"] not in names]
    for name, (_, size, path) in FAMILIES.items():
        if names and name not in names:
            continue
        model, x = build(name)
        with torch.no_grad():
            logits = model(x)
        targets = [int(logits.argmax()), int(logits.argmin())]
        layer = dict(model.named_modules())[path]
        reshape = reshapes.get(name)
        maps = {}
        for method, cls in methods.items():
            per_target = []
            for target in targets:
                projections.clear()
                # at token and channels-last layers the library ablates a channel with AblationLayerVit
                extra = {"ablation_layer": AblationLayerVit()} if method == "ablationcam" and name in TOKENS else {}
                with cls(model=model, target_layers=[layer], reshape_transform=reshape, **extra) as cam:
                    if method == "scorecam":
                        cam.batch_size = 64
                    if method == "ablationcam":
                        # The library's AblationLayer re-reads the minimum after each ablation of a batch,
                        # so the k-th copy is set to min - k x 1e7 and the map depends on the batch size;
                        # one ablation per batch is the method as documented (min - 1e7), as the app does
                        cam.batch_size = 1
                    result = cam(input_tensor=x, targets=[ClassifierOutputTarget(target)])[0]
                if method in ("eigencam", "eigengradcam"):
                    raw = projections[-1][0]
                    per_target.append([encode(np.maximum(raw, 0)), encode(np.maximum(-raw, 0))])
                else:
                    per_target.append([encode(result)])
            maps[method] = per_target
        finer = pgc.FinerCAM(model=model, target_layers=[layer], reshape_transform=reshape)
        maps["finercam"] = [[encode(finer(input_tensor=x, targets=None, target_idx=t)[0])] for t in targets]
        cases.append({"name": name, "module": path, "size": sides(size), "logits": logits[0].tolist(),
                      "targets": targets, "maps": maps})
        print(name, path, flush=True)
    order = list(FAMILIES)
    cases.sort(key=lambda case: order.index(case["name"]))
    os.makedirs(folder, exist_ok=True)
    with open(listing, "w") as handle:
        json.dump({"library": "jacobgil/pytorch-grad-cam", "cases": cases}, handle)


if __name__ == "__main__":
    {"export": export, "reference": reference}[sys.argv[1]](*sys.argv[2:])
