"""Any dataset a project can import, as the toolkit's `Dataset` at a model's input size (issue 18, point 2).

Sources, told apart by what the path is:
- a folder holding `train-images-idx3-ubyte.gz` and its label files (IDX, Fashion-MNIST's layout);
- a folder of class folders (`<class>/<image>`), or of `train/` and `test/` folders of class folders;
- a CSV file `path,label[,split]` (an optional header; paths relative to the CSV's folder);
- a JSON selection the app writes (`{"format": "xaiws.training-set/1", "images": [{"path", "label",
  "split"}]}`), the images of a dataset with their labels; images the project stores as pixels (IDX
  imports) are `{"pixels": {"file", "offset", "width", "height", "channels"}}` in one raw uint8 file,
  HWC, instead of a path.

Labels are class *names*, matched to the model's classes; images of other classes are left out and
counted. Without splits, or with only one, a stable fifth of each class (by a hash of the path) is the
test split.
Images are decoded with PIL (EXIF orientation applied), converted to the model's channels and resized
as its manifest says (stretch, contain, cover, centre crop), then kept as uint8. A file that does not
decode is named in the error; the whole set is bounded (`max_bytes`) before anything is decoded.
"""
import csv
import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np
import torch

from .common import Dataset, Split, load_idx_dataset
from .sizes import Shape

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
MAX_BYTES = 3 << 30  # uint8 pixels of both splits
MAX_FILE_BYTES = 64 << 20


class DataError(ValueError):
    pass


@dataclass(frozen=True)
class RawImage:
    """An image stored as pixels in a raw file (HWC uint8) at a byte offset."""

    file: str
    offset: int
    width: int
    height: int
    channels: int

    def __str__(self) -> str:
        return f"{self.file}@{self.offset}"

    def read(self) -> np.ndarray:
        count = self.width * self.height * self.channels
        if not (0 < self.width <= 4096 and 0 < self.height <= 4096 and self.channels in (1, 3)):
            raise DataError(f"{self}: {self.width} x {self.height} x {self.channels} is not an image the app stores")
        if self.offset < 0 or self.offset + count > os.path.getsize(self.file):
            raise DataError(f"{self}: the pixels run past the end of {self.file}")
        values = np.fromfile(self.file, dtype=np.uint8, count=count, offset=self.offset)
        return values.reshape(self.height, self.width, self.channels)


def _stable_splits(kept: list) -> list:
    """Splits for images without one: per class, the fifth (at least one of two or more) whose path
    hashes lowest is the test split, so the choice survives adding images elsewhere."""
    by_class = {}
    for number, (path, label, split) in enumerate(kept):
        if split not in ("train", "test"):
            by_class.setdefault(label, []).append(number)
    chosen = [split if split in ("train", "test") else "train" for _, _, split in kept]
    for numbers in by_class.values():
        if len(numbers) < 2:
            continue
        ranked = sorted(numbers, key=lambda n: hashlib.sha256("/".join(str(kept[n][0]).split(os.sep)[-2:]).encode()).digest())
        for n in ranked[: max(1, round(len(numbers) / 5))]:
            chosen[n] = "test"
    return chosen


def _class_folders(root: str):
    for name in sorted(os.listdir(root)):
        folder = os.path.join(root, name)
        if not os.path.isdir(folder):
            continue
        for file in sorted(os.listdir(folder)):
            if file.lower().endswith(IMAGE_SUFFIXES):
                yield os.path.join(folder, file), name


def entries_of(source: str):
    """(path, class name, split or None) for every image of a source."""
    if os.path.isdir(source):
        if all(os.path.isdir(os.path.join(source, s)) for s in ("train", "test")):
            return [(p, c, s) for s in ("train", "test") for p, c in _class_folders(os.path.join(source, s))]
        return [(p, c, None) for p, c in _class_folders(source)]
    if source.lower().endswith(".json"):
        with open(source) as handle:
            selection = json.load(handle)
        if selection.get("format") != "xaiws.training-set/1":
            raise DataError(f"{source} is not a training set written by the app (format {selection.get('format')!r})")
        base = os.path.dirname(os.path.abspath(source))

        def where(entry):
            if "pixels" in entry:
                raw = entry["pixels"]
                return RawImage(os.path.join(base, raw["file"]), int(raw["offset"]), int(raw["width"]),
                                int(raw["height"]), int(raw["channels"]))
            return os.path.join(base, entry["path"])

        return [(where(e), str(e["label"]), e.get("split")) for e in selection["images"]]
    if source.lower().endswith(".csv"):
        base = os.path.dirname(os.path.abspath(source))
        rows = []
        with open(source, newline="") as handle:
            for number, row in enumerate(csv.reader(handle), 1):
                if not row or not row[0].strip():
                    continue
                if number == 1 and row[0].strip().lower() == "path":
                    continue
                if len(row) < 2 or not row[1].strip():
                    raise DataError(f"{source} row {number}: expected path,label[,split], got {row!r}")
                split = row[2].strip().lower() if len(row) > 2 and row[2].strip() else None
                rows.append((os.path.join(base, row[0].strip()), row[1].strip(), split))
        return rows
    raise DataError(f"{source}: expected an IDX folder, a folder of class folders, a CSV or a training-set JSON")


