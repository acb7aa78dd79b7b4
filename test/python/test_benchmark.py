"""The colour benchmark with known evidence (training/benchmark.py): deterministic, balanced, its masks
covering exactly the class's object, its shortcut where the rule puts it, its files what it generates.

Run with Debian's interpreter: /usr/bin/python3 -m pytest test/python
"""
import json
import os

import numpy as np
import pytest
from PIL import Image

from training import benchmark
from training.benchmark import CLASSES, COLOURS, SHORTCUT_BOX, SHORTCUT_CLASS, generate

TRAIN = 400
TEST = 160


@pytest.fixture(scope="module")
def train():
    return [generate("train", i, seed=0) for i in range(TRAIN)]


@pytest.fixture(scope="module")
def test():
    return [generate("test", i, seed=0) for i in range(TEST)]


def _nearest_colour(pixels: np.ndarray) -> str:
    """The class colour nearest the mean of the brightest pixels (a texture's full-colour part)."""
    brightness = pixels.sum(axis=1)
    mean = pixels[brightness >= 0.8 * brightness.max()].mean(axis=0)
    return min(COLOURS, key=lambda name: np.linalg.norm(np.array(COLOURS[name], float) - mean))


def test_every_image_is_rebuilt_alike_from_its_seed_and_differs_with_another():
    for split, index in (("train", 0), ("train", 123), ("test", 7)):
        first, second = generate(split, index, seed=0), generate(split, index, seed=0)
        for a, b in zip(first, second):
            assert np.array_equal(a, b)
        other = generate(split, index, seed=1)
        assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(generate("train", 5)[0], generate("test", 5)[0])
    with pytest.raises(ValueError, match="unknown split 'val'"):
        generate("val", 0)


def test_splits_are_balanced_and_images_are_64_px_rgb(train, test):
    for images, count in ((train, TRAIN), (test, TEST)):
        labels = [label for _, label, _, _ in images]
        assert np.bincount(labels, minlength=len(CLASSES)).tolist() == [count // len(CLASSES)] * len(CLASSES)
        for image, _, evidence, shortcut in images[:20]:
            assert image.shape == (64, 64, 3) and image.dtype == np.uint8
            assert evidence.shape == shortcut.shape == (64, 64)


def test_the_evidence_mask_is_the_object_in_its_class_colour(train):
    sizes = []
    for image, label, evidence, shortcut in train:
        _, shape, colour, texture = CLASSES[label]
        sizes.append(evidence.sum())
        assert not (evidence & shortcut).any()
        # The object's pixels carry its class colour (textures darken it, they do not turn it).
        assert _nearest_colour(image[evidence].astype(float)) == colour, (label, shape)
        # Textured classes vary inside the object; solid ones only by noise.
        spread = image[evidence].astype(float).std(axis=0).max()
        assert (spread > 25) == (texture != "solid"), (label, texture, spread)
    # Objects of 10-15 px circumradius: from the cross's thin arms to the full disc.
    assert min(sizes) > 60 and max(sizes) < 750


def test_shapes_and_colours_alone_do_not_name_a_class(train):
    # Two pairs of classes share a shape, and class colours turn up outside the object, on distractors.
    shapes = [shape for _, shape, _, _ in CLASSES]
    assert len(set(shapes)) < len(shapes)
    outside = 0
    for image, label, evidence, _ in train[:80]:
        rest = image[~evidence].astype(float)
        for name, rgb in COLOURS.items():
            close = np.linalg.norm(rest - np.array(rgb, float), axis=1) < 30
            if close.sum() >= 15:
                outside += 1
                break
    assert outside >= 20


def test_the_shortcut_marks_one_class_in_training_and_every_class_in_test(train, test):
    top, left, bottom, right = SHORTCUT_BOX
    box = np.zeros((64, 64), bool)
    box[top:bottom, left:right] = True
    marked_train = [label for _, label, _, shortcut in train if shortcut.any()]
    assert set(marked_train) == {SHORTCUT_CLASS}
    class_count = TRAIN // len(CLASSES)
    assert 0.75 * class_count <= len(marked_train) <= class_count
    marked_test = [label for _, label, _, shortcut in test if shortcut.any()]
    assert set(marked_test) == set(range(len(CLASSES)))
    assert 0.35 * TEST <= len(marked_test) <= 0.65 * TEST
    for image, _, _, shortcut in train + test:
        if shortcut.any():
            assert np.array_equal(shortcut, box)
            values = set(np.unique(image[box]).tolist())
            assert values == {0, 255}


def test_build_writes_the_images_masks_and_description_it_generates(tmp_path):
    written = benchmark.build(str(tmp_path), train=16, test=8, seed=0)
    on_disk = json.loads((tmp_path / "benchmark.json").read_text())
    assert on_disk == json.loads(json.dumps(written))
    assert on_disk["format"] == "xaiws.benchmark/1"
    assert [c["name"] for c in on_disk["classes"]] == [name for name, _, _, _ in CLASSES]
    assert len(on_disk["images"]) == 24
    for entry in on_disk["images"][::5]:
        image, label, evidence, shortcut = generate(entry["split"], entry["index"], seed=0)
        assert entry["label"] == label and entry["shortcut"] == bool(shortcut.any())
        assert np.array_equal(np.array(Image.open(tmp_path / entry["image"])), image)
        assert np.array_equal(np.array(Image.open(tmp_path / entry["mask"])) > 0, evidence)
        # The folder names the class.
        assert os.path.basename(os.path.dirname(entry["image"])) == CLASSES[label][0].replace(" ", "-")
    # The CSV the app imports: every image once, with its class name and split.
    rows = (tmp_path / "benchmark.csv").read_text().splitlines()
    assert rows[0] == "path,label,split"
    expected = [f"{e['image']},{CLASSES[e['label']][0]},{e['split']}" for e in on_disk["images"]]
    assert rows[1:] == expected
