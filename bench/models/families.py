"""torchvision's classification families with seeded random weights, exported at opsets 13 and 17 at a
small input size, with PyTorch autograd's input gradient of two class scores per model: the check that
the gradient builder's graph of every family is the true gradient (bench/families.ts compares).
Run: /usr/bin/python3 bench/models/families.py OUT [family ...] (named families replace theirs in OUT)"""
import json
import os
import sys
import warnings

import numpy as np
import torch
import torchvision.models as tvm
from torchvision.models.vision_transformer import VisionTransformer

warnings.filterwarnings("ignore")

FAMILIES = {
    "resnet18": (lambda: tvm.resnet18(), 64),
    "resnext50_32x4d": (lambda: tvm.resnext50_32x4d(), 64),
    "wide_resnet50_2": (lambda: tvm.wide_resnet50_2(), 64),
    "vgg11_bn": (lambda: tvm.vgg11_bn(), 224),
    "densenet121": (lambda: tvm.densenet121(), 64),
    "mobilenet_v2": (lambda: tvm.mobilenet_v2(), 64),
    "mobilenet_v3_small": (lambda: tvm.mobilenet_v3_small(), 64),
    "efficientnet_b0": (lambda: tvm.efficientnet_b0(), 64),
    "efficientnet_v2_s": (lambda: tvm.efficientnet_v2_s(), 64),
    "regnet_y_400mf": (lambda: tvm.regnet_y_400mf(), 64),
    "shufflenet_v2_x0_5": (lambda: tvm.shufflenet_v2_x0_5(), 64),
    "squeezenet1_1": (lambda: tvm.squeezenet1_1(), 64),
    "mnasnet0_5": (lambda: tvm.mnasnet0_5(), 64),
    "googlenet": (lambda: tvm.googlenet(aux_logits=False, init_weights=True), 64),
    "inception_v3": (lambda: tvm.inception_v3(aux_logits=False, init_weights=True), 299),
    "convnext_tiny": (lambda: tvm.convnext_tiny(), 64),
    "vit_small": (lambda: VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=2, hidden_dim=32,
                                            mlp_dim=64), 32),
    "swin_t": (lambda: tvm.swin_t(), 64),
    "maxvit_t": (lambda: tvm.maxvit_t(), 224),
}


def main(out, names):
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(2)
    listing = os.path.join(out, "families.json")
    kept = json.load(open(listing))["cases"] if names and os.path.exists(listing) else []
    cases = [case for case in kept if case["name"] not in names]
    for name in names or FAMILIES:
        make, size = FAMILIES[name]
        torch.manual_seed(0)
        model = make().eval()
        with torch.no_grad():  # torchvision starts some heads at zero (ViT), which would make every gradient zero
            for layer in model.modules():
                if isinstance(layer, torch.nn.Linear) and not layer.weight.any():
                    layer.weight.normal_(0, 0.02)
        x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1
        logits = model(x)
        targets = [int(logits.argmax()), int(logits.argmin())]
        gradients = []
        for target in targets:
            xg = x.clone().requires_grad_(True)
            model(xg)[0, target].backward()
            gradients.append(xg.grad.numpy().ravel().tolist())
        for opset in (13, 17):
            path = os.path.join(out, f"{name}_{opset}.onnx")
            torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
            cases.append({"name": name, "opset": opset, "file": os.path.basename(path), "size": size,
                          "input": x.numpy().ravel().tolist(), "targets": targets, "gradients": gradients})
        print(name, "exported", flush=True)
    with open(listing, "w") as handle:
        json.dump({"cases": cases}, handle)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
