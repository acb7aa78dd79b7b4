"""Building blocks shared by the DXAI and CAE networks (StarGAN-v2 / MUNIT style), sized by training/sizes.py."""
import math

import torch
import torch.nn.functional as F
from torch import nn

from .sizes import DEMO, Shape, discriminator_widths


class AdaIN(nn.Module):
    """Instance norm whose per-channel scale and shift come from a style vector."""

    def __init__(self, style_dim: int, channels: int):
        super().__init__()
        self.norm = nn.InstanceNorm2d(channels, affine=False)
        self.fc = nn.Linear(style_dim, channels * 2)

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        gamma, beta = self.fc(style).unsqueeze(-1).unsqueeze(-1).chunk(2, dim=1)
        return (1 + gamma) * self.norm(x) + beta


def _upsample(x: torch.Tensor, size=None) -> torch.Tensor:
    """Nearest x2, then the last row and column repeated where the size recorded on the way down was odd
    (a fixed scale keeps the channel count known to the ONNX exporter, which instance norm needs)."""
    x = F.interpolate(x, scale_factor=2.0, mode="nearest")
    if size is not None and (size[0] != x.shape[-2] or size[1] != x.shape[-1]):
        x = F.pad(x, (0, int(size[1]) - int(x.shape[-1]), 0, int(size[0]) - int(x.shape[-2])), mode="replicate")
    return x


class ResBlock(nn.Module):
    """Pre-activation residual block; `groups` keeps branches apart, `style_dim` switches to AdaIN.

    resample: None, "down" (average pool after the first conv) or "up" (nearest, before it: to `size`,
    the size recorded on the way down, or twice the input's).
    """

    def __init__(self, cin: int, cout: int, groups: int = 1, style_dim: int = 0, resample: str = None):
        super().__init__()
        self.resample = resample
        self.styled = style_dim > 0
        self.norm1 = AdaIN(style_dim, cin) if self.styled else nn.InstanceNorm2d(cin, affine=True)
        self.norm2 = AdaIN(style_dim, cout) if self.styled else nn.InstanceNorm2d(cout, affine=True)
        self.conv1 = nn.Conv2d(cin, cout, 3, 1, 1, groups=groups)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, groups=groups)
        self.shortcut = nn.Conv2d(cin, cout, 1, groups=groups, bias=False) if cin != cout else None

    def _norm(self, norm, x, style):
        return norm(x, style) if self.styled else norm(x)

    def forward(self, x: torch.Tensor, style: torch.Tensor = None, size=None) -> torch.Tensor:
        skip = x
        if self.resample == "up":
            skip = _upsample(skip, size)
        if self.shortcut is not None:
            skip = self.shortcut(skip)
        if self.resample == "down":
            skip = F.avg_pool2d(skip, 2)
        h = F.leaky_relu(self._norm(self.norm1, x, style), 0.2)
        if self.resample == "up":
            h = _upsample(h, size)
        h = self.conv1(h)
        if self.resample == "down":
            h = F.avg_pool2d(h, 2)
        h = self.conv2(F.leaky_relu(self._norm(self.norm2, h, style), 0.2))
        return (h + skip) / math.sqrt(2)


class ClassDiscriminator(nn.Module):
    """Conv discriminator with one real/fake output per class (StarGAN v2's multi-task head) and,
    optionally, a separate class head (CAE). A 3x3 conv, then `levels` stride-2 convs (sizes.py)."""

    def __init__(self, num_classes: int, width: int = 32, class_head: bool = False, shape: Shape = DEMO):
        super().__init__()
        widths = discriminator_widths(shape, width)
        layers = [nn.Conv2d(shape.channels, widths[0], 3, 1, 1), nn.LeakyReLU(0.2)]
        for cin, cout in zip(widths[:-1], widths[1:]):
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers, nn.Flatten())
        h, w = shape.height, shape.width
        for _ in widths[1:]:
            h, w = h // 2, w // 2  # a 4x4 stride-2 conv with padding 1 floors like a pool
        features = widths[-1] * h * w
        self.real_fake = nn.Linear(features, 1 if class_head else num_classes)
        self.classes = nn.Linear(features, num_classes) if class_head else None

    def forward(self, pixels: torch.Tensor, label: torch.Tensor = None):
        h = self.body(pixels * 2 - 1)
        out = self.real_fake(h)
        if self.classes is not None:
            return out.squeeze(1), self.classes(h)
        return out.gather(1, label.unsqueeze(1)).squeeze(1)


def r1_penalty(out_real: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    (grad,) = torch.autograd.grad(out_real.sum(), real, create_graph=True)
    return 0.5 * grad.pow(2).flatten(1).sum(1).mean()