def _resize(image, shape: Shape, preprocessing: dict):
    """The model's resize rule (docs/MANIFEST.md): stretch, contain (letterbox, black) or cover, then crop."""
    from PIL import Image

    mode = preprocessing.get("resize", "stretch")
    crop = float(preprocessing.get("crop", 1.0))
    width, height = round(shape.width / crop), round(shape.height / crop)
    if mode == "stretch":
        image = image.resize((width, height), Image.BILINEAR)
    else:
        ratio = (max if mode == "cover" else min)(width / image.width, height / image.height)
        scaled = image.resize((max(1, round(image.width * ratio)), max(1, round(image.height * ratio))), Image.BILINEAR)
        canvas = Image.new(image.mode, (width, height))
        canvas.paste(scaled, ((width - scaled.width) // 2, (height - scaled.height) // 2))
        image = canvas
    left, top = (width - shape.width) // 2, (height - shape.height) // 2
    return image.crop((left, top, left + shape.width, top + shape.height))


def decode(path, shape: Shape, preprocessing: dict) -> np.ndarray:
    from PIL import Image, ImageOps

    if isinstance(path, RawImage):
        pixels = path.read()
        image = Image.fromarray(pixels[..., 0] if pixels.shape[2] == 1 else pixels)
        image = image.convert("L" if shape.channels == 1 else "RGB")
        array = np.asarray(_resize(image, shape, preprocessing), dtype=np.uint8)
        return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
    size = os.path.getsize(path)
    if size > MAX_FILE_BYTES:
        raise DataError(f"{path}: {size} bytes is over the {MAX_FILE_BYTES >> 20} MiB an image may have")
    try:
        with Image.open(path) as opened:
            if opened.width * opened.height > 100_000_000:
                raise DataError(f"{path}: {opened.width} x {opened.height} pixels is too large to decode")
            image = ImageOps.exif_transpose(opened).convert("L" if shape.channels == 1 else "RGB")
    except DataError:
        raise
    except Exception as error:  # PIL's errors for truncated or foreign files vary by format
        raise DataError(f"{path} does not decode as an image: {error}") from None
    array = np.asarray(_resize(image, shape, preprocessing), dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def load(source: str, manifest: dict, max_bytes: int = MAX_BYTES, progress=None) -> Dataset:
    """The images of `source` at the model's input, labelled by the model's class indices."""
    inputs = manifest["input"]
    shape = Shape(int(inputs["channels"]), int(inputs["height"]), int(inputs["width"]))
    classes = list(manifest["classes"])
    preprocessing = manifest.get("preprocessing", {})
    if os.path.isdir(source) and os.path.exists(os.path.join(source, "train-images-idx3-ubyte.gz")):
        data = load_idx_dataset(source, classes=classes)
        if data.shape != shape:
            raise DataError(f"{source}: IDX images are {data.shape.tuple}, the model takes {shape.tuple}")
        return data
    entries = entries_of(source)
    index = {name: i for i, name in enumerate(classes)}
    kept = [(p, index[c], s) for p, c, s in entries if c in index]
    if not kept:
        found = sorted({c for _, c, _ in entries})[:8]
        raise DataError(f"{source}: no image has one of the model's classes (found {found}, the model has {classes[:8]})")
    per_image = shape.channels * shape.height * shape.width
    if len(kept) * per_image > max_bytes:
        raise DataError(f"{source}: {len(kept)} images at {shape.tuple} need {len(kept) * per_image >> 20} MiB, "
                        f"over the {max_bytes >> 20} MiB the toolkit keeps; select fewer images")
    chosen = _stable_splits(kept)
    if "train" not in chosen or "test" not in chosen:
        # One split only (an IDX test file, a folder marked all "train"): a stable fifth of each class tests.
        chosen = _stable_splits([(path, label, None) for path, label, _ in kept])
    splits = {"train": ([], []), "test": ([], [])}
    for number, ((path, label, _), split) in enumerate(zip(kept, chosen)):
        splits[split][0].append(decode(path, shape, preprocessing))
        splits[split][1].append(label)
        if progress and (number + 1) % 500 == 0:
            progress(number + 1, len(kept))
    for name in ("train", "test"):
        if not splits[name][0]:
            raise DataError(f"{source}: the {name} split is empty")

    def split_of(name):
        images, labels = splits[name]
        return Split(torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64))

    name = os.path.basename(os.path.normpath(source))
    data = Dataset(name, classes, split_of("train"), split_of("test"),
                   list(preprocessing.get("mean", [0.0])), list(preprocessing.get("std", [1.0])))
    data.left_out = len(entries) - len(kept)
    return data
