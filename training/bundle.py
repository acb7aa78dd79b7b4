"""Pack a trained bundle: bundle.json (roles, files with sha256, tensors, preprocessing, classes, quality
figures) and reference.json (fixed inputs and the torch outputs for them, which the app's tests
compare with onnxruntime's). The schema is documented in docs/MANIFEST.md."""
import hashlib
import json
import os

import torch

from . import cae, dxai, infodisent
from .common import load_idx_dataset, write_json

FORMAT = "xaiws.bundle/1"
REFERENCE_IMAGES = [0, 1, 2]  # test-split indices: an ankle boot, a pullover, a trouser


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def tensor(name: str, shape: list, dtype: str = "float32", **extra) -> dict:
    return {"name": name, "type": dtype, "shape": shape, **extra}


def _read(out_dir: str, name: str) -> dict:
    with open(os.path.join(out_dir, name)) as handle:
        return json.load(handle)


def load_models(out_dir: str, data):
    from .pipeline import classifier_of

    classifier = classifier_of(out_dir, data)
    generator = dxai.BranchedGenerator(len(data.classes))
    generator.load_state_dict(torch.load(os.path.join(out_dir, "dxai.pt")))
    autoencoder = cae.Cae()
    autoencoder.load_state_dict(torch.load(os.path.join(out_dir, "cae.pt")))
    state = torch.load(os.path.join(out_dir, "infodisent.pt"))
    head = infodisent.InfoDisentHead(state["skew"].shape[0], len(data.classes))
    head.load_state_dict(state)
    return classifier, generator.eval(), autoencoder.eval(), head.eval()


def _values(t: torch.Tensor) -> dict:
    return {"shape": list(t.shape), "data": [float(f"{v:.8g}") for v in t.flatten().tolist()]}


@torch.no_grad()
def reference(out_dir: str, data) -> dict:
    """The exporter's own outputs for fixed inputs: the tests feed the same inputs to onnxruntime."""
    classifier, generator, autoencoder, head = load_models(out_dir, data)
    pixels = data.test.pixels[REFERENCE_IMAGES]
    normalised = classifier.normalise(pixels)
    predicted = classifier(pixels).argmax(1)
    class_code, individual = autoencoder.encode(pixels)
    swapped = class_code.roll(1, 0)
    export = infodisent.InfoDisentExport(classifier.model.features, head).eval()
    logits, maps, evidence = export(normalised)
    return {
        "format": "xaiws.bundle-reference/1",
        "images": {"split": "test", "indices": REFERENCE_IMAGES, "labels": data.test.labels[REFERENCE_IMAGES].tolist()},
        "tolerance": 1e-4,
        "checks": [
            {"model": "classifier", "inputs": {"input": _values(normalised)}, "outputs": {"logits": _values(classifier(pixels))}},
            {"model": "dxai", "inputs": {"image": _values(pixels), "class": {"shape": [len(predicted)], "data": predicted.tolist(), "type": "int64"}},
             "outputs": {"branches": _values(generator(pixels, predicted).unsqueeze(2))}},
            {"model": "cae-encoder", "inputs": {"image": _values(pixels)},
             "outputs": {"class_code": _values(class_code), "individual_code": _values(individual)}},
            {"model": "cae-decoder", "inputs": {"individual_code": _values(individual), "class_code": _values(swapped)},
             "outputs": {"image": _values(autoencoder.decoder(individual, swapped))}},
            {"model": "infodisent", "inputs": {"input": _values(normalised)},
             "outputs": {"logits": _values(logits), "channel_maps": _values(maps), "evidence": _values(evidence)}},
        ],
    }


def export_all(out_dir: str, data) -> None:
    """ONNX files from the saved weights, so that the graphs and reference.json always agree."""
    classifier, generator, autoencoder, head = load_models(out_dir, data)
    dxai.export(generator, os.path.join(out_dir, "dxai.onnx"))
    cae.export(autoencoder, out_dir)
    infodisent.export(head, classifier, os.path.join(out_dir, "infodisent.onnx"))


def write(out_dir: str, data_dir: str) -> dict:
    data = load_idx_dataset(data_dir)
    export_all(out_dir, data)
    write_json(os.path.join(out_dir, "reference.json"), reference(out_dir, data))
    manifest = _read(out_dir, "classifier.manifest.json")
    reports = {role: _read(out_dir, f"{role}.report.json") for role in ("dxai", "cae", "infodisent")}
    classes, n = data.classes, "N"
    image = [n, 1, 28, 28]
    models = {
        "classifier": {
            "file": "classifier.onnx", "space": "normalised",
            "inputs": [tensor("input", image)], "outputs": [tensor("logits", [n, len(classes)])],
            "quality": {"testAccuracy": manifest["training"]["testAccuracy"]}, "training": manifest["training"],
        },
        "dxai": {
            "file": "dxai.onnx", "space": "pixel",
            "inputs": [tensor("image", image), tensor("class", [n], "int64")],
            "outputs": [tensor("branches", [n, 5, 1, 28, 28])],
            "branches": {"distinct": [0], "agnostic": [1, 2, 3, 4]},
            **{k: reports["dxai"][k] for k in ("quality", "training")},
        },
        "cae-encoder": {
            "file": "cae-encoder.onnx", "space": "pixel",
            "inputs": [tensor("image", image)],
            "outputs": [tensor("class_code", [n, cae.CODE_DIM]), tensor("individual_code", [n, 64, 7, 7])],
            **{k: reports["cae"][k] for k in ("quality", "training")},
        },
        "cae-decoder": {
            "file": "cae-decoder.onnx", "space": "pixel",
            "inputs": [tensor("individual_code", [n, 64, 7, 7]), tensor("class_code", [n, cae.CODE_DIM])],
            "outputs": [tensor("image", image)],
            "quality": reports["cae"]["quality"],
        },
        "infodisent": {
            "file": "infodisent.onnx", "space": "normalised",
            "inputs": [tensor("input", image)],
            "outputs": [tensor("logits", [n, len(classes)]), tensor("channel_maps", [n, 64, 7, 7]), tensor("evidence", [n, 64])],
            **{k: reports["infodisent"][k] for k in ("quality", "training")},
        },
    }
    data_files = {"caePrototypes": "cae-prototypes.json", "infodisentPrototypes": "infodisent-prototypes.json",
                  "infodisentAtlas": "infodisent-prototypes.png", "reference": "reference.json"}
    paths = [m["file"] for m in models.values()] + list(data_files.values())
    bundle = {
        "format": FORMAT,
        "name": "Fashion-MNIST demo CNN and its explainers",
        "dataset": {"name": data.name, "channels": 1, "height": 28, "width": 28},
        "classes": classes,
        "preprocessing": manifest["preprocessing"],
        "spaces": {
            "pixel": "float32 NCHW in [0, 1]: the 8-bit value / 255",
            "normalised": "the classifier's input: (pixel - mean) / std from preprocessing",
        },
        "models": models,
        "data": data_files,
        "files": [{"path": p, "sha256": sha256(os.path.join(out_dir, p)), "bytes": os.path.getsize(os.path.join(out_dir, p))}
                  for p in paths],
    }
    write_json(os.path.join(out_dir, "bundle.json"), bundle)
    total = sum(f["bytes"] for f in bundle["files"])
    print(f"bundle.json: {len(paths)} files, {total / 1e6:.1f} MB", flush=True)
    return bundle
