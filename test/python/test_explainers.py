"""Explainers for any classifier and dataset (training/explainers.py and what it stands on): the data
sources, the feature map InfoDisent attaches to in every torchvision family, the exported InfoDisent
graph, checkpoints that resume, gradient averaging over processes, and a short run end to end, alone
and under torchrun with two CPU processes (gloo).

Run with Debian's interpreter: /usr/bin/python3 -m pytest test/python
"""
import csv
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import onnx
import pytest
import torch
from PIL import Image

from training import classifiers, data as datasets, dxai, explainers, infodisent, loop
from training.common import ClassifierInPixelSpace, Dataset, Split
from training.onnx_torch import OnnxModule

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench", "models"))
import small_families  # noqa: E402

warnings.filterwarnings("ignore")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLASSES = ["disc", "square", "ring"]


def manifest(channels=3, height=32, width=32, **extra):
    return {"format": "xaiws.classifier/1", "name": "test", "input": {"channels": channels, "height": height,
                                                                      "width": width},
            "preprocessing": {"scale": 255, "mean": [0.5], "std": [0.25], "resize": "stretch"},
            "classes": CLASSES, **extra}


def write_images(root, per_class=6, size=(40, 30), splits=False):
    """Colour PNGs whose class is a colour channel; optional train/test folders."""
    rng = np.random.default_rng(0)
    paths = []
    for split in (["train", "test"] if splits else [None]):
        for c, name in enumerate(CLASSES):
            folder = os.path.join(root, *([split] if split else []), name)
            os.makedirs(folder, exist_ok=True)
            for i in range(per_class):
                array = (rng.random((size[1], size[0], 3)) * 60).astype(np.uint8)
                array[..., c] += 150
                path = os.path.join(folder, f"{i}.png")
                Image.fromarray(array).save(path)
                paths.append((path, name, split))
    return paths


def test_class_folders_csv_and_the_apps_selection_load_alike(tmp_path):
    paths = write_images(str(tmp_path / "folders"))
    by_folder = datasets.load(str(tmp_path / "folders"), manifest())
    assert by_folder.shape.tuple == (3, 32, 32)
    assert len(by_folder.train) + len(by_folder.test) == 18 and len(by_folder.test) > 0
    assert by_folder.train.pixels.dtype == torch.uint8
    # The label is the colour channel that dominates: decoding and resizing kept it.
    means = by_folder.train.at(slice(None)).mean((2, 3))
    assert (means.argmax(1) == by_folder.train.labels).all()
    rows = tmp_path / "set.csv"
    with open(rows, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "split"])
        for i, (path, name, _) in enumerate(paths):
            writer.writerow([os.path.relpath(path, tmp_path), name, "test" if i % 3 == 0 else "train"])
        writer.writerow(["folders/disc/0.png", "cat", "train"])  # a class the model does not have
    by_csv = datasets.load(str(rows), manifest())
    assert (len(by_csv.train), len(by_csv.test), by_csv.left_out) == (12, 6, 1)
    selection = tmp_path / "selection.json"
    selection.write_text(json.dumps({"format": "xaiws.training-set/1", "images": [
        {"path": os.path.relpath(p, tmp_path), "label": n, "split": "train" if i % 2 else "test"}
        for i, (p, n, _) in enumerate(paths)]}))
    assert len(datasets.load(str(selection), manifest()).train) == 9


def test_images_the_project_stores_as_pixels_are_read_from_the_raw_file(tmp_path):
    rng = np.random.default_rng(1)
    images = [(rng.random((28, 28, 1)) * 255).astype(np.uint8) for _ in range(6)]
    (tmp_path / "pixels.u8").write_bytes(b"".join(image.tobytes() for image in images))
    entries = [{"pixels": {"file": "pixels.u8", "offset": i * 784, "width": 28, "height": 28, "channels": 1},
                "label": CLASSES[i % 3], "split": "test" if i >= 3 else "train"} for i in range(6)]
    (tmp_path / "set.json").write_text(json.dumps({"format": "xaiws.training-set/1", "images": entries}))
    loaded = datasets.load(str(tmp_path / "set.json"), manifest(channels=1, height=28, width=28))
    assert torch.equal(loaded.train.pixels[1, 0], torch.from_numpy(images[1][..., 0]))
    assert loaded.test.labels.tolist() == [0, 1, 2]
    entries[5]["pixels"]["offset"] = 6 * 784
    (tmp_path / "set.json").write_text(json.dumps({"format": "xaiws.training-set/1", "images": entries}))
    with pytest.raises(datasets.DataError, match="run past the end"):
        datasets.load(str(tmp_path / "set.json"), manifest(channels=1, height=28, width=28))


