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
from .sizes import Shape


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
    """Images of one split: uint8 [N, C, H, W] (0..255) as loaded, or float32 pixel space [0, 1].
    Photographs stay uint8 in memory (a quarter of float32); `at` and `chunks` give pixel space."""

    pixels: torch.Tensor
    labels: torch.Tensor  # [N] int64

    def __len__(self) -> int:
        return len(self.labels)

    def at(self, index) -> torch.Tensor:
        images = self.pixels[index]
        return images.float().div_(255.0) if images.dtype == torch.uint8 else images

    def chunks(self, size: int = 256):
        """(start, pixel-space chunk) over the split in order."""
        for start in range(0, len(self), size):
            yield start, self.at(slice(start, start + size))

    def head(self, count: int) -> "Split":
        return Split(self.pixels[:count], self.labels[:count])


@dataclass
class Dataset:
    name: str
    classes: list
    train: Split
    test: Split
    mean: list = field(default_factory=list)
    std: list = field(default_factory=list)

    @property
    def shape(self) -> Shape:
        return Shape(*self.train.pixels.shape[1:])


def load_idx_dataset(data_dir: str, name: str = "Fashion-MNIST", classes=None) -> Dataset:
    def split(prefix):
        images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
        labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
        return Split(torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64)))

    return Dataset(name, list(classes or class_names(data_dir)), split("train"), split("t10k"), [MEAN], [STD])


class ClassifierInPixelSpace(nn.Module):
    """The frozen classifier with its preprocessing in front: pixel-space images in, logits out.

    The preprocessing is the manifest's (docs/MANIFEST.md): pixel * 255 / scale, channels reversed for
    `bgr` models, (x - mean) / std, NHWC for `layout: NHWC`. A model whose output is probabilities
    gives their logarithm, which softmax and cross-entropy treat as logits."""

    def __init__(self, model: nn.Module, mean, std, scale: float = 255.0, bgr: bool = False,
                 nhwc: bool = False, probabilities: bool = False):
        super().__init__()
        self.model = model.eval()
        self.scale, self.bgr, self.nhwc, self.probabilities = float(scale), bgr, nhwc, probabilities
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))
        for parameter in self.model.parameters():
            parameter.requires_grad_(False)

    @classmethod
    def of_manifest(cls, model: nn.Module, manifest: dict) -> "ClassifierInPixelSpace":
        pre = manifest.get("preprocessing", {})
        return cls(model, pre.get("mean", [0.0]), pre.get("std", [1.0]), pre.get("scale", 255),
                   pre.get("channelOrder", "rgb") == "bgr", manifest["input"].get("layout", "NCHW") == "NHWC",
                   manifest.get("output", {}).get("kind", "logits") == "probabilities")

    def normalise(self, pixels: torch.Tensor) -> torch.Tensor:
        x = pixels * (255.0 / self.scale) if self.scale != 255.0 else pixels
        if self.bgr:
            x = x.flip(1)
        x = (x - self.mean) / self.std
        return x.permute(0, 2, 3, 1) if self.nhwc else x

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        out = self.model(self.normalise(pixels))
        return out.clamp_min(1e-12).log() if self.probabilities else out

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
    """(step, index batch) for `steps` steps, reshuffling at every pass over the split (a split smaller
    than a batch gives whole-split batches)."""
    size = min(size, count)
    step = 0
    while step < steps:
        for index in batches(count, size, generator):
            if step >= steps:
                return
            yield step, index
            step += 1


@torch.no_grad()
def predict(model: nn.Module, pixels, batch: int = 256) -> torch.Tensor:
    """Softmax probabilities of a pixel-space classifier over a tensor of pixels or a whole Split."""
    if isinstance(pixels, Split):
        return torch.cat([torch.softmax(model(chunk), 1) for _, chunk in pixels.chunks(batch)])
    return torch.cat([torch.softmax(model(pixels[s : s + batch]), 1) for s in range(0, len(pixels), batch)])


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
