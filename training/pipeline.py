"""Steps of `python3 -m training`: each trains one model, saves its weights (`<role>.pt`) and its data
files, and writes a report (`<role>.report.json`) with its quality figures; `bundle` then exports the
ONNX files from the weights and hashes everything into bundle.json."""
import json
import os
import platform
import time

import torch

from . import cae, dxai, infodisent
from .common import ClassifierInPixelSpace, load_classifier, load_idx_dataset, seed_everything, write_json


def machine() -> str:
    if torch.cuda.is_available():
        return f"CUDA {torch.cuda.get_device_name(0)}"
    return f"{platform.machine()} CPU, {torch.get_num_threads()} threads"


def _context(args):
    generator = seed_everything(args.seed, args.threads)
    data = load_idx_dataset(args.data)
    return generator, data, classifier_of(args.out, data)


def classifier_of(out_dir: str, data) -> ClassifierInPixelSpace:
    """The bundle's classifier with the normalisation its manifest names, in pixel space."""
    with open(os.path.join(out_dir, "classifier.manifest.json")) as handle:
        manifest = json.load(handle)
    if manifest["classes"] != data.classes:
        raise SystemExit(f"{out_dir}/classifier.manifest.json lists classes {manifest['classes']} "
                         f"but the dataset's are {data.classes}")
    model = load_classifier(out_dir, len(data.classes))
    pre = manifest["preprocessing"]
    return ClassifierInPixelSpace(model, pre["mean"], pre["std"])


def _report(args, role: str, result: dict, quality: dict, started: float) -> dict:
    config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in result["config"].items()}
    report = {
        "role": role,
        "quality": quality,
        "training": {"seconds": round(result["seconds"], 1), "totalSeconds": round(time.time() - started, 1),
                     "seed": args.seed, "machine": machine(), "torch": torch.__version__, "config": config},
    }
    write_json(os.path.join(args.out, f"{role}.report.json"), report)
    print(json.dumps(report["quality"], indent=2), flush=True)
    return report


def run_dxai(args) -> dict:
    started = time.time()
    generator, data, classifier = _context(args)
    options = {"steps": args.steps} if args.steps else {}
    result = dxai.train(data, classifier, generator, **options)
    torch.save(result["model"].state_dict(), os.path.join(args.out, "dxai.pt"))
    quality = dxai.evaluate(result["model"], classifier, data, classifier.model.features[8])
    return _report(args, "dxai", result, quality, started)


def run_cae(args) -> dict:
    started = time.time()
    generator, data, classifier = _context(args)
    options = {"steps": args.steps} if args.steps else {}
    result = cae.train(data, generator, **options)
    torch.save(result["model"].state_dict(), os.path.join(args.out, "cae.pt"))
    prototypes = cae.prototypes(result["model"], data, generator)
    cae.write_prototypes(prototypes, data.classes, args.out)
    quality = cae.evaluate(result["model"], classifier, data, prototypes)
    return _report(args, "cae", result, quality, started)


def run_infodisent(args) -> dict:
    started = time.time()
    generator, data, classifier = _context(args)
    options = {"epochs": args.epochs} if args.epochs else {}
    result = infodisent.train(data, classifier, generator, **options)
    torch.save(result["model"].state_dict(), os.path.join(args.out, "infodisent.pt"))
    head = result["model"]
    infodisent.write_prototypes(head, classifier, data, args.out)
    quality = infodisent.evaluate(head, classifier, data)
    return _report(args, "infodisent", result, quality, started)
