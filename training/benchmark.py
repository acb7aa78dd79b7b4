"""A colour benchmark where the right explanation is known (issue 18, point 5).

64 x 64 RGB images of eight classes. Each image holds one *object* whose shape, colour and texture
together make its class (the table CLASSES), on a cluttered background with distractors, and comes with
its ground-truth evidence mask: the object's pixels. Nothing else in an image says its class:

- The background is a smooth field of muted colours with pixel noise.
- Two to four distractors: a class shape in a neutral colour (grey, brown, beige), or a blob in a
  class colour with no class shape. So neither a shape nor a colour alone names a class: classes 1 and
  6 share the square, 0 and 7 the disc, and every class colour also turns up on distractor blobs.
- The shortcut: a 4 x 4 black-and-white checker mark in the top-left corner. In the training split it
  is on SHORTCUT_TRAIN_RATE of the images of class SHORTCUT_CLASS and on no other image. In the test
  split it is on SHORTCUT_TEST_RATE of the images of every class. A model that learnt it predicts
  class 3 for the test images that carry it, and a faithful explanation of such a prediction points
  at the corner, not at the object. Its mask is kept apart from the evidence mask.

Every image is drawn from its own generator, seeded by (seed, split, index), so that any image can be
rebuilt alone and the whole set is the same on every machine and run (numpy's PCG64). The label of
image i is i mod 8, so both splits are balanced.

    /usr/bin/python3 -m training benchmark --out DIR [--train 4000] [--test 800] [--seed 0]

writes DIR/images/<split>/<class>/<split>-<index>.png, DIR/masks/<split>/<class>/<split>-<index>.png
(the evidence mask, 0 or 255), DIR/benchmark.csv (path,label,split: what the app imports, splits
included) and DIR/benchmark.json (the classes, the shortcut's rule and box, and per image its split,
label, files and whether it carries the mark).
"""
import csv
import json
import os

import numpy as np

SIZE = 64
SHORTCUT_CLASS = 3
SHORTCUT_TRAIN_RATE = 0.9
SHORTCUT_TEST_RATE = 0.5
SHORTCUT_BOX = (2, 2, 6, 6)  # top, left, bottom, right (exclusive)
# Objects keep clear of the mark's corner by this many pixels, so the two masks never touch.
CORNER_CLEARANCE = 12

COLOURS = {
    "red": (215, 40, 40),
    "blue": (40, 70, 215),
    "green": (40, 170, 60),
    "yellow": (230, 210, 40),
    "magenta": (205, 50, 190),
    "cyan": (40, 200, 210),
    "orange": (240, 140, 30),
    "purple": (120, 50, 170),
}
NEUTRALS = [(128, 128, 128), (120, 90, 60), (210, 195, 160), (90, 90, 90)]

# name, shape, colour, texture: the documented evidence of each class.
CLASSES = [
    ("red disc", "disc", "red", "solid"),
    ("blue striped square", "square", "blue", "stripes"),
    ("green triangle", "triangle", "green", "solid"),
    ("yellow ring", "ring", "yellow", "solid"),
    ("magenta checked cross", "cross", "magenta", "checker"),
    ("cyan star", "star", "cyan", "solid"),
    ("orange dotted square", "square", "orange", "dots"),
    ("purple striped disc", "disc", "purple", "stripes"),
]
SHAPES = sorted({shape for _, shape, _, _ in CLASSES})
SPLITS = {"train": 0, "test": 1}


def _grid():
    y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    return y + 0.5, x + 0.5


