"""The demo classifier: a small CNN for 28x28 grayscale images (Fashion-MNIST).

Seeded and deterministic on CPU. Exports ONNX (opset 13, dynamic batch) and a manifest
in the format of docs/MANIFEST.md.
"""
import json
import os
import time

import numpy as np
import torch
from torch import nn

from .idx import read_idx

FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
MEAN, STD = 0.2860, 0.3530


class SmallCnn(nn.Module):
    """conv-bn-relu-pool x2, conv-bn-relu (the natural CAM target layer), dense head."""

    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Dropout(0.3), nn.Linear(128, num_classes),
        )

    def forward(self, x):
        return self.head(self.features(x))


def class_names(data_dir: str) -> list:
    """Class names from classes.txt in the data folder (one per line), else Fashion-MNIST's."""
    path = os.path.join(data_dir, "classes.txt")
    if os.path.exists(path):
        with open(path) as handle:
            return [line.strip() for line in handle if line.strip()]
    return list(FASHION_MNIST_CLASSES)


def load_split(data_dir: str, split: str):
    prefix = "train" if split == "train" else "t10k"
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
    x = (torch.from_numpy(images.astype(np.float32) / 255.0) - MEAN) / STD
    return x.unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    correct = 0
    with torch.no_grad():
        for start in range(0, len(x), 1000):
            correct += (model(x[start : start + 1000]).argmax(1) == y[start : start + 1000]).sum().item()
    return correct / len(x)


def train(data_dir: str, out_dir: str, epochs: int, seed: int, threads: int) -> dict:
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    x_train, y_train = load_split(data_dir, "train")
    x_test, y_test = load_split(data_dir, "test")
    classes = class_names(data_dir)
    model = SmallCnn(len(classes))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=epochs)
    generator = torch.Generator().manual_seed(seed)
    loss_fn = nn.CrossEntropyLoss()
    started = time.time()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        total_loss = 0.0
        for start in range(0, len(order), 128):
            batch = order[start : start + 128]
            optimiser.zero_grad()
            loss = loss_fn(model(x_train[batch]), y_train[batch])
            loss.backward()
            optimiser.step()
            total_loss += loss.item() * len(batch)
        scheduler.step()
        accuracy = evaluate(model, x_test, y_test)
        print(f"epoch {epoch + 1}/{epochs} loss {total_loss / len(order):.4f} "
              f"test accuracy {accuracy:.4f} ({time.time() - started:.0f} s)", flush=True)
    accuracy = evaluate(model, x_test, y_test)
    os.makedirs(out_dir, exist_ok=True)
    torch.save(model.state_dict(), os.path.join(out_dir, "classifier.pt"))
    export(model, out_dir, classes, {
        "testAccuracy": round(accuracy, 4), "epochs": epochs, "seed": seed,
        "trainSeconds": round(time.time() - started, 1), "torch": torch.__version__,
    })
    return {"testAccuracy": accuracy}


def export(model: nn.Module, out_dir: str, classes: list, training: dict) -> None:
    model.eval()
    path = os.path.join(out_dir, "classifier.onnx")
    torch.onnx.export(
        model, torch.zeros(1, 1, 28, 28), path, opset_version=13,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
    )
    manifest = {
        "format": "xaiws.classifier/1",
        "name": "Fashion-MNIST demo CNN",
        "description": "Small CNN trained by training/classifier.py on the 60,000 Fashion-MNIST training images.",
        "file": "classifier.onnx",
        "input": {"name": "input", "layout": "NCHW", "channels": 1, "height": 28, "width": 28},
        "output": {"name": "logits", "kind": "logits"},
        "preprocessing": {"scale": 255, "mean": [MEAN], "std": [STD], "resize": "stretch"},
        "classes": classes,
        "training": training,
    }
    with open(os.path.join(out_dir, "classifier.manifest.json"), "w") as handle:
        json.dump(manifest, handle, indent=2)
        handle.write("\n")
