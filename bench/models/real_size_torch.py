"""The PyTorch side of bench/real-size.ts: torchvision's ResNet-50 and ViT-B/16 (seeded random weights,
the state dicts bench/real-size.ts exports beside the ONNX files), 2 threads, pytorch-grad-cam itself
(fetched; on PYTHONPATH with qubvel/ttach) for the maps. Writes OUT/torch.json with the timings and the
maps, and OUT/input.f32 with the preprocessed batch both sides use (skimage photographs, 224 px,
ImageNet normalisation).
Run: PYTHONPATH=/tmp/pgc /usr/bin/python3 bench/models/real_size_torch.py OUT [--quick]
"""
import json
import os
import statistics
import sys
import time
import warnings

import numpy as np
import torch
import torchvision
from skimage import data as photos
from skimage.transform import resize

import pytorch_grad_cam as pgc
import pytorch_grad_cam.base_cam as base_cam
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

warnings.filterwarnings("ignore")
torch.set_num_threads(2)
_scale = base_cam.scale_cam_image
base_cam.scale_cam_image = lambda cam, target_size=None: _scale(cam, None)  # layer resolution: compare maps

BATCH = 32
OUT = sys.argv[1]
QUICK = "--quick" in sys.argv
IMAGES = 64 if QUICK else 128
REPEATS = 5 if QUICK else 10


def batch(n):
    mean = np.array([0.485, 0.456, 0.406])[:, None, None]
    std = np.array([0.229, 0.224, 0.225])[:, None, None]
    sources = [photos.astronaut(), photos.chelsea(), photos.coffee(), photos.rocket()]
    images = []
    for i in range(n):
        photo = sources[i % len(sources)]
        side = min(photo.shape[:2])
        y0 = (photo.shape[0] - side) // 2 + (i // len(sources)) % 7
        x0 = (photo.shape[1] - side) // 2
        crop = photo[y0:y0 + side - 7, x0:x0 + side - 7]
        images.append(resize(crop, (224, 224), anti_aliasing=True).transpose(2, 0, 1))
    return torch.tensor((np.stack(images) - mean) / std, dtype=torch.float32)


def load(name):
    model = getattr(torchvision.models, name)(num_classes=1000)
    model.load_state_dict(torch.load(os.path.join(OUT, f"{name}.pt")))
    return model.eval()


def median_time(run, repeats):
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def vit_tokens(tensor):
    n, t, c = tensor.shape
    side = int(round((t - 1) ** 0.5))
    return tensor[:, 1:, :].reshape(n, side, side, c).permute(0, 3, 1, 2)


def main():
    x = batch(IMAGES)
    x.numpy().astype("<f4").tofile(os.path.join(OUT, "input.f32"))
    result = {"images": IMAGES, "threads": torch.get_num_threads()}

    resnet = load("resnet50")
    with torch.inference_mode():
        resnet(x[:BATCH])
        start = time.perf_counter()
        for i in range(0, IMAGES, BATCH):
            resnet(x[i:i + BATCH])
        result["inference_images_per_s"] = IMAGES / (time.perf_counter() - start)
    cam = pgc.GradCAM(model=resnet, target_layers=[resnet.layer4[-1]])
    one = x[:1]
    result["gradcam_per_image_s"] = median_time(lambda: cam(input_tensor=one, targets=None), REPEATS)
    start = time.perf_counter()
    for i in range(0, IMAGES, BATCH):
        cam(input_tensor=x[i:i + BATCH], targets=None)
    result["gradcam_batch_per_image_s"] = (time.perf_counter() - start) / IMAGES
    result["gradcam_map"] = cam(input_tensor=one, targets=[ClassifierOutputTarget(1)])[0].ravel().tolist()
    score = pgc.ScoreCAM(model=resnet, target_layers=[resnet.layer4[-1]])
    start = time.perf_counter()
    score_map = score(input_tensor=one, targets=[ClassifierOutputTarget(1)])
    result["scorecam_per_image_s"] = time.perf_counter() - start
    result["scorecam_map"] = score_map[0].ravel().tolist()
    del resnet, cam, score

    vit = load("vit_b_16")
    layer = vit.encoder.layers[-1].ln_1
    cam = pgc.GradCAM(model=vit, target_layers=[layer], reshape_transform=vit_tokens)
    result["vit_gradcam_per_image_s"] = median_time(lambda: cam(input_tensor=one, targets=None), max(3, REPEATS // 2))
    result["vit_gradcam_map"] = cam(input_tensor=one, targets=[ClassifierOutputTarget(1)])[0].ravel().tolist()
    with open(os.path.join(OUT, "torch.json"), "w") as f:
        json.dump(result, f)
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("_map")}, indent=1))


if __name__ == "__main__":
    main()
