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

from .common import batches, device, export_onnx, write_json
from .loop import Run, average_gradients, broadcast, shard, world


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


class DemoBackbone(nn.Module):
    """The demo SmallCnn as a backbone: normalised input -> (feature map, logits)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, normalised):
        features = self.model.features(normalised)
        return features, self.model.head(features)


def backbone_of(classifier, backbone: nn.Module = None) -> nn.Module:
    return (backbone if backbone is not None else DemoBackbone(classifier.model)).eval()


@torch.no_grad()
def features_of(classifier, split, backbone: nn.Module = None, batch: int = 64, budget: int = 1 << 30):
    """The frozen backbone's feature maps of a Split and its predictions; kept in float16 when float32
    would pass `budget` bytes (a ResNet-50's 2048 x 7 x 7 maps of 4,000 images are 1.6 GB)."""
    backbone = backbone_of(classifier, backbone)
    maps, predicted = [], []
    for _, chunk in split.chunks(batch):
        features, logits = backbone(classifier.normalise(chunk))
        maps.append(features)
        predicted.append(logits.argmax(1))
    if maps and maps[0][0].numel() * 4 * len(split) > budget:
        maps = [m.half() for m in maps]
    return torch.cat(maps), torch.cat(predicted)


DEFAULTS = dict(epochs=10, batch=256, lr=3e-3, tau=0.5)


def train(data, classifier, seed_generator: torch.Generator, backbone: nn.Module = None, out_dir: str = None,
          **options) -> dict:
    cfg = {**DEFAULTS, **options}
    dev = device()
    train_features, _ = features_of(classifier, data.train, backbone)
    test_features, _ = features_of(classifier, data.test, backbone)
    labels = data.train.labels
    head = InfoDisentHead(train_features.shape[1], len(data.classes)).to(dev)
    broadcast(head)
    optimiser = torch.optim.Adam(head.parameters(), lr=cfg["lr"])
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=cfg["epochs"])
    stateful = dict(head=head, optimiser=optimiser, schedule=schedule)
    run = Run("infodisent", cfg["epochs"], out_dir, {**cfg, "features": list(train_features.shape[1:]),
                                                     "classes": len(data.classes), "world": world()[1]},
              every=1, report_every=1)
    first = run.resume(seed_generator, **stateful)
    for epoch in range(first, cfg["epochs"]):
        total = 0.0
        for index in batches(len(labels), min(cfg["batch"], len(labels)), seed_generator):
            index = shard(index)
            logits, _, _ = head(train_features[index].to(dev).float(), cfg["tau"], seed_generator)
            loss = F.cross_entropy(logits, labels[index].to(dev))
            optimiser.zero_grad()
            loss.backward()
            average_gradients(head)
            optimiser.step()
            head.project()
            total += loss.item() * len(index)
        schedule.step()
        accuracy = accuracy_of(head, test_features, data.test.labels)
        run.after_step(epoch + 1, seed_generator, dict(loss=total / len(labels), testAccuracy=accuracy), stateful)
    return dict(model=head.cpu().eval(), seconds=run.seconds, config=cfg, history=run.history)


@torch.no_grad()
def accuracy_of(head: InfoDisentHead, features: torch.Tensor, labels: torch.Tensor) -> float:
    correct, dev = 0, head.bias.device
    for s in range(0, len(labels), 512):
        correct += (head(features[s : s + 512].to(dev).float())[0].argmax(1).cpu() == labels[s : s + 512]).sum().item()
    return round(correct / len(labels), 4)


@torch.no_grad()
def evaluate(head: InfoDisentHead, classifier, data, backbone: nn.Module = None) -> dict:
    features, base = features_of(classifier, data.test, backbone)
    rotation = head.rotation()
    agree, shares = 0, []
    for s in range(0, len(base), 512):
        logits, _, evidence = head(features[s : s + 512].float())
        agree += int((logits.argmax(1) == base[s : s + 512]).sum())
        contributions = head.weight.unsqueeze(0) * evidence.unsqueeze(1)  # [N, C, D]
        top = contributions[torch.arange(len(logits)), logits.argmax(1)]
        share = top.clamp(min=0).sort(1, descending=True).values
        shares.append(share[:, :5].sum(1) / share.sum(1).clamp_min(1e-12))
    return {
        "accuracy": accuracy_of(head, features, data.test.labels),
        "baseClassifierAccuracy": round(float((base == data.test.labels).float().mean()), 4),
        "agreementWithClassifier": round(agree / len(base), 4),
        "orthogonalityError": float(f"{(rotation @ rotation.t() - torch.eye(len(rotation))).abs().max():.2e}"),
        "meanTop5ChannelShare": round(float(torch.cat(shares).mean()), 4),
        "nonZeroWeights": round(float((head.weight > 0).float().mean()), 4),
    }


