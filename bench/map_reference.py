"""Python reference for bench/dataset-map.ts: the same steps of the dataset map with PyTorch and
scikit-learn on the same images and threads: the demo classifier's penultimate layer over the 70,000
Fashion-MNIST images, PCA to 50 components, the 15 nearest neighbours of every image (brute force, as
the app computes them). scikit-learn has no UMAP (Debian has no umap-learn), so the 2-D layout has no
reference here. With --neighbours FILE (the app's neighbours of some images, by IDX index), reports how
many of them scikit-learn finds too. Prints one JSON line."""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from training.classifier import load_split  # noqa: E402
from training.common import load_classifier  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--neighbours")
    parser.add_argument("--reduced", help="the app's 50-component rows (float32, in the app's row order)")
    parser.add_argument("--reduced-neighbours", help="the app's neighbours of some of those rows, by row")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from sklearn.decomposition import PCA
    from sklearn.neighbors import NearestNeighbors
    from threadpoolctl import threadpool_limits

    x_train, _ = load_split(args.data, "train")
    x_test, _ = load_split(args.data, "test")
    x = torch.cat([x_train, x_test])
    model = load_classifier("resources/models/fashion-mnist-cnn", 10).eval()
    penultimate = torch.nn.Sequential(model.features, *list(model.head.children())[:3])
    times = {}
    started = time.perf_counter()
    with torch.inference_mode():
        embedding = torch.cat([penultimate(x[s : s + 256]) for s in range(0, len(x), 256)]).numpy()
    times["embedding"] = time.perf_counter() - started
    with threadpool_limits(args.threads):
        step = time.perf_counter()
        reduced = PCA(n_components=50, random_state=0).fit_transform(embedding).astype(np.float32)
        times["pca"] = time.perf_counter() - step
        step = time.perf_counter()
        index = NearestNeighbors(n_neighbors=16, algorithm="brute", n_jobs=args.threads).fit(reduced)
        distances, found = index.kneighbors(reduced)
        times["neighbours"] = time.perf_counter() - step
    times["total"] = time.perf_counter() - started
    result = {"engine": "pytorch + scikit-learn", "torch": torch.__version__, "threads": args.threads,
              "images": len(x), "dims": int(embedding.shape[1]), "seconds": {k: round(v, 2) for k, v in times.items()}}
    if args.neighbours:
        with open(args.neighbours) as handle:
            theirs = json.load(handle)
        agree = total = 0
        for row, others in theirs.items():
            ours = set(int(i) for i in found[int(row)] if int(i) != int(row))
            agree += len(ours & set(others))
            total += len(others)
        result["recallOfAppNeighbours"] = round(agree / max(1, total), 4)
        result["checkedImages"] = len(theirs)
    if args.reduced:
        # The app's own reduced rows: any disagreement is the neighbour search's, not the embedding's.
        rows = np.fromfile(args.reduced, dtype=np.float32).reshape(-1, 50)
        with open(args.reduced_neighbours) as handle:
            theirs = json.load(handle)
        with threadpool_limits(args.threads):
            index = NearestNeighbors(n_neighbors=16, algorithm="brute", n_jobs=args.threads).fit(rows)
            picked = np.array([int(r) for r in theirs])
            _, same = index.kneighbors(rows[picked])
        agree = sum(len(set(int(i) for i in same[q] if int(i) != int(r)) & set(theirs[r])) for q, r in enumerate(theirs))
        result["recallOnAppRows"] = round(agree / sum(len(v) for v in theirs.values()), 4)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