def test_train_and_test_folders_grey_models_and_resize_rules(tmp_path):
    write_images(str(tmp_path), per_class=2, size=(60, 30), splits=True)
    grey = datasets.load(str(tmp_path), manifest(channels=1, height=28, width=28))
    assert grey.shape.tuple == (1, 28, 28) and len(grey.train) == len(grey.test) == 6
    image = Image.fromarray(np.full((30, 60, 3), 255, np.uint8))
    shape = datasets.Shape(3, 28, 28)
    contain = np.asarray(datasets._resize(image, shape, {"resize": "contain"}))
    assert contain[0].max() == 0 and contain[14].min() == 255  # letterboxed: black bars above and below
    cover = np.asarray(datasets._resize(image, shape, {"resize": "cover"}))
    assert cover.min() == 255


def test_bad_inputs_are_named(tmp_path):
    write_images(str(tmp_path / "set"), per_class=2)
    broken = tmp_path / "set" / "disc" / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    with pytest.raises(datasets.DataError, match="broken.png does not decode"):
        datasets.load(str(tmp_path / "set"), manifest())
    broken.unlink()
    with pytest.raises(datasets.DataError, match="over the 0 MiB"):
        datasets.load(str(tmp_path / "set"), manifest(), max_bytes=1000)
    other = manifest()
    other["classes"] = ["cat", "dog"]
    with pytest.raises(datasets.DataError, match="no image has one of the model's classes"):
        datasets.load(str(tmp_path / "set"), other)
    with pytest.raises(datasets.DataError, match="expected an IDX folder"):
        datasets.load(str(tmp_path / "nothing.txt"), manifest())


FEATURES = {  # family -> (kind, channels of the map)
    "resnet": ("channels-first", 512), "convnext": ("channels-first", 64), "efficientnet": ("channels-first", None),
    "densenet": ("channels-first", None), "maxvit": ("channels-first", None), "swin": (None, None),
    "vit": ("tokens", 32), "deit_distilled": ("tokens", 32), "mobilenet_v3": ("channels-first", None),
}


def export_family(name, tmp_path, opset=13):
    model, x = small_families.build(name)
    path = str(tmp_path / f"{name}.onnx")
    torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    h, w = x.shape[-2:]
    layers = small_families.LAYOUTS.get(name)
    spec = manifest(3, int(h), int(w), **({"layers": layers} if layers else {}))
    spec["classes"] = [f"c{i}" for i in range(small_families.CLASSES)]
    return model, x, path, spec


@pytest.mark.parametrize("name", sorted(FEATURES))
def test_infodisent_attaches_to_the_last_map_and_exports_what_torch_computes(name, tmp_path):
    torch.manual_seed(0)
    model, x, path, spec = export_family(name, tmp_path)
    loaded = classifiers.load(path, spec)
    kind, channels = FEATURES[name]
    if kind:
        assert loaded.feature.kind == kind
    if channels:
        assert loaded.feature.channels == channels
    if name == "deit_distilled":
        assert (loaded.feature.skip, loaded.feature.grid) == (2, (4, 6))
    batch = torch.cat([x, x.flip(-1)])
    with torch.no_grad():
        features, logits = loaded.backbone(batch)
        assert torch.allclose(logits, model(batch), atol=1e-4 * model(batch).abs().max())
        assert features.shape[1:] == (loaded.feature.channels, *loaded.feature.grid)
        head = infodisent.InfoDisentHead(loaded.feature.channels, small_families.CLASSES)
        head.skew.normal_(0, 0.1)
        head.weight.uniform_(0, 0.2)
        expected = head(features)
        graph = classifiers.infodisent_graph(onnx.load(path), loaded.feature, head.rotation(), head.weight, head.bias)
        got = OnnxModule(graph, ["logits", "channel_maps", "evidence"])(batch)
    for name_, value in zip(("logits", "channel_maps", "evidence"), expected):
        assert torch.allclose(got[name_], value, atol=1e-4 * max(value.abs().max().item(), 1e-6)), name_


def test_a_model_without_a_map_is_refused_by_name(tmp_path):
    mlp = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 3))
    path = str(tmp_path / "mlp.onnx")
    torch.onnx.export(mlp, torch.zeros(1, 3, 8, 8), path, opset_version=13)
    spec = manifest(3, 8, 8)
    with pytest.raises(classifiers.ClassifierError, match="no spatial feature map"):
        classifiers.load(path, spec)
    assert classifiers.load(path, spec, feature_map=False).backbone is None


