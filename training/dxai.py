"""DXAI: decompose an image into a class-distinct and a class-agnostic part (Kadar and Gilboa).

A branched StarGAN-v2-style generator: every layer is a grouped convolution with one group per
branch, so the branches never mix; each branch outputs one image and their sum reconstructs the
input. Branch 0 is the class-distinct part, branches 1.. together the class-agnostic part. The
generator is conditioned on a learned style vector per class (deterministic at inference).

Training follows the paper's recipe with the frozen classifier in the loop; see `train` and
docs/MODELS.md for how it is scaled down to 28x28 and a 2-core CPU.
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ClassDiscriminator, ResBlock, r1_penalty
from .common import Ema, device, export_onnx, step_batches
from .loop import Run, average_gradients, broadcast, shard, world
from .sizes import DEMO, Shape, defaults, down_sizes, generator_widths


class BranchedGenerator(nn.Module):
    """Branches x channels images from an image and a class; widths and depth follow sizes.py."""

    def __init__(self, num_classes: int, branches: int = 5, width: int = 8, style_dim: int = 32,
                 shape: Shape = DEMO):
        super().__init__()
        self.branches, self.shape = branches, shape
        b = branches
        widths = generator_widths(shape, width)
        self.sizes = down_sizes(shape, len(widths) - 1)
        self.style = nn.Embedding(num_classes, style_dim)
        self.stem = nn.Conv2d(shape.channels, b * widths[0], 3, 1, 1)
        self.encode = nn.ModuleList([ResBlock(b * cin, b * cout, groups=b, resample="down")
                                     for cin, cout in zip(widths[:-1], widths[1:])])
        self.decode = nn.ModuleList(
            [ResBlock(b * widths[-1], b * widths[-1], groups=b, style_dim=style_dim)]
            + [ResBlock(b * cin, b * cout, groups=b, style_dim=style_dim, resample="up")
               for cin, cout in zip(widths[:0:-1], widths[-2::-1])])
        self.head = nn.Sequential(nn.InstanceNorm2d(b * widths[0], affine=True), nn.LeakyReLU(0.2),
                                  nn.Conv2d(b * widths[0], b * shape.channels, 1, groups=b))

    def forward(self, pixels: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """pixels [N,C,H,W] in [0,1], label [N] -> branch images [N,B,C,H,W] (pixel units, sum ~ image)."""
        style = self.style(label)
        h = self.stem(pixels * 2 - 1)
        for block in self.encode:
            h = block(h)
        h = self.decode[0](h, style)
        for level, block in zip(range(len(self.sizes) - 2, -1, -1), self.decode[1:]):
            h = block(h, style, self.sizes[level])
        n, _, height, width = h.shape
        return self.head(h).view(n, self.branches, self.shape.channels, height, width)


class DxaiExport(nn.Module):
    """ONNX face: image [N,C,H,W] + class [N] (int64) -> branches [N,B,C,H,W]."""

    def __init__(self, generator: BranchedGenerator):
        super().__init__()
        self.generator = generator

    def forward(self, image, label):
        return self.generator(image, label)


def blend(own: torch.Tensor, other: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The other class's distinct branch plus agnostic branches mixed per branch with random alpha."""
    alpha = torch.rand(own.shape[0], own.shape[1] - 1, 1, 1, 1, generator=generator).to(own.device)
    mixed = alpha * own[:, 1:] + (1 - alpha) * other[:, 1:]
    return other[:, 0] + mixed.sum(1)


