"""torchvision's transforms as the reference for the manifest's preprocessing, written to
test/fixtures/preprocessing/ for test/unit/preprocessing.test.ts: three photographs of skimage.data
saved as JPEG (a wide, a tall and a square one), and the tensors torchvision makes of them with the
usual ImageNet evaluation transform, Resize(256) + CenterCrop(224) (the manifest's `"resize": "cover",
"crop": 0.875`) and Resize((224, 224)) (`"resize": "stretch"`), stored as the 8-bit 224 x 224 RGB
pixels those give (ToTensor and Normalize of them are exact arithmetic, done by the test).
Run: /usr/bin/python3 bench/models/preprocessing_reference.py test/fixtures/preprocessing
"""
import base64
import json
import os
import sys

import numpy as np
from PIL import Image
from skimage import data as photos
from torchvision import transforms

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def main(out):
    os.makedirs(out, exist_ok=True)
    images = {"wide": photos.chelsea(), "tall": photos.rocket()[:, 100:400], "square": photos.astronaut()[::2, ::2]}
    cases = []
    pipelines = {
        "cover-crop": transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)]),
        "stretch": transforms.Resize((224, 224)),
    }
    for name, pixels in images.items():
        path = os.path.join(out, f"{name}.jpg")
        Image.fromarray(pixels).save(path, quality=95)
        photo = Image.open(path).convert("RGB")  # what torchvision users read: the decoded JPEG
        for mode, resize in pipelines.items():
            resized = np.asarray(resize(photo), dtype=np.uint8)  # ToTensor + Normalize of this is the tensor
            cases.append({"image": f"{name}.jpg", "mode": mode, "size": list(photo.size),
                          "pixels": base64.b64encode(resized.tobytes()).decode()})
    with open(os.path.join(out, "torchvision.json"), "w") as f:
        json.dump({"mean": MEAN, "std": STD, "cases": cases}, f)


if __name__ == "__main__":
    main(sys.argv[1])
