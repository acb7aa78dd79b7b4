"""Train the explainers for any registered classifier and any dataset a project can import (issue 18).

    /usr/bin/python3 -m training explainers --model M.onnx --manifest M.manifest.json --data SOURCE --out DIR
                                            [--roles dxai,cae,infodisent] [--steps N | --steps dxai=N,cae=M]
                                            [--epochs N] [--seed 0]

The classifier is an ONNX file (run in torch by onnx_torch, so gradients reach DXAI's generator) or a
TorchScript file, described by its manifest (docs/MANIFEST.md); SOURCE is what training/data.py reads.
DIR becomes an explainer bundle (docs/MANIFEST.md, "Bundles"): the classifier's file copied in (the app
finds a bundle beside the registered model's file, by its hash), the explainers' weights, ONNX files,
reports, prototypes, reference.json and bundle.json. The networks' sizes follow training/sizes.py.

A run that is stopped and started again with the same arguments resumes: finished roles (their report
names the same configuration) are kept, an unfinished one continues from its last checkpoint, and one
started again with more steps goes on from where the shorter run ended (training longer). Progress
goes to stdout as `@xaiws {json}` lines (training/loop.py) besides the log. Under `torchrun` every
process trains on its share of each batch and rank 0 writes the bundle.
"""
import hashlib
import json
import os
import shutil
import time

import torch

from . import bundle, cae, classifiers, data as datasets, dxai, infodisent, preview
from .common import seed_everything, write_json
from .loop import emit, init_distributed, is_main, world
from .pipeline import machine
from .sizes import defaults

ROLES = ("dxai", "cae", "infodisent")


def _copy_classifier(model_path: str, out_dir: str) -> None:
    """classifier.onnx in the bundle: a hard link where the file system allows, else a copy; external
    weight files come along under their own names."""
    target = os.path.join(out_dir, "classifier.onnx")
    if os.path.exists(target) and os.path.samefile(model_path, target):
        return
    if os.path.exists(target):
        os.remove(target)
    try:
        os.link(model_path, target)
    except OSError:
        shutil.copyfile(model_path, target)
    import onnx

    model = onnx.load(model_path, load_external_data=False)
    locations = {entry.value for t in model.graph.initializer for entry in t.external_data if entry.key == "location"}
    for location in locations:
        source = os.path.join(os.path.dirname(model_path), location)
        destination = os.path.join(out_dir, location)
        if not os.path.exists(destination):
            shutil.copyfile(source, destination)


def _key(role: str, config: dict, fingerprint: str) -> str:
    text = json.dumps({"role": role, "config": config, "fingerprint": fingerprint}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _finished(out_dir: str, role: str, key: str) -> bool:
    path = os.path.join(out_dir, f"{role}.report.json")
    if not os.path.exists(path) or not os.path.exists(os.path.join(out_dir, f"{role}.pt")):
        return False
    with open(path) as handle:
        return json.load(handle).get("training", {}).get("key") == key


def _report(out_dir: str, role: str, result: dict, quality: dict, key: str, seed: int) -> dict:
    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in result["config"].items()}
    report = {"role": role, "quality": quality,
              "training": {"seconds": round(result["seconds"], 1), "seed": seed, "machine": machine(),
                           "processes": world()[1],
                           "torch": torch.__version__, "config": config, "key": key,
                           "history": result["history"][-50:]}}
    write_json(os.path.join(out_dir, f"{role}.report.json"), report)
    return report


