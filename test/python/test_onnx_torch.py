"""The ONNX-to-torch converter (training/onnx_torch.py) on every torchvision family, in small: each family
is built with seeded weights (bench/models/small_families.py), exported at opsets 13 and 17, converted
back, and run at a batch of two; its scores and its input gradients must be those of the torch model
it was exported from, within 1e-4 of their largest magnitude (the gradients with a floor of 1e-10).

Run with Debian's interpreter: /usr/bin/python3 -m pytest test/python
"""
import os
import sys
import warnings

import onnx
import pytest
import torch

from training.onnx_torch import OnnxModule, UnsupportedOp, load

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench", "models"))
import small_families  # noqa: E402

warnings.filterwarnings("ignore")


@pytest.mark.parametrize("name", sorted(small_families.FAMILIES))
def test_a_family_converts_back_to_its_own_scores_and_gradients(name, tmp_path):
    torch.set_num_threads(2)
    model, x = small_families.build(name)
    batch = torch.cat([x, x.flip(-1)])
    source = batch.clone().requires_grad_(True)
    expected = model(source)
    (expected[:, 0].sum() - expected[:, 1].sum()).backward()
    for opset in (13, 17):
        path = str(tmp_path / f"{name}_{opset}.onnx")
        torch.onnx.export(model, x, path, opset_version=opset, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
        converted = load(path)
        assert not list(converted.parameters())  # weights are buffers: the module trains nothing
        inputs = batch.clone().requires_grad_(True)
        scores = converted(inputs)
        (scores[:, 0].sum() - scores[:, 1].sum()).backward()
        scale = expected.abs().max().item()
        assert (scores - expected).abs().max().item() / scale < 1e-4, opset
        # Relative to the largest gradient, with a floor where a family's random weights make them vanish
        # (GoogLeNet's input gradients are about 1e-13: there only float noise can be compared).
        gradient_scale = source.grad.abs().max().item()
        assert gradient_scale > 0
        assert (inputs.grad - source.grad).abs().max().item() <= 1e-4 * gradient_scale + 1e-10, opset


def test_intermediate_tensors_can_be_read_and_unknown_ops_are_named(tmp_path):
    model, x = small_families.build("resnet")
    path = str(tmp_path / "resnet.onnx")
    torch.onnx.export(model, x, path, opset_version=17, input_names=["input"], output_names=["logits"])
    graph = onnx.load(path)
    layer = small_families.onnx_tensor_of(graph.graph, "layer4")
    features = {}
    model.layer4.register_forward_hook(lambda module, args, out: features.setdefault("layer4", out))
    with torch.no_grad():
        logits = model(x)
    both = load(path, outputs=["logits", layer])(x)
    assert torch.allclose(both[layer], features["layer4"], atol=1e-5)
    assert torch.allclose(both["logits"], logits, atol=1e-5)
    with pytest.raises(KeyError, match="no tensor named 'nothing'"):
        load(path, outputs=["nothing"])(x)
    graph.graph.node[0].op_type = "FancyConv"
    with pytest.raises(UnsupportedOp, match="ops without a torch rule: FancyConv"):
        OnnxModule(graph)