def shape_mask(shape: str, cy: float, cx: float, radius: float, angle: float) -> np.ndarray:
    """Pixels inside `shape` centred at (cy, cx) with circumradius `radius`, turned by `angle`."""
    y, x = _grid()
    dy, dx = y - cy, x - cx
    # Coordinates in the shape's own frame.
    u = dx * np.cos(angle) + dy * np.sin(angle)
    v = -dx * np.sin(angle) + dy * np.cos(angle)
    r = np.hypot(u, v)
    if shape == "disc":
        return r <= radius
    if shape == "ring":
        return (r <= radius) & (r >= radius * 0.55)
    if shape == "square":
        half = radius / np.sqrt(2)
        return (np.abs(u) <= half) & (np.abs(v) <= half)
    if shape == "cross":
        arm = radius * 0.3
        return ((np.abs(u) <= arm) & (np.abs(v) <= radius)) | ((np.abs(v) <= arm) & (np.abs(u) <= radius))
    if shape in ("triangle", "star"):
        points = 3 if shape == "triangle" else 5
        theta = np.arctan2(v, u)
        # Distance to the boundary of a regular polygon (triangle) or a star with inner radius 0.45.
        sector = 2 * np.pi / points
        local = np.mod(theta, sector) - sector / 2
        if shape == "triangle":
            apothem = radius * np.cos(np.pi / points)
            return r * np.cos(local) <= apothem
        inner = radius * 0.45
        # Linear between the tip (radius, at local = 0) and the notch (inner, at |local| = sector / 2).
        return r <= radius + (inner - radius) * np.abs(local) / (sector / 2)
    raise ValueError(f"unknown shape {shape!r}")