def random_other_class(label: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    shift = torch.randint(1, num_classes, label.shape, generator=generator).to(label.device)
    return (label + shift) % num_classes


DEFAULTS = dict(steps=3000, batch=64, lr=2e-4, betas=(0.0, 0.99), ema=0.999, r1=1.0,
                w_adv=1.0, w_cls=4.0, w_rec=4.0, w_distinct=1.0, branches=5, width=8)


def train(data, classifier, seed_generator: torch.Generator, out_dir: str = None, preview=None, **options) -> dict:
    """Train on data.train; with `out_dir`, checkpoint there and resume from a matching checkpoint;
    `preview(model, step)` is called after each progress report."""
    shape = data.shape
    cfg = {**DEFAULTS, **defaults(shape)["dxai"], **options}
    dev = device()
    num_classes = len(data.classes)
    gen = BranchedGenerator(num_classes, cfg["branches"], cfg["width"], shape=shape).to(dev)
    disc = ClassDiscriminator(num_classes, shape=shape).to(dev)
    broadcast(gen, disc)
    classifier = classifier.to(dev)
    ema = Ema(gen, cfg["ema"])
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg["lr"], betas=cfg["betas"])
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg["lr"], betas=cfg["betas"])
    stateful = dict(gen=gen, disc=disc, ema=ema, opt_g=opt_g, opt_d=opt_d)
    run = Run("dxai", cfg["steps"], out_dir, {**cfg, "shape": shape.tuple, "classes": num_classes, "world": world()[1]})
    first = run.resume(seed_generator, **stateful)
    if preview is not None:
        run.on_report = lambda step: preview(ema.shadow, step)
    for step, index in step_batches(len(data.train), cfg["batch"], cfg["steps"] - first, seed_generator):
        index = shard(index)
        x, y = data.train.at(index).to(dev), data.train.labels[index].to(dev)
        t = random_other_class(y, num_classes, seed_generator)
        # Generator: adversarial + classifier CE on the blend (towards t) + reconstruction + distinct term.
        own, other = gen(torch.cat([x, x]), torch.cat([y, t])).chunk(2)
        fake = blend(own, other, seed_generator)
        adv = F.softplus(-disc(fake, t)).mean()
        cls = F.cross_entropy(classifier(fake), t)
        error = (own.sum(1) - x) * 2  # in [-1, 1] units, as the reference trains
        rec = error.abs().mean() + error.pow(2).mean()
        distinct = (own[:, 0] * 2).abs().mean()
        loss_g = cfg["w_adv"] * adv + cfg["w_cls"] * cls + cfg["w_rec"] * rec + cfg["w_distinct"] * distinct
        opt_g.zero_grad()
        loss_g.backward()
        average_gradients(gen)
        opt_g.step()
        # Discriminator: real images of their class vs the same blended fakes, R1 on the reals.
        x.requires_grad_(True)
        out_real = disc(x, y)
        loss_d = (F.softplus(-out_real).mean() + F.softplus(disc(fake.detach(), t)).mean()
                  + cfg["r1"] * r1_penalty(out_real, x))
        opt_d.zero_grad()
        loss_d.backward()
        average_gradients(disc)
        opt_d.step()
        ema.update(gen)
        run.after_step(first + step + 1, seed_generator,
                       dict(d=loss_d, adv=adv, cls=cls, rec=rec, distinct=distinct), stateful)
    classifier.cpu()
    return dict(model=ema.shadow.cpu().eval(), seconds=run.seconds, config=cfg, history=run.history)


@torch.no_grad()
def decompose(gen: BranchedGenerator, pixels: torch.Tensor, labels: torch.Tensor, batch: int = 64) -> torch.Tensor:
    return torch.cat([gen(pixels[s : s + batch], labels[s : s + batch]) for s in range(0, len(pixels), batch)])


def grad_cam(model: nn.Module, pixels: torch.Tensor, labels: torch.Tensor, layer: nn.Module):
    """Grad-CAM at `layer` (a module, or a function of the pixels giving (feature map, logits)) of a
    pixel-space classifier, upsampled to the image, ReLU-ed."""
    x = pixels.clone().requires_grad_(True)
    if isinstance(layer, nn.Module):
        store = {}
        handle = layer.register_forward_hook(lambda _m, _i, out: store.__setitem__("a", out))
        logits = model(x)
        handle.remove()
        activations = store["a"]
    else:
        activations, logits = layer(x)
    (grads,) = torch.autograd.grad(logits.gather(1, labels[:, None]).sum(), activations)
    cam = F.relu((grads.mean((2, 3), keepdim=True) * activations).sum(1, keepdim=True))
    return F.interpolate(cam, size=pixels.shape[-2:], mode="bilinear", align_corners=False).detach()


