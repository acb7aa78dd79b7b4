"""PyTorch reference for bench/inference.ts: the demo classifier's throughput in torch on the same
images, batch size and thread count. Prints one JSON line."""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from training.classifier import load_split  # noqa: E402
from training.common import load_classifier  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_classifier("resources/models/fashion-mnist-cnn", 10)
    x, y = load_split(args.data, "test")
    runs = []
    correct = 0
    with torch.inference_mode():
        model(x[: args.batch])  # warm-up
        for _ in range(args.repeats):
            started = time.perf_counter()
            correct = 0
            for start in range(0, len(x), args.batch):
                correct += (model(x[start : start + args.batch]).argmax(1) == y[start : start + args.batch]).sum().item()
            runs.append(time.perf_counter() - started)
    best = min(runs)
    print(json.dumps({"engine": "pytorch", "version": torch.__version__, "threads": args.threads, "batch": args.batch,
                      "images": len(x), "seconds": best, "imagesPerSecond": len(x) / best, "accuracy": correct / len(x)}))


if __name__ == "__main__":
    main()
