"""Live previews while the explainers train (issue 18, point 3): a few fixed test images, decomposed or
walked along a path by the model as it is at that step, written as one PNG the app shows beside the
job's progress. Written to a temporary name and renamed, so a reader never sees half a file.

DXAI: a row per image: the image, the class-distinct part (signed: grey is zero, lighter is positive),
the class-agnostic part. CAE: a row per image: the image, then the decoder's images as the class code
moves in five steps to the code of a test image of another class.
"""
import os

import numpy as np
import torch
from PIL import Image

COUNT = 4
SCALE = 2  # each image drawn at twice its size (a 28-px image is otherwise hard to see)


def _tile(pixels: torch.Tensor, signed: bool = False) -> np.ndarray:
    """[C, H, W] -> uint8 [H, W, 3]."""
    values = pixels.detach().float()
    if signed:
        values = 0.5 + values / (2 * max(float(values.abs().max()), 1e-6))
    values = values.clamp(0, 1).mul(255).round().byte()
    if values.shape[0] == 1:
        values = values.expand(3, -1, -1)
    array = values.permute(1, 2, 0).numpy()
    return np.kron(array, np.ones((SCALE, SCALE, 1), dtype=np.uint8))


def _write(rows: list, path: str) -> None:
    gap = 2
    height = sum(r[0].shape[0] for r in rows) + gap * (len(rows) - 1)
    width = max(sum(t.shape[1] for t in r) + gap * (len(r) - 1) for r in rows)
    canvas = np.full((height, width, 3), 255, dtype=np.uint8)
    y = 0
    for row in rows:
        x = 0
        for tile in row:
            canvas[y : y + tile.shape[0], x : x + tile.shape[1]] = tile
            x += tile.shape[1] + gap
        y += row[0].shape[0] + gap
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(canvas).save(path + ".partial.png")
    os.replace(path + ".partial.png", path)


def sample(data, count: int = COUNT):
    """The first test image of each of the first `count` classes present (fixed across steps)."""
    picks, seen = [], set()
    for index, label in enumerate(data.test.labels.tolist()):
        if label not in seen:
            seen.add(label)
            picks.append(index)
        if len(picks) == count:
            break
    return data.test.at(picks), data.test.labels[picks]


@torch.no_grad()
def dxai(generator, classifier, pixels: torch.Tensor, path: str) -> None:
    was = generator.training
    generator.eval()
    device = next(generator.parameters()).device
    x = pixels.to(device)
    branches = generator(x, classifier(x).argmax(1)).cpu()
    generator.train(was)
    rows = [[_tile(pixels[i]), _tile(branches[i, 0], signed=True), _tile(branches[i, 1:].sum(0))]
            for i in range(len(pixels))]
    _write(rows, path)


@torch.no_grad()
def cae(model, pixels: torch.Tensor, labels: torch.Tensor, path: str, steps: int = 5) -> None:
    was = model.training
    model.eval()
    device = next(model.parameters()).device
    x = pixels.to(device)
    codes, individuals = model.encode(x)
    others = codes.roll(1, 0)  # the next image's code: another class, as the sample has one image a class
    rows = []
    for i in range(len(pixels)):
        row = [_tile(pixels[i])]
        for k in range(1, steps + 1):
            code = codes[i : i + 1] + (k / steps) * (others[i : i + 1] - codes[i : i + 1])
            row.append(_tile(model.decoder(individuals[i : i + 1], code)[0].cpu()))
        rows.append(row)
    model.train(was)
    _write(rows, path)