def tiny_data(shape=(3, 32, 32), count=24):
    generator = torch.Generator().manual_seed(0)
    images = (torch.rand(count, *shape, generator=generator) * 255).byte()
    labels = torch.arange(count) % 3
    return Dataset("tiny", CLASSES, Split(images[:16], labels[:16]), Split(images[16:], labels[16:]), [0.5], [0.25])


def tiny_classifier():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, 2, 1), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(8, 3))
    return ClassifierInPixelSpace(net, [0.5], [0.25])


class Killed(RuntimeError):
    pass


def test_a_killed_run_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    data, classifier = tiny_data(), tiny_classifier()
    options = dict(steps=6, batch=4, width=4)
    saved = loop.Run.save

    def kill_after_step_4(self, step, *args, **kwargs):
        saved(self, step, *args, **kwargs)
        if step == 4:
            raise Killed()

    monkeypatch.setattr(loop, "CHECKPOINT_EVERY", 2)
    monkeypatch.setattr(loop.Run, "save", kill_after_step_4)
    with pytest.raises(Killed):
        dxai.train(data, classifier, torch.Generator().manual_seed(0), str(tmp_path), **options)
    checkpoint = torch.load(tmp_path / "checkpoints" / "dxai.ckpt")
    assert checkpoint["step"] == 4
    monkeypatch.setattr(loop.Run, "save", saved)
    starts = []
    resume = loop.Run.resume
    monkeypatch.setattr(loop.Run, "resume", lambda self, *a, **k: starts.append(resume(self, *a, **k)) or starts[-1])
    result = dxai.train(data, classifier, torch.Generator().manual_seed(0), str(tmp_path), **options)
    assert starts == [4]
    assert [entry["step"] for entry in result["history"]][-1] == 6
    assert torch.load(tmp_path / "checkpoints" / "dxai.ckpt")["step"] == 6
    # The same recipe trained longer goes on from the finished run's last checkpoint.
    starts.clear()
    result = dxai.train(data, classifier, torch.Generator().manual_seed(0), str(tmp_path), **{**options, "steps": 8})
    assert starts == [6]
    assert [entry["step"] for entry in result["history"]][-1] == 8
    # Another configuration, or fewer steps than the checkpoint has done, does not resume from it.
    starts.clear()
    dxai.train(data, classifier, torch.Generator().manual_seed(0), str(tmp_path), **{**options, "steps": 2})
    assert starts == [0]


def _average(rank, path, results):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(29500 + os.getpid() % 1000), RANK=str(rank),
                      WORLD_SIZE="2")
    torch.distributed.init_process_group("gloo", init_method=f"file://{path}", rank=rank, world_size=2)
    module = torch.nn.Linear(3, 2)
    torch.manual_seed(rank)  # different weights on each process: broadcast makes them rank 0's
    module.reset_parameters()
    loop.broadcast(module)
    module(torch.full((1, 3), float(rank + 1))).sum().backward()
    loop.average_gradients(module)
    results.put((rank, module.weight.detach().clone(), module.weight.grad.clone()))
    torch.distributed.destroy_process_group()


def test_gradients_are_averaged_over_processes(tmp_path):
    import torch.multiprocessing as mp

    context = mp.get_context("spawn")
    results = context.Queue()
    processes = [context.Process(target=_average, args=(rank, str(tmp_path / "rendezvous"), results))
                 for rank in range(2)]
    for process in processes:
        process.start()
    got = dict((rank, (w, g)) for rank, w, g in (results.get(timeout=120) for _ in processes))
    for process in processes:
        process.join(60)
    assert torch.equal(got[0][0], got[1][0])
    # Inputs of ones and twos: each row's gradient is the mean, 1.5, on both processes.
    assert torch.allclose(got[0][1], torch.full((2, 3), 1.5)) and torch.equal(got[0][1], got[1][1])