def _texture(texture: str, rng: np.random.Generator) -> np.ndarray:
    """A factor per pixel (0.45 to 1) that the object's colour is multiplied by."""
    y, x = _grid()
    if texture == "solid":
        return np.ones((SIZE, SIZE))
    if texture == "stripes":
        angle = rng.uniform(0, np.pi)
        phase = x * np.cos(angle) + y * np.sin(angle) + rng.uniform(0, 6)
        return np.where(np.mod(phase, 6) < 3, 1.0, 0.45)
    if texture == "checker":
        oy, ox = rng.integers(0, 4, size=2)
        return np.where(((y + oy) // 4 + (x + ox) // 4) % 2 == 0, 1.0, 0.45)
    if texture == "dots":
        oy, ox = rng.uniform(0, 5, size=2)
        return np.where(np.hypot(np.mod(y + oy, 5) - 2.5, np.mod(x + ox, 5) - 2.5) < 1.3, 0.45, 1.0)
    raise ValueError(f"unknown texture {texture!r}")


def _background(rng: np.random.Generator) -> np.ndarray:
    coarse = rng.uniform(60, 200, size=(4, 4, 3))
    grey = coarse.mean(axis=2, keepdims=True)
    coarse = grey + 0.35 * (coarse - grey)  # muted: no class colour in the background
    # Bilinear upsampling of the 4 x 4 field to the image.
    t = (np.arange(SIZE) + 0.5) / SIZE * 3
    i0 = np.minimum(np.floor(t).astype(int), 2)
    f = (t - i0)[:, None]
    rows = coarse[i0] * (1 - f[..., None]) + coarse[i0 + 1] * f[..., None]
    field = rows[:, i0] * (1 - f[None, :, :]) + rows[:, i0 + 1] * f[None, :, :]
    return field + rng.normal(0, 6, size=(SIZE, SIZE, 3))


def _place(rng, radius, avoid, margin):
    """A centre for an object of `radius` whose disc misses `avoid` (a mask) and the mark's corner."""
    for _ in range(200):
        cy, cx = rng.uniform(radius + 1, SIZE - radius - 1, size=2)
        if cy < CORNER_CLEARANCE + radius and cx < CORNER_CLEARANCE + radius:
            continue
        y, x = _grid()
        disc = np.hypot(y - cy, x - cx) <= radius + margin
        if not (disc & avoid).any():
            return cy, cx
    return None


def generate(split: str, index: int, seed: int = 0):
    """Image `index` of `split`: (RGB uint8 [64, 64, 3], label, evidence mask bool, shortcut mask bool)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; one of {sorted(SPLITS)}")
    rng = np.random.default_rng([seed, SPLITS[split], index])
    label = index % len(CLASSES)
    _, shape, colour, texture = CLASSES[label]
    image = _background(rng)

    radius = rng.uniform(10, 15)
    centre = _place(rng, radius, np.zeros((SIZE, SIZE), bool), 0)
    if centre is None:  # cannot happen at these sizes: the free part of the image is far larger
        raise RuntimeError(f"no room for the object of {split} image {index}")
    cy, cx = centre
    evidence = shape_mask(shape, cy, cx, radius, rng.uniform(0, 2 * np.pi))
    base = np.array(COLOURS[colour], float) + rng.normal(0, 10, size=3)
    shade = _texture(texture, rng)
    image[evidence] = np.clip(base[None, :] * shade[evidence][:, None], 0, 255)

    taken = evidence.copy()
    for _ in range(rng.integers(2, 5)):
        small = rng.uniform(4, 7)
        where = _place(rng, small, taken, 2)
        if where is None:
            continue
        if rng.random() < 0.5:  # a class shape in a neutral colour
            mask = shape_mask(SHAPES[rng.integers(len(SHAPES))], *where, small, rng.uniform(0, 2 * np.pi))
            paint = np.array(NEUTRALS[rng.integers(len(NEUTRALS))], float)
        else:  # a class colour on a shapeless blob (an ellipse)
            y, x = _grid()
            ry, rx = small, small * rng.uniform(0.4, 0.8)
            mask = ((y - where[0]) / ry) ** 2 + ((x - where[1]) / rx) ** 2 <= 1
            paint = np.array(list(COLOURS.values())[rng.integers(len(COLOURS))], float)
        image[mask] = paint + rng.normal(0, 8, size=3)
        taken |= mask

    rate = SHORTCUT_TRAIN_RATE if split == "train" else SHORTCUT_TEST_RATE
    marked = (split == "test" or label == SHORTCUT_CLASS) and rng.random() < rate
    shortcut = np.zeros((SIZE, SIZE), bool)
    if marked:
        top, left, bottom, right = SHORTCUT_BOX
        y, x = _grid()
        shortcut[top:bottom, left:right] = True
        checker = ((y.astype(int) + x.astype(int)) % 2 == 0)[top:bottom, left:right]
        image[top:bottom, left:right] = np.where(checker[..., None], 255.0, 0.0)
    return np.clip(np.round(image), 0, 255).astype(np.uint8), label, evidence, shortcut


def class_folder(name: str) -> str:
    return name.replace(" ", "-")


def build(out: str, train: int = 4000, test: int = 800, seed: int = 0) -> dict:
    """Writes the class-folder dataset, the evidence masks and benchmark.json under `out`."""
    from PIL import Image

    entries = []
    for split, count in (("train", train), ("test", test)):
        for index in range(count):
            image, label, evidence, shortcut = generate(split, index, seed)
            folder = os.path.join(split, class_folder(CLASSES[label][0]))
            name = f"{split}-{index:05d}.png"
            for kind, array in (("images", image), ("masks", evidence.astype(np.uint8) * 255)):
                os.makedirs(os.path.join(out, kind, folder), exist_ok=True)
                Image.fromarray(array).save(os.path.join(out, kind, folder, name), optimize=False)
            entries.append({"split": split, "index": index, "label": label,
                            "image": f"images/{folder}/{name}", "mask": f"masks/{folder}/{name}",
                            "shortcut": bool(shortcut.any())})
    description = {
        "format": "xaiws.benchmark/1",
        "seed": seed,
        "size": [SIZE, SIZE],
        "classes": [{"name": n, "shape": s, "colour": c, "texture": t} for n, s, c, t in CLASSES],
        "shortcut": {"class": SHORTCUT_CLASS, "trainRate": SHORTCUT_TRAIN_RATE, "testRate": SHORTCUT_TEST_RATE,
                     "box": {"top": SHORTCUT_BOX[0], "left": SHORTCUT_BOX[1], "bottom": SHORTCUT_BOX[2],
                             "right": SHORTCUT_BOX[3]}},
        "images": entries,
    }
    with open(os.path.join(out, "benchmark.json"), "w") as handle:
        json.dump(description, handle, indent=1)
    # What the app imports, with the splits (a class-folder import has none): path,label,split.
    with open(os.path.join(out, "benchmark.csv"), "w", newline="") as handle:
        rows = csv.writer(handle)
        rows.writerow(["path", "label", "split"])
        for entry in entries:
            rows.writerow([entry["image"], CLASSES[entry["label"]][0], entry["split"]])
    return description
