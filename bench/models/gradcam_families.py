"""pytorch-grad-cam itself (the library, fetched: github.com/jacobgil/pytorch-grad-cam, on PYTHONPATH
with stub `ttach` and `tqdm` modules, since aug_smooth and progress bars are not used) on the CNN
families of families.py, at each family's usual target layer, with the same seeded weights and input:
maps at layer resolution (the library's resize to the input is replaced by the identity, so nothing
is interpolated) for bench/gradcam-families.ts to compare with the app's CAM engine.
Run: PYTHONPATH=/tmp/pgc /usr/bin/python3 bench/models/gradcam_families.py OUT [family ...] (after families.py
OUT; named families replace theirs in OUT/cams.json)."""
import json
import os
import sys
import warnings

import numpy as np
import onnx
import torch

import pytorch_grad_cam as pgc
import pytorch_grad_cam.base_cam as base_cam
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

sys.path.insert(0, os.path.dirname(__file__))
from families import FAMILIES  # noqa: E402

warnings.filterwarnings("ignore")
base_cam.scale_cam_image = lambda cam, target_size=None: cam  # layer resolution, no min-max scaling

# The usual target layer of each CNN family (pytorch-grad-cam's README and tutorials).
LAYERS = {
    "resnet18": "layer4", "resnext50_32x4d": "layer4", "wide_resnet50_2": "layer4", "vgg11_bn": "features.27",
    "densenet121": "features.norm5", "mobilenet_v2": "features.18", "mobilenet_v3_small": "features.12",
    "efficientnet_b0": "features.8", "efficientnet_v2_s": "features.7", "regnet_y_400mf": "trunk_output",
    "shufflenet_v2_x0_5": "conv5", "squeezenet1_1": "features.12", "mnasnet0_5": "layers.16",
    "googlenet": "inception5b", "inception_v3": "Mixed_7c", "convnext_tiny": "features.7",
    "vit_small": "encoder.layers.encoder_layer_1.ln_1", "swin_t": "features.7.1.norm1",
}


def vit_tokens(tensor):
    """pytorch-grad-cam's ViT reshape_transform: drop the class token, tokens to a square map, channels first."""
    n, t, c = tensor.shape
    side = int(round((t - 1) ** 0.5))
    return tensor[:, 1:, :].reshape(n, side, side, c).permute(0, 3, 1, 2)


# Token layers need the library's reshape_transform (its tutorials' ViT and Swin transforms).
RESHAPE = {"vit_small": vit_tokens, "swin_t": lambda tensor: tensor.permute(0, 3, 1, 2)}
# "gradcampp" is the app's gradcam++.
METHODS = {"gradcam": pgc.GradCAM, "hirescam": pgc.HiResCAM, "gradcampp": pgc.GradCAMPlusPlus,
           "xgradcam": pgc.XGradCAM, "layercam": pgc.LayerCAM, "eigencam": pgc.EigenCAM}


def onnx_tensor_of(graph, path):
    parts = path.split(".")
    scopes = [".".join(parts[: i + 1]) if parts[i].isdigit() else parts[i] for i in range(len(parts))]
    prefix = "/" + "/".join(scopes) + "/"
    outputs = [node.output[0] for node in graph.node if node.name.startswith(prefix)]
    return outputs[-1]


def main(out, names):
    torch.set_num_threads(2)
    listing = os.path.join(out, "cams.json")
    kept = json.load(open(listing))["cases"] if names and os.path.exists(listing) else []
    cases = [case for case in kept if case["name"] not in names]
    for name, path in LAYERS.items():
        if names and name not in names:
            continue
        make, size = FAMILIES[name]
        torch.manual_seed(0)
        model = make().eval()
        with torch.no_grad():
            for layer in model.modules():
                if isinstance(layer, torch.nn.Linear) and not layer.weight.any():
                    layer.weight.normal_(0, 0.02)
        x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1)) * 2 - 1
        logits = model(x)
        targets = [int(logits.argmax()), int(logits.argmin())]
        module = dict(model.named_modules())[path]
        maps = {}
        for method, cls in METHODS.items():
            with cls(model=model, target_layers=[module], reshape_transform=RESHAPE.get(name)) as cam:
                maps[method] = [cam(input_tensor=x, targets=[ClassifierOutputTarget(t)])[0].ravel().tolist()
                                for t in targets]
        graph = onnx.load(os.path.join(out, f"{name}_17.onnx")).graph
        cases.append({"name": name, "module": path, "layer": onnx_tensor_of(graph, path), "size": size,
                      "input": x.numpy().ravel().tolist(), "targets": targets, "maps": maps})
        print(name, path, flush=True)
    with open(listing, "w") as handle:
        json.dump({"library": "jacobgil/pytorch-grad-cam", "cases": cases}, handle)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
