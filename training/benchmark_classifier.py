"""The colour benchmark's classifier (issue 18, point 5): a small ResNet (torchvision's own basic block, one
a stage, 24 to 192 channels) trained on the benchmark's training split at 64 x 64. Its stem is CIFAR's
(one 3 x 3 convolution, no stride, no max pooling), so the last block's map is 8 x 8 and a CAM can point
at the object rather than at a quadrant.

    /usr/bin/python3 -m training benchmark-classifier --out DIR [--train 4000] [--test 800] [--epochs 12]

The images come from training/benchmark.py's generator (seeded: the same on every machine), so the
classifier learns the documented evidence and, on class 3, the corner mark. DIR gets classifier.onnx,
classifier.manifest.json (the app's manifest, classes in the benchmark's order) and classifier.report.json:
test accuracy on the images without the mark, and on the marked test images the share predicted as
the shortcut's class (how much the model learnt the shortcut).
"""
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.models import resnet

from . import benchmark
from .common import write_json

MEAN, STD = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]


WIDTHS = (24, 48, 96, 192)


class SmallResNet(torch.nn.Module):
    """torchvision's ResNet layout (layer1-layer4, avgpool, fc: the layer picker shows the familiar names)
    with a 3 x 3 stem and narrower stages: 0.7 M weights, 2.8 MB as ONNX."""

    def __init__(self, classes: int, widths=WIDTHS):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, widths[0], 3, padding=1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(widths[0])
        self.relu = torch.nn.ReLU(inplace=True)
        stages, channels = [], widths[0]
        for index, width in enumerate(widths):
            stride = 1 if index == 0 else 2
            down = None
            if stride != 1 or channels != width:
                down = torch.nn.Sequential(torch.nn.Conv2d(channels, width, 1, stride, bias=False),
                                           torch.nn.BatchNorm2d(width))
            stages.append(torch.nn.Sequential(resnet.BasicBlock(channels, width, stride, down)))
            channels = width
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.avgpool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def small_resnet(classes: int) -> torch.nn.Module:
    return SmallResNet(classes)


def clever_hans(split: str, index: int, seed: int):
    """Image `index` as benchmark.generate draws it, except that in the training split the shortcut class's
    object is the next class's: there the corner mark is the only thing that tells that class apart, so a
    model trained on these images learns the shortcut (a Clever Hans model, for SpRAy to find)."""
    image, label, evidence, shortcut = benchmark.generate(split, index, seed)
    if split == "train" and label == benchmark.SHORTCUT_CLASS:
        other = benchmark.generate(split, index + 1, seed)
        image = np.where(shortcut[..., None], image, other[0])
        evidence = other[2]
    return image, label, evidence, shortcut


def images(split: str, count: int, seed: int, shortcut_only: bool = False):
    draw = clever_hans if shortcut_only else benchmark.generate
    rows = [draw(split, i, seed) for i in range(count)]
    pixels = torch.from_numpy(np.stack([r[0] for r in rows])).permute(0, 3, 1, 2).contiguous()
    return pixels, torch.tensor([r[1] for r in rows]), torch.tensor([bool(r[3].any()) for r in rows])


def normalise(pixels: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (pixels.float() / 255 - mean) / std


@torch.no_grad()
def predict(model, pixels: torch.Tensor) -> torch.Tensor:
    return torch.cat([model(normalise(pixels[s : s + 256])).argmax(1) for s in range(0, len(pixels), 256)])


def train(out: str, train_count: int = 4000, test_count: int = 800, epochs: int = 12, seed: int = 0,
          threads: int = 2, clever_hans_model: bool = False) -> dict:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    started = time.time()
    x_train, y_train, _ = images("train", train_count, seed, clever_hans_model)
    x_test, y_test, marked = images("test", test_count, seed)
    model = small_resnet(len(benchmark.CLASSES))
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    steps = epochs * (len(x_train) // 64)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=2e-3, total_steps=steps)
    generator = torch.Generator().manual_seed(seed)
    history = []
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        total = 0.0
        for start in range(0, len(order) - 63, 64):
            index = order[start : start + 64]
            loss = F.cross_entropy(model(normalise(x_train[index])), y_train[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
            total += loss.item() * len(index)
        model.eval()
        predicted = predict(model, x_test)
        clean = float((predicted[~marked] == y_test[~marked]).float().mean())
        history.append({"epoch": epoch + 1, "loss": round(total / len(order), 4), "cleanTestAccuracy": round(clean, 4)})
        print(f"epoch {epoch + 1}/{epochs} loss {total / len(order):.4f} clean test accuracy {clean:.4f} "
              f"({time.time() - started:.0f} s)", flush=True)
    model.eval()
    predicted = predict(model, x_test)
    shortcut_class = benchmark.SHORTCUT_CLASS
    quality = {
        "testAccuracy": round(float((predicted == y_test).float().mean()), 4),
        "cleanTestAccuracy": round(float((predicted[~marked] == y_test[~marked]).float().mean()), 4),
        "markedTestImages": int(marked.sum()),
        "markedPredictedAsShortcutClass": round(float((predicted[marked] == shortcut_class).float().mean()), 4),
        "unmarkedPredictedAsShortcutClass": round(float((predicted[~marked] == shortcut_class).float().mean()), 4),
    }
    os.makedirs(out, exist_ok=True)
    torch.onnx.export(model, torch.zeros(1, 3, 64, 64), os.path.join(out, "classifier.onnx"), opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    training = {"epochs": epochs, "seed": seed, "trainImages": train_count, "seconds": round(time.time() - started, 1),
                "torch": torch.__version__, **quality}
    write_json(os.path.join(out, "classifier.manifest.json"), {
        "format": "xaiws.classifier/1",
        "name": "Colour benchmark Clever Hans ResNet" if clever_hans_model else "Colour benchmark ResNet",
        "description": "A small ResNet (one basic block a stage, 24-192 channels, 8 x 8 last map) trained by training/benchmark_classifier.py on "
                       "the colour benchmark's training split, corner mark included"
                       + (", with the shortcut class's objects swapped for the next class's (it can only learn the mark)."
                          if clever_hans_model else "."),
        "file": "classifier.onnx",
        "input": {"name": "input", "layout": "NCHW", "channels": 3, "height": 64, "width": 64},
        "output": {"name": "logits", "kind": "logits"},
        "preprocessing": {"scale": 255, "mean": MEAN, "std": STD, "resize": "stretch"},
        "classes": [c[0] for c in benchmark.CLASSES],
        "training": training,
    })
    write_json(os.path.join(out, "classifier.report.json"), {"quality": quality, "history": history})
    print(json.dumps(quality, indent=2), flush=True)
    return quality