@pytest.fixture(scope="module")
def colour_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("colour")
    write_images(str(root / "images"), per_class=8)
    model, x = small_families.build("resnet")
    model.fc = torch.nn.Linear(model.fc.in_features, 3)
    path = str(root / "resnet.onnx")
    torch.onnx.export(model.eval(), torch.zeros(1, 3, 32, 32), path, opset_version=13, input_names=["input"],
                      output_names=["logits"], dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    spec = manifest()
    (root / "resnet.manifest.json").write_text(json.dumps(spec))
    return root


def run_toolkit(root, out, *extra, launcher=(sys.executable, "-m", "training")):
    command = [*launcher, "explainers", "--model", str(root / "resnet.onnx"), "--manifest",
               str(root / "resnet.manifest.json"), "--data", str(root / "images"), "--out", str(out),
               "--steps", "2", "--epochs", "1", "--threads", "1", *extra]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    return [json.loads(line[7:]) for line in done.stdout.splitlines() if line.startswith("@xaiws ")]


def test_a_short_run_writes_a_bundle_and_a_second_run_keeps_it(colour_set, tmp_path):
    events = run_toolkit(colour_set, tmp_path / "bundle")
    assert [e["stage"] for e in events if e["event"] == "stage"] == ["loading", "dxai", "cae", "infodisent", "bundle"]
    assert {e["role"] for e in events if e["event"] == "progress"} == {"dxai", "cae", "infodisent"}
    bundle = json.loads((tmp_path / "bundle" / "bundle.json").read_text())
    assert bundle["dataset"] == {"name": "images", "channels": 3, "height": 32, "width": 32}
    assert bundle["models"]["dxai"]["outputs"][0]["shape"] == ["N", 5, 3, 32, 32]
    # At 32 px ResNet's layer4 is 1 x 1: the last map with a spatial extent is layer3's.
    assert bundle["models"]["infodisent"]["outputs"][1]["shape"] == ["N", 256, 2, 2]
    with open(colour_set / "resnet.onnx", "rb") as a, open(tmp_path / "bundle" / "classifier.onnx", "rb") as b:
        assert a.read() == b.read()
    again = run_toolkit(colour_set, tmp_path / "bundle")
    assert {e["role"] for e in again if e["event"] == "kept"} == {"dxai", "cae", "infodisent"}
    assert not [e for e in again if e["event"] == "progress"]


# Debian's torch 1.13 torchrun reads "--redirects 0" as None under Python 3.11+ (IntFlag no longer
# iterates its zero member); a mapping for a rank that does not exist means "none" for every rank.
TORCHRUN = ("torchrun", "--standalone", "--nproc_per_node=2", "--redirects", "9:0", "--tee", "9:0", "-m", "training")


def test_a_torchscript_twin_trains_in_the_loop_and_the_bundle_keeps_the_onnx(colour_set, tmp_path):
    model, _ = small_families.build("resnet")
    model.fc = torch.nn.Linear(model.fc.in_features, 3)
    torch.onnx.export(model.eval(), torch.zeros(1, 3, 32, 32), str(tmp_path / "net.onnx"), opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    torch.jit.trace(model.eval(), torch.zeros(1, 3, 32, 32)).save(str(tmp_path / "net.pt"))
    spec = manifest()
    pixels = torch.rand(2, 3, 32, 32)
    scripted = classifiers.load(str(tmp_path / "net.pt"), spec, feature_map=False).pixel
    converted = classifiers.load(str(tmp_path / "net.onnx"), spec).pixel
    with torch.no_grad():
        assert torch.allclose(scripted(pixels), converted(pixels), atol=1e-4)
    with pytest.raises(classifiers.ClassifierError, match="no `features` submodule"):
        classifiers.load(str(tmp_path / "net.pt"), spec)
    (tmp_path / "net.manifest.json").write_text(json.dumps(spec))
    command = [sys.executable, "-m", "training", "explainers", "--model", str(tmp_path / "net.onnx"),
               "--torchscript", str(tmp_path / "net.pt"), "--manifest", str(tmp_path / "net.manifest.json"),
               "--data", str(colour_set / "images"), "--out", str(tmp_path / "bundle"), "--roles", "dxai",
               "--steps", "2", "--threads", "1"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    bundle = json.loads((tmp_path / "bundle" / "bundle.json").read_text())
    assert set(bundle["models"]) == {"classifier", "dxai"}


def test_torchrun_with_two_cpu_processes_writes_the_same_bundle_format(colour_set, tmp_path):
    events = run_toolkit(colour_set, tmp_path / "ddp", "--roles", "dxai,cae",
                         launcher=TORCHRUN)
    report = json.loads((tmp_path / "ddp" / "dxai.report.json").read_text())
    assert report["training"]["processes"] == 2
    bundle = json.loads((tmp_path / "ddp" / "bundle.json").read_text())
    assert set(bundle["models"]) == {"classifier", "dxai", "cae-encoder", "cae-decoder"}
    assert sum(1 for e in events if e["event"] == "done") == 1  # only rank 0 reports and writes


def test_steps_one_count_or_one_a_role():
    assert explainers.parse_steps("0") == 0
    assert explainers.parse_steps(300) == 300
    assert explainers.parse_steps("dxai=2800, cae=1600") == {"dxai": 2800, "cae": 1600}
    for bad in ("many", "infodisent=3", "dxai=x"):
        with pytest.raises(SystemExit, match="--steps"):
            explainers.parse_steps(bad)
