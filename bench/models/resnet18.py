"""A torchvision ResNet-18 with seeded random weights (no pretrained weights exist offline), exported to
ONNX at opset 13 with a dynamic batch and a manifest for 10 classes at 224 px: the real-size model of
bench/worker-cost.ts. Run: /usr/bin/python3 bench/models/resnet18.py OUT_DIR"""
import json
import sys
from pathlib import Path

import torch
import torchvision

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
torch.manual_seed(0)
model = torchvision.models.resnet18(num_classes=10).eval()
torch.onnx.export(model, torch.zeros(1, 3, 224, 224), out / 'resnet18.onnx', opset_version=13,
                  input_names=['input'], output_names=['logits'], dynamic_axes={'input': {0: 'N'}, 'logits': {0: 'N'}})
manifest = {
    'format': 'xaiws.classifier/1', 'name': 'ResNet-18 (seeded random weights)',
    'input': {'channels': 3, 'height': 224, 'width': 224},
    'preprocessing': {'scale': 255, 'mean': [0.485, 0.456, 0.406], 'std': [0.229, 0.224, 0.225]},
    'output': {'kind': 'logits'},
    'classes': ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'],
}
(out / 'resnet18.manifest.json').write_text(json.dumps(manifest, indent=2))
print(out / 'resnet18.onnx')