def _fingerprint(model_path: str, data) -> str:
    digest = hashlib.sha256()
    digest.update(str(os.path.getsize(model_path)).encode())
    for split in (data.train, data.test):
        digest.update(str(tuple(split.pixels.shape)).encode())
        digest.update(split.labels.numpy().tobytes())
        digest.update(split.pixels[:: max(1, len(split) // 64)].numpy().tobytes())
    return digest.hexdigest()


def train(model_path: str, manifest: dict, source: str, out_dir: str, roles=ROLES, steps: int = 0, epochs: int = 0,
          seed: int = 0, threads: int = 2, evaluate_limit: int = 2000, torchscript: str = None) -> dict:
    """`torchscript`: the same classifier as a TorchScript file, run in the training loop instead of the
    ONNX graph (a PyTorch user's own module); the bundle still holds the ONNX file the app runs."""
    init_distributed()
    generator = seed_everything(seed, threads)
    os.makedirs(out_dir, exist_ok=True)
    emit({"event": "stage", "stage": "loading"})
    loaded = classifiers.load(model_path, manifest, feature_map="infodisent" in roles)
    if torchscript:
        loaded.pixel = classifiers.load(torchscript, manifest, feature_map=False).pixel
    data = datasets.load(source, manifest, progress=lambda done, total: emit(
        {"event": "loading", "done": done, "total": total}))
    shape = data.shape
    emit({"event": "data", "train": len(data.train), "test": len(data.test), "leftOut": getattr(data, "left_out", 0),
          "shape": list(shape.tuple)})
    fingerprint = _fingerprint(model_path, data)
    pixel = loaded.pixel
    sized = defaults(shape)
    reports, trained = {}, {}
    for role in ROLES:
        if role not in roles:
            continue
        options = dict(sized[role])
        role_steps = steps.get(role, 0) if isinstance(steps, dict) else steps
        if role_steps and role != "infodisent":
            options["steps"] = role_steps
        if epochs and role == "infodisent":
            options["epochs"] = epochs
        key = _key(role, options, fingerprint)
        emit({"event": "stage", "stage": role})
        if _finished(out_dir, role, key):
            emit({"event": "kept", "role": role})
            trained[role] = _load_role(role, out_dir, data, loaded)
            with open(os.path.join(out_dir, f"{role}.report.json")) as handle:
                reports[role] = json.load(handle)
            continue
        generator = torch.Generator().manual_seed(seed + ROLES.index(role))
        if role == "dxai":
            result = dxai.train(data, pixel, generator, out_dir, _previewer(out_dir, "dxai", data, pixel), **options)
            quality = dxai.evaluate(result["model"], pixel, data, _cam_layer(loaded), evaluate_limit)
        elif role == "cae":
            result = cae.train(data, generator, out_dir, _previewer(out_dir, "cae", data, pixel), **options)
            quality = None
        else:
            result = infodisent.train(data, pixel, generator, loaded.backbone, out_dir, **options)
            quality = None
        if not is_main():
            continue
        torch.save(result["model"].state_dict(), os.path.join(out_dir, f"{role}.pt"))
        if role == "cae":
            protos = cae.prototypes(result["model"], data, generator)
            cae.write_prototypes(protos, data.classes, out_dir)
            quality = cae.evaluate(result["model"], pixel, data, protos, limit=evaluate_limit)
        if role == "infodisent":
            infodisent.write_prototypes(result["model"], pixel, data, out_dir, loaded.backbone)
            quality = infodisent.evaluate(result["model"], pixel, data, loaded.backbone)
        reports[role] = _report(out_dir, role, result, quality, key, seed)
        trained[role] = result["model"]
        emit({"event": "quality", "role": role, "quality": quality})
    if not is_main():
        return {}
    emit({"event": "stage", "stage": "bundle"})
    return write_bundle(out_dir, model_path, manifest, data, loaded, trained, reports)


def _previewer(out_dir: str, role: str, data, classifier):
    """preview(model, step): the role's preview PNG (training/preview.py) and an event naming it."""
    pixels, labels = preview.sample(data)
    path = os.path.join(out_dir, "preview", f"{role}.png")

    def write(model, step):
        if role == "dxai":
            preview.dxai(model, classifier, pixels, path)
        else:
            preview.cae(model, pixels, labels, path)
        emit({"event": "preview", "role": role, "step": step, "file": f"preview/{role}.png"})

    return write


def _cam_layer(loaded):
    """Grad-CAM at the feature map InfoDisent uses, for DXAI's global-beta comparison (None: no map)."""
    backbone = loaded.backbone
    if backbone is None:
        return None

    def layer(pixels):
        features, logits = backbone(loaded.pixel.normalise(pixels))
        return features, logits

    return layer


def _load_role(role: str, out_dir: str, data, loaded):
    state = torch.load(os.path.join(out_dir, f"{role}.pt"), map_location="cpu")
    if role == "dxai":
        model = dxai.BranchedGenerator(len(data.classes), state["head.2.weight"].shape[0] // data.shape.channels,
                                       shape=data.shape)
    elif role == "cae":
        model = cae.Cae(data.shape)
    else:
        model = infodisent.InfoDisentHead(state["skew"].shape[0], len(data.classes))
    model.load_state_dict(state)
    return model.eval()


class _InfoDisentTwin(torch.nn.Module):
    """The torch twin of the exported infodisent.onnx: backbone map, rotation, hard pooling, linear."""

    def __init__(self, backbone, head):
        super().__init__()
        self.backbone, self.head = backbone, head

    def forward(self, normalised):
        logits, maps, evidence = self.head(self.backbone(normalised)[0])
        return logits, maps, evidence


@torch.no_grad()
def write_bundle(out_dir: str, model_path: str, manifest: dict, data, loaded, trained: dict, reports: dict) -> dict:
    import onnx

    shape = data.shape
    _copy_classifier(model_path, out_dir)
    write_json(os.path.join(out_dir, "classifier.manifest.json"), manifest)
    generator, autoencoder, head = trained.get("dxai"), trained.get("cae"), trained.get("infodisent")
    if generator is not None:
        dxai.export(generator, os.path.join(out_dir, "dxai.onnx"))
    if autoencoder is not None:
        cae.export(autoencoder, out_dir)
    twin = None
    if head is not None:
        if loaded.onnx_model is None:
            raise classifiers.ClassifierError("InfoDisent's export needs an ONNX classifier")
        graph = classifiers.infodisent_graph(loaded.onnx_model, loaded.feature, head.rotation(), head.weight, head.bias)
        onnx.save(graph, os.path.join(out_dir, "infodisent.onnx"))
        twin = _InfoDisentTwin(loaded.backbone, head).eval()
    count = 2 if shape.height * shape.width <= 64 * 64 else 1
    indices = list(range(count))
    write_json(os.path.join(out_dir, "reference.json"), {
        "format": "xaiws.bundle-reference/1",
        "images": {"split": "test", "indices": indices, "labels": data.test.labels[:count].tolist()},
        "tolerance": 1e-4,
        "checks": bundle.reference_checks(data.test.at(slice(0, count)), loaded.pixel, generator, autoencoder, head,
                                          twin),
    })
    model = loaded.onnx_model
    input_name = manifest.get("input", {}).get("name") or next(
        i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer})
    output_name = manifest.get("output", {}).get("name") or model.graph.output[0].name
    channels_last = manifest.get("input", {}).get("layout", "NCHW") == "NHWC"
    model_input = ["N", shape.height, shape.width, shape.channels] if channels_last else ["N", *shape.tuple]
    models = bundle.describe(shape, data.classes, ((input_name, model_input), (output_name, {}, None)),
                             reports, generator, autoencoder, head.skew.shape[0] if head is not None else None,
                             list(loaded.feature.grid) if loaded.feature else None)
    dataset = {"name": data.name, "channels": shape.channels, "height": shape.height, "width": shape.width}
    pre = manifest.get("preprocessing", {})
    preprocessing = {"scale": pre.get("scale", 255), "mean": pre.get("mean", [0.0]), "std": pre.get("std", [1.0]),
                     "resize": pre.get("resize", "stretch"), "layout": "NHWC" if channels_last else "NCHW",
                     "channelOrder": pre.get("channelOrder", "rgb")}
    name = f"{manifest.get('name', 'classifier')} and its explainers"
    result = bundle.finish(out_dir, name, dataset, data.classes, preprocessing, models)
    emit({"event": "done", "bundle": os.path.join(out_dir, "bundle.json"),
          "quality": {role: report["quality"] for role, report in reports.items()}})
    return result


def parse_steps(text) -> "int | dict":
    """`--steps`: one count for DXAI and CAE (0: the size's default), or one a role: `dxai=4000,cae=2000`."""
    text = str(text).strip()
    if "=" not in text:
        try:
            return int(text)
        except ValueError:
            raise SystemExit(f"--steps {text!r}: expected a number or role=number pairs") from None
    steps = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        role, _, count = part.partition("=")
        if role.strip() not in ("dxai", "cae") or not count.strip().isdigit():
            raise SystemExit(f"--steps {part!r}: expected dxai=N or cae=N")
        steps[role.strip()] = int(count)
    return steps


def main(args) -> int:
    with open(args.manifest) as handle:
        manifest = json.load(handle)
    roles = [r.strip() for r in args.roles.split(",") if r.strip()]
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise SystemExit(f"unknown role {unknown[0]!r}: expected some of {', '.join(ROLES)}")
    steps = parse_steps(args.steps)
    started = time.time()
    try:
        train(args.model, manifest, args.data, args.out, roles, steps, args.epochs, args.seed, args.threads,
              torchscript=args.torchscript)
    except (datasets.DataError, classifiers.ClassifierError) as error:
        emit({"event": "error", "message": str(error)})
        raise SystemExit(str(error)) from None
    print(f"done in {time.time() - started:.0f} s", flush=True)
    return 0
