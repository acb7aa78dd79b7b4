"""One short training step of every explainer model and its ONNX export, on a slice of Fashion-MNIST.

Run with Debian's interpreter: /usr/bin/python3 -m pytest test/python
"""
import copy
import json
import os

import onnx
import pytest
import torch

from training import bundle, cae, dxai, infodisent
from training.common import ClassifierInPixelSpace, Dataset, Split, load_idx_dataset, seed_everything
from training.classifier import SmallCnn

DATA = "/usr/share/datasets/fashion-mnist"


@pytest.fixture(scope="module")
def data():
    full = load_idx_dataset(DATA)
    return Dataset(full.name, full.classes, full.train.head(512), full.test.head(64), full.mean, full.std)


@pytest.fixture(scope="module")
def classifier(data):
    torch.manual_seed(0)
    return ClassifierInPixelSpace(SmallCnn(len(data.classes)).eval(), data.mean, data.std)


def changed(before: torch.nn.Module, after: torch.nn.Module) -> bool:
    return any(not torch.equal(a, b) for a, b in zip(before.state_dict().values(), after.state_dict().values()))


def graph_io(path: str):
    model = onnx.load(path)
    onnx.checker.check_model(model)

    def describe(values):
        return {v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in values}

    return describe(model.graph.input), describe(model.graph.output)


def test_dxai_step_and_export(data, classifier, tmp_path):
    generator = seed_everything(0, 1)
    initial = dxai.BranchedGenerator(len(data.classes))
    result = dxai.train(data, classifier, generator, steps=2, batch=16)
    assert changed(initial, result["model"])
    assert all(torch.isfinite(torch.tensor(list(h.values()))).all() for h in result["history"])
    branches = result["model"](data.test.at(slice(0, 4)), data.test.labels[:4])
    assert branches.shape == (4, 5, 1, 28, 28)
    # Grouped convolutions keep branches apart: a branch's output does not depend on another's weights.
    with torch.no_grad():
        head = result["model"].head[2]
        altered = copy.deepcopy(result["model"])
        altered.head[2].weight[1:] += 1.0
        again = altered(data.test.at(slice(0, 4)), data.test.labels[:4])
    assert torch.allclose(again[:, 0], branches[:, 0]) and not torch.allclose(again[:, 1], branches[:, 1])
    assert head.groups == 5
    path = tmp_path / "dxai.onnx"
    dxai.export(result["model"], str(path))
    inputs, outputs = graph_io(str(path))
    assert inputs == {"image": ["batch", 1, 28, 28], "class": ["batch"]}
    assert outputs == {"branches": ["batch", 5, 1, 28, 28]}


class _NothingDistinct(torch.nn.Module):
    """A decomposition with an empty distinct branch: the whole image is class-agnostic."""

    def forward(self, pixels, label):
        zero = torch.zeros_like(pixels)
        return torch.stack([zero, pixels, zero, zero, zero], 1)


def test_dxai_metrics(data, classifier):
    quality = dxai.evaluate(_NothingDistinct(), classifier, data, classifier.model.features[8], batch=16)
    accuracy = float((classifier(data.test.at(slice(None))).argmax(1) == data.test.labels).float().mean())
    assert quality["images"] == 64
    assert quality["globalBeta"]["dxai"]["auc"] == pytest.approx(1.0)  # removing nothing keeps the accuracy
    assert quality["globalBeta"]["dxai"]["accuracy"][0] == pytest.approx(accuracy, abs=1e-4)
    assert quality["agnosticAccuracy"] == pytest.approx(accuracy, abs=1e-4)  # image - 0 is the image
    assert quality["reconstructionPsnr"] >= 100 and quality["distinctShareOfIntensity"] == 0
    removal = quality["globalBeta"]["gradCam"]["accuracy"]
    assert removal[0] == pytest.approx(accuracy, abs=1e-4) and len(removal) == 11
    cam = dxai.grad_cam(classifier, data.test.at(slice(0, 8)), data.test.labels[:8], classifier.model.features[8])
    assert cam.shape == (8, 1, 28, 28) and (cam >= 0).all()


def test_cae_step_and_export(data, classifier, tmp_path):
    generator = seed_everything(0, 1)
    initial = cae.Cae()
    result = cae.train(data, generator, steps=2, batch=16)
    model = result["model"]
    assert changed(initial, model)
    code, individual = model.encode(data.test.at(slice(0, 4)))
    assert code.shape == (4, cae.CODE_DIM) and individual.shape == (4, 64, 7, 7)
    image = model.decoder(individual, code)
    assert image.shape == (4, 1, 28, 28) and (image >= 0).all() and (image <= 1).all()
    prototypes = cae.prototypes(model, data, generator, per_class=2)
    assert prototypes.shape == (len(data.classes), 2, cae.CODE_DIM)
    flip, flipped_to, target = cae.straight_paths(model, classifier, data.test.at(slice(0, 16)), prototypes, steps=4)
    assert ((flip >= 0) & (flip <= 4)).all()
    assert ((flip == 0) == (flipped_to == -1)).all()
    cae.export(model, str(tmp_path))
    cae.write_prototypes(prototypes, data.classes, str(tmp_path))
    inputs, outputs = graph_io(str(tmp_path / "cae-encoder.onnx"))
    assert inputs == {"image": ["batch", 1, 28, 28]}
    assert outputs == {"class_code": ["batch", 8], "individual_code": ["batch", 64, 7, 7]}
    inputs, outputs = graph_io(str(tmp_path / "cae-decoder.onnx"))
    assert inputs == {"individual_code": ["batch", 64, 7, 7], "class_code": ["batch", 8]}
    assert outputs == {"image": ["batch", 1, 28, 28]}
    stored = json.loads((tmp_path / "cae-prototypes.json").read_text())
    assert len(stored["classes"]) == 10 and len(stored["classes"][0]["prototypes"]) == 2


