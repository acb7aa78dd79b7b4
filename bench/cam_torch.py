"""PyTorch reference for bench/cam.ts: pytorch-grad-cam's Grad-CAM and Score-CAM algorithms (forward
hook on the target layer, tensor hook for its gradient, backward of the summed target scores, the
library's weight formulas in numpy; Score-CAM's corner-aligned bilinear upsampling, min-max
normalisation, masked batches of 16 as the library runs them, or of 64) on the demo classifier, same
images and thread count. Maps stop at layer resolution, as the workstation's do. Prints one JSON line."""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from training.classifier import load_split  # noqa: E402
from training.common import load_classifier  # noqa: E402


class Cam:
    def __init__(self, model, layer):
        self.model, self.saved = model, {}
        layer.register_forward_hook(self._keep)

    def _keep(self, _, __, output):
        self.saved["a"] = output
        if output.requires_grad:
            output.register_hook(lambda grad: self.saved.__setitem__("g", grad))

    def gradcam(self, x):
        logits = self.model(x)
        targets = logits.argmax(1)
        self.model.zero_grad()
        logits[torch.arange(len(x)), targets].sum().backward()
        a, g = self.saved["a"].detach().numpy(), self.saved["g"].detach().numpy()
        weights = g.mean(axis=(2, 3))
        return np.maximum((weights[:, :, None, None] * a).sum(axis=1), 0)

    def scorecam(self, x, batch):
        with torch.no_grad():
            logits = self.model(x)
            targets = logits.argmax(1)
            a = self.saved["a"]
            up = F.interpolate(a, size=x.shape[-2:], mode="bilinear", align_corners=True)
            flat = up.flatten(2)
            up = (up - flat.min(-1)[0][:, :, None, None]) / (flat.max(-1)[0] - flat.min(-1)[0] + 1e-8)[:, :, None, None]
            maps = []
            for i in range(len(x)):
                masked = x[i][None] * up[i][:, None]
                scores = torch.cat([self.model(masked[s:s + batch])[:, targets[i]] for s in range(0, len(masked), batch)])
                weights = torch.softmax(scores, 0).numpy()
                maps.append(np.maximum((weights[:, None, None] * a[i].numpy()).sum(axis=0), 0))
            return np.stack(maps)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--single", type=int, default=200)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_classifier("resources/models/fashion-mnist-cnn", 10)
    x, _ = load_split(args.data, "test")
    x = x[: args.images]
    cam = Cam(model, model.features[10])
    cam.gradcam(x[:8])  # warm-up
    started = time.perf_counter()
    for i in range(args.single):
        cam.gradcam(x[i:i + 1])
    single = (time.perf_counter() - started) / args.single
    started = time.perf_counter()
    for s in range(0, len(x), args.batch):
        cam.gradcam(x[s:s + args.batch])
    batched = time.perf_counter() - started
    score = {}
    for inner in (16, 64):
        started = time.perf_counter()
        for s in range(0, len(x), args.batch):
            cam.scorecam(x[s:s + args.batch], inner)
        score[inner] = time.perf_counter() - started
    print(json.dumps({"engine": f"torch {torch.__version__}", "threads": args.threads,
                      "gradcamPerImageMs": round(single * 1000, 3), "gradcamSeconds": round(batched, 3),
                      "scorecamSecondsBatch16": round(score[16], 3), "scorecamSecondsBatch64": round(score[64], 3),
                      "images": len(x)}))


if __name__ == "__main__":
    main()
