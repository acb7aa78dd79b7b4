"""How the explainer networks scale with the image (issue 18, point 2); docs/MODELS.md, "Size rules".

Every network is built from a `Shape` (channels, height, width) by the rules below, so that a user passes
only the data and the model. At 1 x 28 x 28 the rules give exactly the networks the Fashion-MNIST demo
was trained with (its saved weights load into them; test/python/test_sizes.py checks it).

- levels(side): halvings until the smaller side is at most 8 px (28 -> 2, 64 -> 3, 224 -> 5, 256 -> 5).
  Sizes that do not halve evenly are fine: the decoders upsample to the size recorded on the way down.
- DXAI generator: per branch, `width` channels at full size doubling per level up to width * 2^(levels-1);
  the bottleneck is the last level. One style-conditioned block there, then one upsampling block a level.
- Discriminators: 32 channels at full size doubling per level (at most 256), `levels` stride-2 convs,
  a linear layer over the last map.
- CAE: the class encoder downsamples `levels` times to a pooled 8-d code; the individual code keeps
  more of the image: min(levels, 3) halvings (7 x 7 at 28 px, 8 x 8 at 64, 28 x 28 at 224), so a
  photograph's detail survives the swap. The decoder mirrors it.
- Defaults per size band (`defaults`): batch size and steps for this CPU; `docs/MODELS.md` gives the
  GPU recipe (bigger batches, more steps).
"""
import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Shape:
    channels: int
    height: int
    width: int

    def __post_init__(self):
        if self.channels not in (1, 3):
            raise ValueError(f"images must have 1 or 3 channels, not {self.channels} channels")
        for name, side in (("height", self.height), ("width", self.width)):
            if not 28 <= side <= 256:
                raise ValueError(f"image {name} {side} px is outside the toolkit's 28..256 px")

    @property
    def side(self) -> int:
        return min(self.height, self.width)

    @property
    def tuple(self):
        return (self.channels, self.height, self.width)


DEMO = Shape(1, 28, 28)


def levels(shape: Shape) -> int:
    """Halvings until the smaller side is at most 8 px."""
    return max(1, math.ceil(math.log2(shape.side / 8)))


def individual_levels(shape: Shape) -> int:
    return min(levels(shape), 3)


def down_sizes(shape: Shape, count: int):
    """(height, width) after each of `count` halvings (average pooling floors), full size first."""
    sizes = [(shape.height, shape.width)]
    for _ in range(count):
        h, w = sizes[-1]
        sizes.append((h // 2, w // 2))
    return sizes


def generator_widths(shape: Shape, width: int):
    """Per-branch channels at each level, full size first."""
    top = levels(shape)
    return [width * 2 ** min(i, top - 1) for i in range(top + 1)]


def discriminator_widths(shape: Shape, width: int = 32):
    return [min(width * 2 ** i, 256) for i in range(levels(shape) + 1)]


def defaults(shape: Shape) -> dict:
    """Batch sizes and steps per size band, for a 2-core CPU; a GPU run raises them (docs/MODELS.md)."""
    pixels = shape.height * shape.width
    if pixels <= 32 * 32:
        return dict(dxai=dict(steps=3000, batch=64), cae=dict(steps=3000, batch=32), infodisent=dict(epochs=10))
    if pixels <= 96 * 96:
        return dict(dxai=dict(steps=3000, batch=16), cae=dict(steps=3000, batch=16), infodisent=dict(epochs=10))
    return dict(dxai=dict(steps=2000, batch=8), cae=dict(steps=2000, batch=8), infodisent=dict(epochs=10))
