"""InfoDisent: make every channel of the classifier's last feature map an inspectable atomic part.

The backbone (the demo classifier's convolutional features) stays frozen. The head:
  J = U F            U orthogonal (exp of a skew-symmetric matrix), applied at every position
  v_d = max(ReLU(J_d)) - max(ReLU(-J_d))        sparse pooling: strongest positive and negative evidence
  logits = W v + b   W >= 0
The max is trained through a Gumbel-softmax straight-through estimator; inference uses the hard max.
"""
import os
import struct
import zlib

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .common import Clock, batches, device, export_onnx, write_json


class InfoDisentHead(nn.Module):
    def __init__(self, channels: int, num_classes: int):
        super().__init__()
        self.skew = nn.Parameter(torch.zeros(channels, channels))
        self.weight = nn.Parameter(torch.full((num_classes, channels), 0.05))
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def rotation(self) -> torch.Tensor:
        upper = self.skew.triu(1)
        return torch.matrix_exp(upper - upper.t())

    def channel_maps(self, features: torch.Tensor) -> torch.Tensor:
        return torch.einsum("dc,nchw->ndhw", self.rotation(), features)

    @staticmethod
    def pool(maps: torch.Tensor, tau: float = 0.0, generator: torch.Generator = None) -> torch.Tensor:
        """max(ReLU(J)) - max(ReLU(-J)) per channel; with tau > 0 the gradient flows through a
        Gumbel-softmax over positions (straight-through: the forward value stays the hard max)."""
        flat = maps.flatten(2)
        pooled = []
        for side in (F.relu(flat), F.relu(-flat)):
            hard = side.amax(2)
            if tau > 0:
                uniform = torch.rand(side.shape, generator=generator).to(side.device).clamp(1e-6, 1 - 1e-6)
                gumbel = -torch.log(-torch.log(uniform))
                soft = (torch.softmax(side / tau + gumbel, 2) * side).sum(2)
                hard = soft + (hard - soft).detach()
            pooled.append(hard)
        return pooled[0] - pooled[1]

    def forward(self, features: torch.Tensor, tau: float = 0.0, generator: torch.Generator = None):
        maps = self.channel_maps(features)
        evidence = self.pool(maps, tau, generator)
        return F.linear(evidence, self.weight, self.bias), maps, evidence

    @torch.no_grad()
    def project(self):
        self.weight.clamp_(min=0)


class InfoDisentExport(nn.Module):
    """ONNX face: the classifier's normalised input -> logits [N,C], channel_maps [N,D,h,w], evidence [N,D].
    U is baked into a 1x1 convolution; the backbone is the frozen classifier's feature extractor."""

    def __init__(self, backbone: nn.Module, head: InfoDisentHead):
        super().__init__()
        self.backbone = backbone.eval()
        rotation = head.rotation().detach()
        self.mix = nn.Conv2d(rotation.shape[1], rotation.shape[0], 1, bias=False)
        self.mix.weight.data.copy_(rotation.view(*rotation.shape, 1, 1))
        self.weight = nn.Parameter(head.weight.detach().clone())
        self.bias = nn.Parameter(head.bias.detach().clone())

    def forward(self, input):
        maps = self.mix(self.backbone(input))
        flat = maps.flatten(2)
        evidence = F.relu(flat).amax(2) - F.relu(-flat).amax(2)
        return F.linear(evidence, self.weight, self.bias), maps, evidence


@torch.no_grad()
def features_of(classifier, pixels: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    """The frozen backbone's last feature map for pixel-space images."""
    return torch.cat([classifier.model.features(classifier.normalise(pixels[s : s + batch]))
                      for s in range(0, len(pixels), batch)])


DEFAULTS = dict(epochs=10, batch=256, lr=3e-3, tau=0.5)


def train(data, classifier, seed_generator: torch.Generator, **options) -> dict:
    cfg = {**DEFAULTS, **options}
    dev = device()
    clock = Clock("infodisent")
    train_features = features_of(classifier, data.train.pixels)
    labels = data.train.labels
    head = InfoDisentHead(train_features.shape[1], len(data.classes)).to(dev)
    optimiser = torch.optim.Adam(head.parameters(), lr=cfg["lr"])
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=cfg["epochs"])
    test_features = features_of(classifier, data.test.pixels)
    history = []
    for epoch in range(cfg["epochs"]):
        total = 0.0
        for index in batches(len(labels), cfg["batch"], seed_generator):
            logits, _, _ = head(train_features[index].to(dev), cfg["tau"], seed_generator)
            loss = F.cross_entropy(logits, labels[index].to(dev))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            head.project()
            total += loss.item() * len(index)
        schedule.step()
        accuracy = accuracy_of(head, test_features, data.test.labels)
        history.append(dict(epoch=epoch + 1, loss=total / len(labels), testAccuracy=accuracy))
        clock.log(f"epoch {epoch + 1}/{cfg['epochs']} loss {total / len(labels):.4f} test accuracy {accuracy:.4f}")
    return dict(model=head.cpu().eval(), seconds=clock.seconds, config=cfg, history=history)


