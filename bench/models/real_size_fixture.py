"""A real-size colour classifier for the end-to-end test (test/e2e/real-size.test.ts): torchvision's
VisionTransformer at 224 x 224 px (16-px patches, so a 14 x 14 token map plus the class token; two
blocks, two heads, width 48, so the file stays small), seeded random weights with the zero-initialised
head drawn at random too, exported at opset 17 with ImageNet's normalisation in its manifest.
Run: /usr/bin/python3 bench/models/real_size_fixture.py test/fixtures/models/vit-tiny-224
"""
import json
import os
import sys

import torch
import torchvision
from torch import nn

CLASSES = ["cat", "coffee", "astronaut", "rocket"]


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(224)
    model = torchvision.models.VisionTransformer(image_size=224, patch_size=16, num_layers=2, num_heads=2,
                                                 hidden_dim=48, mlp_dim=96, num_classes=len(CLASSES))
    nn.init.normal_(model.heads.head.weight, std=0.5)
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 3, 224, 224), os.path.join(out, "model.onnx"), opset_version=17,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, do_constant_folding=True)
    manifest = {
        "format": "xaiws.classifier/1",
        "name": "ViT (tiny, 224 px, random weights)",
        "input": {"layout": "NCHW", "channels": 3, "height": 224, "width": 224},
        "output": {"kind": "logits"},
        "preprocessing": {"scale": 255, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                          "resize": "cover"},
        "classes": CLASSES,
    }
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
