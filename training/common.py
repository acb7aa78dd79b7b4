"""Shared pieces of the explainer toolkit: data in pixel space, the frozen classifier, seeding, timing.

Every generative model of the bundle takes and returns images in *pixel space*: float32 in [0, 1]
(the 8-bit value / 255), NCHW. The classifier and the InfoDisent head take the classifier's own
normalised input ((pixel - mean) / std). `ClassifierInPixelSpace` bridges the two.
"""
import json
import os
import random
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .classifier import MEAN, STD, SmallCnn, class_names
from .idx import read_idx


def seed_everything(seed: int, threads: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    return torch.Generator().manual_seed(seed)


def device() -> torch.device:
    """CUDA when torch sees a GPU; training is seeded either way but only CPU runs reproduce bit for bit."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class Split:
    pixels: torch.Tensor  # [N, 1, 28, 28] float32 in [0, 1]
    labels: torch.Tensor  # [N] int64


@dataclass
class Dataset:
    name: str
    classes: list
    train: Split
    test: Split
    mean: list = field(default_factory=list)
    std: list = field(default_factory=list)


def load_idx_dataset(data_dir: str, name: str = "Fashion-MNIST", classes=None) -> Dataset:
    def split(prefix):
        images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
        labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
        pixels = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
        return Split(pixels, torch.from_numpy(labels.astype(np.int64)))

    return Dataset(name, list(classes or class_names(data_dir)), split("train"), split("t10k"), [MEAN], [STD])


class ClassifierInPixelSpace(nn.Module):
    """The frozen classifier with its normalisation in front: pixel-space images in, logits out."""

    def __init__(self, model: nn.Module, mean, std):
        super().__init__()
        self.model = model.eval()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)

    def normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        return (pixels - self.mean) / self.std

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model(self.normalise(pixels))

    def train(self, mode: bool = True):
        # Frozen: batch-norm statistics and dropout stay in inference mode whatever the caller asks.
        return super().train(False)


def load_classifier(model_dir: str, num_classes: int) -> nn.Module:
    model = SmallCnn(num_classes)
    model.load_state_dict(torch.load(os.path.join(model_dir, "classifier.pt"), map_location="cpu"))
    return model.eval()


def batches(count: int, size: int, generator: torch.Generator = None, shuffle: bool = True):
    """Index batches over a split: shuffled ones drop the last incomplete batch, ordered ones keep it."""
    order = torch.randperm(count, generator=generator) if shuffle else torch.arange(count)
    stop = count - count % size if shuffle else count
    for start in range(0, stop, size):
        yield order[start : start + size]


def step_batches(count: int, size: int, steps: int, generator: torch.Generator):
    """(step, index batch) for `steps` steps, reshuffling at every pass over the split."""
    step = 0
    while step < steps:
        for index in batches(count, size, generator):
            if step >= steps:
                return
            yield step, index
            step += 1


@torch.no_grad()
def predict(model: nn.Module, pixels: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """Softmax probabilities of a pixel-space classifier over a whole split."""
    out = []
    for start in range(0, len(pixels), batch):
        out.append(torch.softmax(model(pixels[start : start + batch]), 1))
    return torch.cat(out)


class Ema:
    """Exponential moving average of a module's weights (the copy that gets exported)."""

    def __init__(self, module: nn.Module, decay: float):
        import copy

        self.decay = decay
        self.shadow = copy.deepcopy(module).eval()
        for parameter in self.shadow.parameters():
            parameter.requires_grad_(False)

    @torch.no_grad()
    def update(self, module: nn.Module):
        for mine, theirs in zip(self.shadow.parameters(), module.parameters()):
            mine.lerp_(theirs, 1 - self.decay)
        for mine, theirs in zip(self.shadow.buffers(), module.buffers()):
            mine.copy_(theirs)


class Clock:
    def __init__(self, label: str, budget_seconds: float = None):
        self.label = label
        self.started = time.time()
        self.budget = budget_seconds

    @property
    def seconds(self) -> float:
        return time.time() - self.started

    def over_budget(self) -> bool:
        return self.budget is not None and self.seconds > self.budget

    def log(self, message: str):
        print(f"[{self.label} {self.seconds:6.0f} s] {message}", flush=True)

    def record(self, history: list, step: int, **losses: torch.Tensor) -> None:
        """Every 100 steps: append the losses to `history` and print them."""
        entry = dict(step=step, **{name: value.item() for name, value in losses.items()})
        history.append(entry)
        self.log(" ".join([f"step {step}"] + [f"{name} {value:.4f}" for name, value in entry.items() if name != "step"]))


def write_json(path: str, value) -> None:
    with open(path, "w") as handle:
        json.dump(value, handle, indent=2)
        handle.write("\n")


def export_onnx(module: nn.Module, args: tuple, path: str, input_names, output_names, dynamic_axes) -> None:
    """Export with opset 13; then write the fixed output dimensions into the graph, which torch's shape
    inference loses after resizes, so that loaders can check every dimension but the dynamic ones."""
    import onnx

    module.eval()
    torch.onnx.export(module, args, path, opset_version=13, input_names=input_names,
                      output_names=output_names, dynamic_axes=dynamic_axes, do_constant_folding=True)
    with torch.no_grad():
        outputs = module(*args)
    outputs = outputs if isinstance(outputs, (tuple, list)) else (outputs,)
    model = onnx.load(path)
    for value, actual in zip(model.graph.output, outputs):
        dynamic = dynamic_axes.get(value.name, {})
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if axis not in dynamic:
                dim.Clear()
                dim.dim_value = int(actual.shape[axis])
    onnx.checker.check_model(model)
    onnx.save(model, path)