@torch.no_grad()
def accuracy_of(head: InfoDisentHead, features: torch.Tensor, labels: torch.Tensor) -> float:
    correct, dev = 0, head.bias.device
    for s in range(0, len(labels), 2000):
        correct += (head(features[s : s + 2000].to(dev))[0].argmax(1).cpu() == labels[s : s + 2000]).sum().item()
    return round(correct / len(labels), 4)


@torch.no_grad()
def evaluate(head: InfoDisentHead, classifier, data) -> dict:
    features = features_of(classifier, data.test.pixels)
    logits, maps, evidence = head(features)
    rotation = head.rotation()
    base = classifier.model.head(features).argmax(1)
    contributions = head.weight.unsqueeze(0) * evidence.unsqueeze(1)  # [N, C, D]
    top = contributions[torch.arange(len(logits)), logits.argmax(1)]
    share = top.clamp(min=0).sort(1, descending=True).values
    share = share[:, :5].sum(1) / share.sum(1).clamp_min(1e-12)
    return {
        "accuracy": accuracy_of(head, features, data.test.labels),
        "baseClassifierAccuracy": round(float((base == data.test.labels).float().mean()), 4),
        "agreementWithClassifier": round(float((logits.argmax(1) == base).float().mean()), 4),
        "orthogonalityError": float(f"{(rotation @ rotation.t() - torch.eye(len(rotation))).abs().max():.2e}"),
        "meanTop5ChannelShare": round(float(share.mean()), 4),
        "nonZeroWeights": round(float((head.weight > 0).float().mean()), 4),
    }


def _png(path: str, image: np.ndarray) -> None:
    """8-bit greyscale PNG (no PIL needed)."""
    height, width = image.shape
    raw = b"".join(b"\x00" + image[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


@torch.no_grad()
def write_prototypes(head: InfoDisentHead, classifier, data, out_dir: str, k: int = 8, patch: int = 16) -> None:
    """Per channel, the k training images with the strongest positive evidence, and the patch around
    the position of that maximum; patches go into one PNG atlas (a row per channel)."""
    pixels = data.train.pixels
    values, positions = [], []
    for s in range(0, len(pixels), 2000):
        maps = head.channel_maps(features_of(classifier, pixels[s : s + 2000]))
        flat = F.relu(maps.flatten(2))
        value, position = flat.max(2)
        values.append(value)
        positions.append(position)
    values, positions = torch.cat(values), torch.cat(positions)  # [N, D]
    channels, (fh, fw) = values.shape[1], maps.shape[-2:]
    stride = pixels.shape[-1] / fw
    atlas = np.zeros((channels * patch, k * patch), dtype=np.uint8)
    entries = []
    for d in range(channels):
        top_values, top_images = values[:, d].topk(k)
        patches = []
        for j, (value, image) in enumerate(zip(top_values.tolist(), top_images.tolist())):
            row, col = divmod(int(positions[image, d]), fw)
            cy, cx = int((row + 0.5) * stride), int((col + 0.5) * stride)
            y0 = min(max(cy - patch // 2, 0), pixels.shape[-2] - patch)
            x0 = min(max(cx - patch // 2, 0), pixels.shape[-1] - patch)
            crop = pixels[image, 0, y0 : y0 + patch, x0 : x0 + patch]
            atlas[d * patch : (d + 1) * patch, j * patch : (j + 1) * patch] = (crop * 255).round().byte().numpy()
            patches.append({"trainIndex": image, "label": int(data.train.labels[image]), "row": row, "col": col,
                            "y": y0, "x": x0, "value": round(value, 5)})
        entries.append({"channel": d, "patches": patches})
    _png(os.path.join(out_dir, "infodisent-prototypes.png"), atlas)
    write_json(os.path.join(out_dir, "infodisent-prototypes.json"), {
        "format": "xaiws.infodisent-prototypes/1",
        "source": f"{data.name} training split ({len(pixels)} images)",
        "k": k, "patchSize": patch, "featureMap": [int(fh), int(fw)],
        "atlas": "infodisent-prototypes.png",
        "atlasLayout": "row d holds channel d's patches, strongest first, each patchSize x patchSize",
        "channels": entries,
    })


def export(head: InfoDisentHead, classifier, path: str) -> None:
    export_onnx(InfoDisentExport(classifier.model.features, head), (torch.zeros(1, 1, 28, 28),), path,
                ["input"], ["logits", "channel_maps", "evidence"],
                {"input": {0: "batch"}, "logits": {0: "batch"}, "channel_maps": {0: "batch"}, "evidence": {0: "batch"}})