def test_kmeans_finds_separated_clusters():
    generator = torch.Generator().manual_seed(0)
    points = torch.cat([torch.randn(50, 2, generator=generator) * 0.1 + c for c in (torch.tensor([5.0, 0]), torch.tensor([-5.0, 0]))])
    centres = cae.kmeans(points, 2, generator)
    assert sorted(round(float(c[0])) for c in centres) == [-5, 5]


def test_infodisent_head(data, classifier, tmp_path):
    generator = seed_everything(0, 1)
    result = infodisent.train(data, classifier, generator, epochs=1, batch=64)
    head = result["model"]
    rotation = head.rotation()
    assert torch.allclose(rotation @ rotation.t(), torch.eye(64), atol=1e-5)
    assert not torch.allclose(rotation, torch.eye(64))  # the mixing trained
    assert (head.weight >= 0).all()
    features, predicted = infodisent.features_of(classifier, data.test.head(4))
    assert torch.equal(predicted, classifier(data.test.at(slice(0, 4))).argmax(1))
    logits, maps, evidence = head(features)
    flat = maps.flatten(2)
    assert torch.allclose(evidence, flat.clamp(min=0).amax(2) - (-flat).clamp(min=0).amax(2))
    # The straight-through Gumbel pooling has the hard max as its forward value.
    assert torch.allclose(head.pool(maps, tau=0.5, generator=generator), evidence, atol=1e-6)
    infodisent.write_prototypes(head, classifier, data, str(tmp_path))
    stored = json.loads((tmp_path / "infodisent-prototypes.json").read_text())
    assert len(stored["channels"]) == 64 and len(stored["channels"][5]["patches"]) == 8
    assert stored["patchSize"] == 16
    assert (tmp_path / "infodisent-prototypes.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    infodisent.export(head, classifier, str(tmp_path / "infodisent.onnx"))
    inputs, outputs = graph_io(str(tmp_path / "infodisent.onnx"))
    assert inputs == {"input": ["batch", 1, 28, 28]}
    assert outputs == {"logits": ["batch", 10], "channel_maps": ["batch", 64, 7, 7], "evidence": ["batch", 64]}


def test_committed_bundle_hashes_match():
    folder = "resources/models/fashion-mnist-cnn"
    manifest = json.load(open(os.path.join(folder, "bundle.json")))
    assert manifest["format"] == bundle.FORMAT
    for entry in manifest["files"]:
        assert bundle.sha256(os.path.join(folder, entry["path"])) == entry["sha256"], entry["path"]
    total = sum(os.path.getsize(os.path.join(folder, name)) for name in os.listdir(folder))
    assert total < 40 * 1024 * 1024


def test_cam_reference_is_deterministic_and_matches_the_committed_fixture(tmp_path):
    """The reference maps the TypeScript engine is tested against (test/fixtures/cam, checked there
    against the committed ONNX models) come from this script. Seeded with deterministic algorithms, it
    gives the same maps bit for bit on one machine; across machines the brief training does not (the
    CPU's vector width changes float summation order: the committed plain model trained to loss 0.7161,
    an AVX-512 machine gets 0.739), so what is compared with the committed fixture is its structure:
    the architectures, their ops, the layers explained and their tensors and shapes."""
    import base64
    import json
    import numpy as np
    from training import cam_reference

    first = cam_reference.build(str(tmp_path / "first"), DATA, steps=60)
    second = cam_reference.build(str(tmp_path / "second"), DATA, steps=60)
    decode = lambda text: np.frombuffer(base64.b64decode(text), dtype="<f4")
    for a, b in zip(first["models"], second["models"]):
        for layer_a, layer_b in zip(a["layers"], b["layers"]):
            for case_a, case_b in zip(layer_a["cases"], layer_b["cases"]):
                assert case_a["chosen"] == case_b["chosen"]
                for method in cam_reference.METHODS:
                    assert np.array_equal(decode(case_a["maps"][method]), decode(case_b["maps"][method])), (a["name"], method)
    with open("test/fixtures/cam/reference.json") as handle:
        committed = json.load(handle)
    assert committed["methods"] == cam_reference.METHODS
    assert [m["name"] for m in first["models"]] == [m["name"] for m in committed["models"]]
    for new, old in zip(first["models"], committed["models"]):
        assert new["ops"] == old["ops"], new["name"]
        assert [(l["module"], l["tensor"], l["shape"]) for l in new["layers"]] == [(l["module"], l["tensor"], l["shape"]) for l in old["layers"]]
        for layer in old["layers"]:
            for case in layer["cases"]:
                for method in cam_reference.METHODS:
                    assert decode(case["maps"][method]).size == len(old["layers"][0]["cases"][0]["chosen"]) * int(np.prod(layer["shape"]))
