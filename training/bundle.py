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
def reference_checks(pixels: torch.Tensor, classifier, generator=None, autoencoder=None, head=None,
                     infodisent_module=None) -> list:
    """The exporter's own outputs for fixed inputs: the app's tests feed the same inputs to onnxruntime.
    `infodisent_module`: normalised input -> (logits, maps, evidence), the torch twin of infodisent.onnx."""
    normalised = classifier.normalise(pixels)
    predicted = classifier(pixels).argmax(1)
    checks = [{"model": "classifier", "inputs": {"input": _values(normalised)},
               "outputs": {"logits": _values(classifier(pixels))}}]
    if generator is not None:
        checks.append({"model": "dxai", "inputs": {"image": _values(pixels), "class": {
            "shape": [len(predicted)], "data": predicted.tolist(), "type": "int64"}},
            "outputs": {"branches": _values(generator(pixels, predicted))}})
    if autoencoder is not None:
        class_code, individual = autoencoder.encode(pixels)
        swapped = class_code.roll(1, 0)
        checks.append({"model": "cae-encoder", "inputs": {"image": _values(pixels)},
                       "outputs": {"class_code": _values(class_code), "individual_code": _values(individual)}})
        checks.append({"model": "cae-decoder", "inputs": {"individual_code": _values(individual),
                                                          "class_code": _values(swapped)},
                       "outputs": {"image": _values(autoencoder.decoder(individual, swapped))}})
    if head is not None:
        logits, maps, evidence = infodisent_module(normalised)
        checks.append({"model": "infodisent", "inputs": {"input": _values(normalised)},
                       "outputs": {"logits": _values(logits), "channel_maps": _values(maps),
                                   "evidence": _values(evidence)}})
    return checks


@torch.no_grad()
def reference(out_dir: str, data) -> dict:
    classifier, generator, autoencoder, head = load_models(out_dir, data)
    export = infodisent.InfoDisentExport(classifier.model.features, head).eval()
    return {
        "format": "xaiws.bundle-reference/1",
        "images": {"split": "test", "indices": REFERENCE_IMAGES, "labels": data.test.labels[REFERENCE_IMAGES].tolist()},
        "tolerance": 1e-4,
        "checks": reference_checks(data.test.at(REFERENCE_IMAGES), classifier, generator, autoencoder, head, export),
    }


def export_all(out_dir: str, data) -> None:
    """ONNX files from the saved weights, so that the graphs and reference.json always agree."""
    classifier, generator, autoencoder, head = load_models(out_dir, data)
    dxai.export(generator, os.path.join(out_dir, "dxai.onnx"))
    cae.export(autoencoder, out_dir)
    infodisent.export(head, classifier, os.path.join(out_dir, "infodisent.onnx"))


def describe(shape, classes: list, classifier_io: tuple, reports: dict, generator=None, autoencoder=None,
             head_channels: int = None, feature_grid=None) -> dict:
    """bundle.json's "models": the classifier and whichever explainers were trained."""
    n = "N"
    image = [n, *shape.tuple]
    (input_name, input_shape), (output_name, classifier_quality, classifier_training) = classifier_io
    models = {"classifier": {
        "file": "classifier.onnx", "space": "normalised",
        "inputs": [tensor(input_name, input_shape)], "outputs": [tensor(output_name, [n, len(classes)])],
        "quality": classifier_quality, **({"training": classifier_training} if classifier_training else {}),
    }}
    if generator is not None:
        models["dxai"] = {
            "file": "dxai.onnx", "space": "pixel",
            "inputs": [tensor("image", image), tensor("class", [n], "int64")],
            "outputs": [tensor("branches", [n, generator.branches, *shape.tuple])],
            "branches": {"distinct": [0], "agnostic": list(range(1, generator.branches))},
            **{k: reports["dxai"][k] for k in ("quality", "training")},
        }
    if autoencoder is not None:
        individual = autoencoder.individual_shape
        models["cae-encoder"] = {
            "file": "cae-encoder.onnx", "space": "pixel", "inputs": [tensor("image", image)],
            "outputs": [tensor("class_code", [n, cae.CODE_DIM]), tensor("individual_code", [n, *individual])],
            **{k: reports["cae"][k] for k in ("quality", "training")},
        }
        models["cae-decoder"] = {
            "file": "cae-decoder.onnx", "space": "pixel",
            "inputs": [tensor("individual_code", [n, *individual]), tensor("class_code", [n, cae.CODE_DIM])],
            "outputs": [tensor("image", image)], "quality": reports["cae"]["quality"],
        }
    if head_channels is not None:
        models["infodisent"] = {
            "file": "infodisent.onnx", "space": "normalised", "inputs": [tensor(input_name, input_shape)],
            "outputs": [tensor("logits", [n, len(classes)]), tensor("channel_maps", [n, head_channels, *feature_grid]),
                        tensor("evidence", [n, head_channels])],
            **{k: reports["infodisent"][k] for k in ("quality", "training")},
        }
    return models


def finish(out_dir: str, name: str, dataset: dict, classes: list, preprocessing: dict, models: dict) -> dict:
    """Hash every file and write bundle.json."""
    data_files = {}
    if "cae-encoder" in models:
        data_files["caePrototypes"] = "cae-prototypes.json"
    if "infodisent" in models:
        data_files.update(infodisentPrototypes="infodisent-prototypes.json", infodisentAtlas="infodisent-prototypes.png")
    data_files["reference"] = "reference.json"
    paths = [m["file"] for m in models.values()] + list(data_files.values())
    bundle = {
        "format": FORMAT,
        "name": name,
        "dataset": dataset,
        "classes": classes,
        "preprocessing": preprocessing,
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


def write(out_dir: str, data_dir: str) -> dict:
    """The Fashion-MNIST demo's bundle."""
    data = load_idx_dataset(data_dir)
    export_all(out_dir, data)
    write_json(os.path.join(out_dir, "reference.json"), reference(out_dir, data))
    manifest = _read(out_dir, "classifier.manifest.json")
    reports = {role: _read(out_dir, f"{role}.report.json") for role in ("dxai", "cae", "infodisent")}
    _, generator, autoencoder, head = load_models(out_dir, data)
    shape = data.shape
    models = describe(shape, data.classes, (("input", ["N", *shape.tuple]),
                                            ("logits", {"testAccuracy": manifest["training"]["testAccuracy"]},
                                             manifest["training"])),
                      reports, generator, autoencoder, head.skew.shape[0], [7, 7])
    dataset = {"name": data.name, "channels": shape.channels, "height": shape.height, "width": shape.width}
    return finish(out_dir, "Fashion-MNIST demo CNN and its explainers", dataset, data.classes,
                  manifest["preprocessing"], models)