def _png(path: str, image: np.ndarray) -> None:
    """8-bit PNG, greyscale [H, W] or RGB [H, W, 3] (no PIL needed)."""
    height, width = image.shape[:2]
    colour = 2 if image.ndim == 3 else 0
    raw = b"".join(b"\x00" + image[row].tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def atlas_layout(shape, channels: int):
    """(k, patch): 8 patches a channel of 16 px up to 64-px images, a quarter of the side (at most 48 px)
    above; 4 patches for feature maps of more than 512 channels (a ResNet-50's atlas: about 28 MB raw)."""
    patch = 16 if shape.side <= 64 else min(shape.side // 4, 48)
    return (8 if channels <= 512 else 4), patch


@torch.no_grad()
def write_prototypes(head: InfoDisentHead, classifier, data, out_dir: str, backbone: nn.Module = None) -> None:
    """Per channel, the k training images with the strongest positive evidence, and the patch around
    the position of that maximum; patches go into one PNG atlas (a row per channel)."""
    backbone = backbone_of(classifier, backbone)
    values, positions = [], []
    for _, chunk in data.train.chunks(64):
        maps = head.channel_maps(backbone(classifier.normalise(chunk))[0])
        value, position = F.relu(maps.flatten(2)).max(2)
        values.append(value)
        positions.append(position)
    values, positions = torch.cat(values), torch.cat(positions)  # [N, D]
    channels, (fh, fw) = values.shape[1], maps.shape[-2:]
    shape = data.shape
    k, patch = atlas_layout(shape, channels)
    k = min(k, len(data.train))
    sy, sx = shape.height / fh, shape.width / fw
    atlas = np.zeros((channels * patch, k * patch, shape.channels), dtype=np.uint8)
    entries = []
    for d in range(channels):
        top_values, top_images = values[:, d].topk(k)
        patches = []
        for j, (value, image) in enumerate(zip(top_values.tolist(), top_images.tolist())):
            row, col = divmod(int(positions[image, d]), fw)
            cy, cx = int((row + 0.5) * sy), int((col + 0.5) * sx)
            y0 = min(max(cy - patch // 2, 0), shape.height - patch)
            x0 = min(max(cx - patch // 2, 0), shape.width - patch)
            crop = data.train.at(image)[:, y0 : y0 + patch, x0 : x0 + patch]
            atlas[d * patch : (d + 1) * patch, j * patch : (j + 1) * patch] = \
                (crop * 255).round().byte().permute(1, 2, 0).numpy()
            patches.append({"trainIndex": image, "label": int(data.train.labels[image]), "row": row, "col": col,
                            "y": y0, "x": x0, "value": round(value, 5)})
        entries.append({"channel": d, "patches": patches})
    _png(os.path.join(out_dir, "infodisent-prototypes.png"), atlas[..., 0] if shape.channels == 1 else atlas)
    write_json(os.path.join(out_dir, "infodisent-prototypes.json"), {
        "format": "xaiws.infodisent-prototypes/1",
        "source": f"{data.name} training split ({len(data.train)} images)",
        "k": k, "patchSize": patch, "featureMap": [int(fh), int(fw)],
        "atlas": "infodisent-prototypes.png",
        "atlasLayout": "row d holds channel d's patches, strongest first, each patchSize x patchSize",
        "channels": entries,
    })


def export(head: InfoDisentHead, classifier, path: str) -> None:
    export_onnx(InfoDisentExport(classifier.model.features, head), (torch.zeros(1, 1, 28, 28),), path,
                ["input"], ["logits", "channel_maps", "evidence"],
                {"input": {0: "batch"}, "logits": {0: "batch"}, "channel_maps": {0: "batch"}, "evidence": {0: "batch"}})
