"""The size rules (training/sizes.py): every explainer network at 28..256 px, grey and colour, exports to
ONNX that computes what torch computes; the demo's saved weights still load at 1 x 28 x 28."""
import os

import onnx
import pytest
import torch

from training import cae, dxai
from training.blocks import ClassDiscriminator
from training.onnx_torch import OnnxModule
from training.sizes import DEMO, Shape, defaults, individual_levels, levels

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEMO_BUNDLE = os.path.join(ROOT, "resources", "models", "fashion-mnist-cnn")
SHAPES = [Shape(1, 28, 28), Shape(3, 32, 32), Shape(3, 64, 64), Shape(1, 100, 80), Shape(3, 224, 224)]


def test_levels_halve_to_at_most_8_px():
    assert [levels(Shape(1, s, s)) for s in (28, 32, 64, 100, 224, 256)] == [2, 2, 3, 4, 5, 5]
    assert [individual_levels(Shape(1, s, s)) for s in (28, 64, 224)] == [2, 3, 3]
    for side in range(28, 257):
        shape = Shape(3, side, side)
        assert side / 2 ** levels(shape) <= 8 < side / 2 ** (levels(shape) - 1) or levels(shape) == 1


@pytest.mark.parametrize("bad, named", [((2, 28, 28), "2 channels"), ((3, 27, 64), "height 27 px"),
                                        ((1, 64, 257), "width 257 px")])
def test_shapes_outside_the_rules_are_named(bad, named):
    with pytest.raises(ValueError, match=named):
        Shape(*bad)


def test_the_demo_weights_load_into_the_networks_the_rules_build_at_28_px():
    generator = dxai.BranchedGenerator(10, shape=DEMO)
    generator.load_state_dict(torch.load(os.path.join(DEMO_BUNDLE, "dxai.pt")))
    autoencoder = cae.Cae(DEMO)
    autoencoder.load_state_dict(torch.load(os.path.join(DEMO_BUNDLE, "cae.pt")))
    assert autoencoder.individual_shape == [64, 7, 7]


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s.tuple)))
def test_every_network_keeps_the_image_size(shape):
    torch.manual_seed(0)
    x, y = torch.rand(2, *shape.tuple), torch.tensor([0, 3])
    generator = dxai.BranchedGenerator(4, shape=shape).eval()
    assert generator(x, y).shape == (2, 5, *shape.tuple)
    autoencoder = cae.Cae(shape).eval()
    code, individual = autoencoder.encode(x)
    assert code.shape == (2, cae.CODE_DIM)
    assert list(individual.shape[1:]) == autoencoder.individual_shape
    assert autoencoder.decoder(individual, code).shape == x.shape
    real_fake, classes = ClassDiscriminator(4, class_head=True, shape=shape)(x)
    assert real_fake.shape == (2,) and classes.shape == (2, 4)


@pytest.mark.parametrize("shape", [Shape(3, 64, 64), Shape(1, 100, 80)], ids=["64", "100x80"])
def test_exports_compute_what_torch_computes(shape, tmp_path):
    """Odd sizes on the way down (100 x 80 -> 50 x 40 -> 25 x 20 -> 12 x 10) come back exactly."""
    torch.manual_seed(1)
    x, y = torch.rand(3, *shape.tuple), torch.tensor([1, 0, 2])
    generator = dxai.BranchedGenerator(3, shape=shape).eval()
    path = str(tmp_path / "dxai.onnx")
    dxai.export(generator, path)
    with torch.no_grad():
        assert torch.allclose(OnnxModule(onnx.load(path))(x, y), generator(x, y), atol=1e-4)
    autoencoder = cae.Cae(shape).eval()
    cae.export(autoencoder, str(tmp_path))
    with torch.no_grad():
        code, individual = autoencoder.encode(x)
        exported = OnnxModule(onnx.load(str(tmp_path / "cae-encoder.onnx")), ["class_code", "individual_code"])(x)
        assert torch.allclose(exported["class_code"], code, atol=1e-4)
        decoded = OnnxModule(onnx.load(str(tmp_path / "cae-decoder.onnx")))(individual, code.flip(0))
        assert torch.allclose(decoded, autoencoder.decoder(individual, code.flip(0)), atol=1e-4)


def test_defaults_shrink_batches_as_images_grow():
    small, medium, large = (defaults(Shape(3, s, s)) for s in (28, 64, 224))
    assert small["dxai"]["batch"] > medium["dxai"]["batch"] > large["dxai"]["batch"]
    assert small == defaults(DEMO)
