"""A folder of colour JPEGs in class folders, for the import and grid benchmarks.

Random crops (seeded) of four photographs from skimage.data, one class folder per photograph,
resized to SIZE x SIZE and saved at quality 90. Every file differs (the crops are random), so no two
hash the same.

Run: /usr/bin/python3 bench/models/photo_folder.py OUT [COUNT=2000] [SIZE=256]
"""

import sys
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

PHOTOS = {"astronaut": data.astronaut, "chelsea": data.chelsea, "coffee": data.coffee, "rocket": data.rocket}


def main() -> None:
    out = Path(sys.argv[1])
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    size = int(sys.argv[3]) if len(sys.argv) > 3 else 256
    rng = np.random.default_rng(0)
    sources = {name: Image.fromarray(load()) for name, load in PHOTOS.items()}
    for name in sources:
        (out / name).mkdir(parents=True, exist_ok=True)
    names = list(sources)
    for i in range(count):
        name = names[i % len(names)]
        photo = sources[name]
        side = int(rng.integers(min(photo.size) // 3, min(photo.size)))
        left = int(rng.integers(0, photo.width - side + 1))
        top = int(rng.integers(0, photo.height - side + 1))
        crop = photo.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)
        crop.save(out / name / f"{i:06d}.jpg", quality=90)


if __name__ == "__main__":
    main()
