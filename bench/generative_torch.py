"""PyTorch reference for bench/generative.ts: the same three explanations from the torch models the
bundle's ONNX files were exported from (training.bundle.load_models), on the same images and thread
count: DXAI decomposition (classifier, generator, classifier on the 3 parts + 5 branches + 21 beta
images), CAE path (classifier, encoder, nearest other-class prototype, 11 decoded steps, classifier),
InfoDisent components (the exported head module, W[c] * v). Prints one JSON line."""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from training.bundle import load_models  # noqa: E402
from training.common import load_idx_dataset  # noqa: E402
from training import infodisent  # noqa: E402

BUNDLE = "resources/models/fashion-mnist-cnn"
BETAS = torch.linspace(0, 1, 21)


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--single", type=int, default=100)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_idx_dataset(args.data)
    classifier, generator, autoencoder, head = load_models(BUNDLE, data)
    export = infodisent.InfoDisentExport(classifier.model.features, head).eval()
    with open(os.path.join(BUNDLE, "cae-prototypes.json")) as handle:
        prototypes = json.load(handle)
    flat = torch.tensor([p for c in prototypes["classes"] for p in c["prototypes"]])
    owner = torch.arange(len(prototypes["classes"])).repeat_interleave(prototypes["perClass"])
    x = data.test.pixels[: args.images]

    def decompose(pixels):
        predicted = classifier(pixels).softmax(1).argmax(1)
        branches = generator(pixels, predicted)
        distinct = branches[:, :1]
        agnostic = pixels - distinct
        recon = branches.sum(1, keepdim=True)
        betas = pixels.unsqueeze(1) - BETAS.view(1, -1, 1, 1, 1) * distinct.unsqueeze(1)
        parts = torch.cat([distinct.unsqueeze(1), agnostic.unsqueeze(1), recon.unsqueeze(1), branches.unsqueeze(2), betas], 1)
        return classifier(parts.flatten(0, 1)).softmax(1)

    def path(pixels):
        predicted = classifier(pixels).argmax(1)
        codes, individual = autoencoder.encode(pixels)
        distances = torch.cdist(codes, flat)
        distances[owner.unsqueeze(0) == predicted.unsqueeze(1)] = float("inf")
        target = flat[distances.argmin(1)]
        alphas = torch.linspace(0, 1, args.steps + 1).view(1, -1, 1)
        steps = (codes.unsqueeze(1) + alphas * (target - codes).unsqueeze(1)).flatten(0, 1)
        images = autoencoder.decoder(individual.repeat_interleave(args.steps + 1, 0), steps)
        return classifier(images).softmax(1).argmax(1)

    def components(pixels):
        logits, maps, evidence = export(classifier.normalise(pixels))
        target = logits.argmax(1)
        return export.weight[target] * evidence

    results = {"engine": f"torch {torch.__version__}", "threads": args.threads, "images": len(x), "batch": args.batch}
    for name, run in (("decompose", decompose), ("path", path), ("components", components)):
        run(x[:4])  # warm-up
        started = time.perf_counter()
        for i in range(args.single):
            run(x[i:i + 1])
        single = (time.perf_counter() - started) / args.single
        started = time.perf_counter()
        for s in range(0, len(x), args.batch):
            run(x[s:s + args.batch])
        results[name] = {"perImageMs": round(single * 1000, 3), "seconds1000": round(time.perf_counter() - started, 3)}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