def evaluate(gen: BranchedGenerator, classifier, data, cam_layer, limit: int = 2000, batch: int = 50) -> dict:
    """Quality on the first `limit` test images, streamed in batches (photographs do not fit at once)."""
    betas = np.linspace(0, 1, 11)
    sums = dict(abs=0.0, sq=0.0, values=0, exact=0, exact_top=0.0, branches=0, branches_top=0.0, distinct=0.0, total=0.0)
    beta_hits = {"dxai": np.zeros(len(betas)), "gradCam": np.zeros(len(betas))}
    count = 0
    for start, x in data.test.head(limit).chunks(batch):
        y = data.test.labels[start : start + len(x)]
        with torch.no_grad():
            predicted = classifier(x).argmax(1)
            branches = gen(x, predicted)
        recon, distinct = branches.sum(1), branches[:, 0]
        sums["abs"] += float((recon - x).abs().sum())
        sums["sq"] += float((recon - x).pow(2).sum())
        sums["values"] += x.numel()
        with torch.no_grad():
            exact = torch.softmax(classifier(x - distinct), 1)
            by_branches = torch.softmax(classifier(branches[:, 1:].sum(1)), 1)
        sums["exact"] += int((exact.argmax(1) == y).sum())
        sums["exact_top"] += float(exact.max(1).values.sum())
        sums["branches"] += int((by_branches.argmax(1) == y).sum())
        sums["branches_top"] += float(by_branches.max(1).values.sum())
        sums["distinct"] += float(distinct.abs().sum())
        sums["total"] += float(x.abs().sum())
        removals = [("dxai", distinct)]
        if cam_layer is not None:
            cam = grad_cam(classifier, x, predicted, cam_layer)
            removals.append(("gradCam", cam / cam.flatten(1).abs().amax(1).clamp_min(1e-12).view(-1, 1, 1, 1) * x))
        with torch.no_grad():
            for name, removal in removals:
                for k, beta in enumerate(betas):
                    beta_hits[name][k] += int((classifier(x - beta * removal).argmax(1) == y).sum())
        count += len(x)
    mse = sums["sq"] / sums["values"]

    def curve(hits):
        accuracy = hits / count
        return dict(betas=[round(float(b), 2) for b in betas], accuracy=[round(float(a), 4) for a in accuracy],
                    auc=round(float(np.trapz(accuracy, betas)) / max(float(accuracy[0]), 1e-12), 4))

    return {
        "images": count,
        "reconstructionMae": round(sums["abs"] / sums["values"], 5),
        "reconstructionPsnr": round(float(10 * np.log10(1.0 / max(mse, 1e-12))), 2),
        "agnosticAccuracy": round(sums["exact"] / count, 4),
        "agnosticMeanTop1": round(sums["exact_top"] / count, 4),
        "agnosticBranchesAccuracy": round(sums["branches"] / count, 4),
        "agnosticBranchesMeanTop1": round(sums["branches_top"] / count, 4),
        "chanceAccuracy": round(1 / len(data.classes), 4),
        "distinctShareOfIntensity": round(sums["distinct"] / max(sums["total"], 1e-12), 4),
        "globalBeta": {"dxai": curve(beta_hits["dxai"]),
                       **({"gradCam": curve(beta_hits["gradCam"])} if cam_layer is not None else {})},
    }


def export(gen: BranchedGenerator, path: str) -> None:
    export_onnx(DxaiExport(gen.eval()), (torch.zeros(1, *gen.shape.tuple), torch.zeros(1, dtype=torch.int64)), path,
                ["image", "class"], ["branches"],
                {"image": {0: "batch"}, "class": {0: "batch"}, "branches": {0: "batch"}})
