"""Small ONNX models with known weights for the app's tests (test/fixtures/models/).

rgb-nhwc: input [N, 32, 32, 3] (NHWC, RGB), output softmax probabilities [N, 3] of
W @ (per-channel spatial mean of the normalised image) + b. The weights are in the manifest's
"training" field, so a test can compute the expected probabilities itself.
"""
import json
import os

import torch
from torch import nn

W = [[2.0, -1.0, 0.5], [-1.5, 2.5, 0.0], [0.0, -0.5, 1.5]]
B = [0.1, -0.2, 0.05]
MEAN = [0.5, 0.4, 0.3]
STD = [0.25, 0.2, 0.3]


class MeanColourClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(3, 3)
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor(W))
            self.linear.bias.copy_(torch.tensor(B))

    def forward(self, x):
        return torch.softmax(self.linear(x.mean(dim=(1, 2))), dim=1)


def build(out_dir: str) -> None:
    os.makedirs(out_dir, exist_ok=True)
    model = MeanColourClassifier().eval()
    torch.onnx.export(
        model, torch.zeros(1, 32, 32, 3), os.path.join(out_dir, "rgb-nhwc.onnx"), opset_version=13,
        input_names=["pixels"], output_names=["probs"], dynamic_axes={"pixels": {0: "n"}, "probs": {0: "n"}},
    )
    manifest = {
        "format": "xaiws.classifier/1",
        "name": "Mean-colour test classifier",
        "input": {"name": "pixels", "layout": "NHWC", "channels": 3, "height": 32, "width": 32},
        "output": {"name": "probs", "kind": "probabilities"},
        "preprocessing": {"scale": 255, "mean": MEAN, "std": STD, "resize": "stretch"},
        "classes": ["red-ish", "green-ish", "blue-ish"],
        "training": {"weights": W, "bias": B},
    }
    with open(os.path.join(out_dir, "rgb-nhwc.manifest.json"), "w") as handle:
        json.dump(manifest, handle, indent=2)
        handle.write("\n")
