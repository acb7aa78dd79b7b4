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
from .common import Clock, Ema, device, export_onnx, predict, step_batches


class BranchedGenerator(nn.Module):
    def __init__(self, num_classes: int, branches: int = 5, width: int = 8, style_dim: int = 32):
        super().__init__()
        self.branches = branches
        b, w = branches, width
        self.style = nn.Embedding(num_classes, style_dim)
        self.stem = nn.Conv2d(1, b * w, 3, 1, 1)
        self.encode = nn.ModuleList([
            ResBlock(b * w, b * 2 * w, groups=b, resample="down"),       # 28 -> 14
            ResBlock(b * 2 * w, b * 2 * w, groups=b, resample="down"),   # 14 -> 7
        ])
        self.decode = nn.ModuleList([
            ResBlock(b * 2 * w, b * 2 * w, groups=b, style_dim=style_dim),
            ResBlock(b * 2 * w, b * 2 * w, groups=b, style_dim=style_dim, resample="up"),  # 7 -> 14
            ResBlock(b * 2 * w, b * w, groups=b, style_dim=style_dim, resample="up"),      # 14 -> 28
        ])
        self.head = nn.Sequential(nn.InstanceNorm2d(b * w, affine=True), nn.LeakyReLU(0.2),
                                  nn.Conv2d(b * w, b, 1, groups=b))

    def forward(self, pixels: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        """pixels [N,1,H,W] in [0,1], label [N] -> branch images [N,B,H,W] (pixel units, sum ~ image)."""
        style = self.style(label)
        h = self.stem(pixels * 2 - 1)
        for block in self.encode:
            h = block(h)
        for block in self.decode:
            h = block(h, style)
        return self.head(h)


class DxaiExport(nn.Module):
    """ONNX face: image [N,1,H,W] + class [N] (int64) -> branches [N,B,1,H,W]."""

    def __init__(self, generator: BranchedGenerator):
        super().__init__()
        self.generator = generator

    def forward(self, image, label):
        return self.generator(image, label).unsqueeze(2)


def blend(own: torch.Tensor, other: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The other class's distinct branch plus agnostic branches mixed per branch with random alpha."""
    alpha = torch.rand(own.shape[0], own.shape[1] - 1, 1, 1, generator=generator).to(own.device)
    mixed = alpha * own[:, 1:] + (1 - alpha) * other[:, 1:]
    return other[:, :1] + mixed.sum(1, keepdim=True)


def random_other_class(label: torch.Tensor, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    shift = torch.randint(1, num_classes, label.shape, generator=generator).to(label.device)
    return (label + shift) % num_classes


DEFAULTS = dict(steps=3000, batch=64, lr=2e-4, betas=(0.0, 0.99), ema=0.999, r1=1.0,
                w_adv=1.0, w_cls=4.0, w_rec=4.0, w_distinct=1.0, branches=5, width=8)


def train(data, classifier, seed_generator: torch.Generator, **options) -> dict:
    cfg = {**DEFAULTS, **options}
    dev = device()
    num_classes = len(data.classes)
    gen = BranchedGenerator(num_classes, cfg["branches"], cfg["width"]).to(dev)
    disc = ClassDiscriminator(num_classes).to(dev)
    classifier = classifier.to(dev)
    ema = Ema(gen, cfg["ema"])
    opt_g = torch.optim.Adam(gen.parameters(), lr=cfg["lr"], betas=cfg["betas"])
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg["lr"], betas=cfg["betas"])
    x_all, y_all = data.train.pixels, data.train.labels
    clock = Clock("dxai")
    history = []
    for step, index in step_batches(len(x_all), cfg["batch"], cfg["steps"], seed_generator):
        x, y = x_all[index].to(dev), y_all[index].to(dev)
        t = random_other_class(y, num_classes, seed_generator)
        # Generator: adversarial + classifier CE on the blend (towards t) + reconstruction + distinct term.
        own, other = gen(x, y), gen(x, t)
        fake = blend(own, other, seed_generator)
        adv = F.softplus(-disc(fake, t)).mean()
        cls = F.cross_entropy(classifier(fake), t)
        error = (own.sum(1, keepdim=True) - x) * 2  # in [-1, 1] units, as the reference trains
        rec = error.abs().mean() + error.pow(2).mean()
        distinct = (own[:, 0] * 2).abs().mean()
        loss_g = cfg["w_adv"] * adv + cfg["w_cls"] * cls + cfg["w_rec"] * rec + cfg["w_distinct"] * distinct
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        # Discriminator: real images of their class vs the same blended fakes, R1 on the reals.
        x.requires_grad_(True)
        out_real = disc(x, y)
        loss_d = (F.softplus(-out_real).mean() + F.softplus(disc(fake.detach(), t)).mean()
                  + cfg["r1"] * r1_penalty(out_real, x))
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        ema.update(gen)
        if (step + 1) % 100 == 0 or step + 1 == cfg["steps"]:
            clock.record(history, step + 1, d=loss_d, adv=adv, cls=cls, rec=rec, distinct=distinct)
    classifier.cpu()
    return dict(model=ema.shadow.cpu().eval(), seconds=clock.seconds, config=cfg, history=history)


@torch.no_grad()
def decompose(gen: BranchedGenerator, pixels: torch.Tensor, labels: torch.Tensor, batch: int = 500) -> torch.Tensor:
    return torch.cat([gen(pixels[s : s + batch], labels[s : s + batch]) for s in range(0, len(pixels), batch)])


def grad_cam(model: nn.Module, pixels: torch.Tensor, labels: torch.Tensor, layer: nn.Module, batch: int = 500):
    """Grad-CAM at `layer` of a pixel-space classifier, upsampled to the image, ReLU-ed."""
    maps = []
    for s in range(0, len(pixels), batch):
        store = {}
        handle = layer.register_forward_hook(lambda _m, _i, out: store.__setitem__("a", out))
        x = pixels[s : s + batch].clone().requires_grad_(True)
        logits = model(x)
        handle.remove()
        activations = store["a"]
        (grads,) = torch.autograd.grad(logits.gather(1, labels[s : s + batch, None]).sum(), activations)
        weights = grads.mean((2, 3), keepdim=True)
        cam = F.relu((weights * activations).sum(1, keepdim=True))
        maps.append(F.interpolate(cam, size=pixels.shape[-2:], mode="bilinear", align_corners=False).detach())
    return torch.cat(maps)


def global_beta(model: nn.Module, pixels: torch.Tensor, labels: torch.Tensor, removal: torch.Tensor, steps: int = 11):
    """Accuracy on pixels - beta * removal for beta in [0, 1]; AUC (trapezoid) / accuracy at beta 0."""
    betas = np.linspace(0, 1, steps)
    accuracy = [float((predict(model, pixels - beta * removal).argmax(1) == labels).float().mean()) for beta in betas]
    auc = float(np.trapz(accuracy, betas)) / accuracy[0]
    return dict(betas=[round(float(b), 2) for b in betas], accuracy=[round(a, 4) for a in accuracy], auc=round(auc, 4))


def evaluate(gen: BranchedGenerator, classifier, data, cam_layer: nn.Module) -> dict:
    x, y = data.test.pixels, data.test.labels
    predicted = predict(classifier, x).argmax(1)
    branches = decompose(gen, x, predicted)
    recon = branches.sum(1, keepdim=True)
    distinct = branches[:, :1]
    mse = float((recon - x).pow(2).mean())
    agnostic_exact = predict(classifier, x - distinct)
    agnostic_branches = predict(classifier, branches[:, 1:].sum(1, keepdim=True))
    cam = grad_cam(classifier, x, predicted, cam_layer)
    cam = cam / cam.flatten(1).abs().amax(1).clamp_min(1e-12).view(-1, 1, 1, 1)
    return {
        "reconstructionMae": round(float((recon - x).abs().mean()), 5),
        "reconstructionPsnr": round(float(10 * np.log10(1.0 / mse)), 2),
        "agnosticAccuracy": round(float((agnostic_exact.argmax(1) == y).float().mean()), 4),
        "agnosticMeanTop1": round(float(agnostic_exact.max(1).values.mean()), 4),
        "agnosticBranchesAccuracy": round(float((agnostic_branches.argmax(1) == y).float().mean()), 4),
        "agnosticBranchesMeanTop1": round(float(agnostic_branches.max(1).values.mean()), 4),
        "distinctShareOfIntensity": round(float(distinct.abs().sum() / x.abs().sum()), 4),
        "globalBeta": {"dxai": global_beta(classifier, x, y, distinct),
                       "gradCam": global_beta(classifier, x, y, cam * x)},
    }


def export(gen: BranchedGenerator, path: str) -> None:
    export_onnx(DxaiExport(gen.eval()), (torch.zeros(1, 1, 28, 28), torch.zeros(1, dtype=torch.int64)), path,
                ["image", "class"], ["branches"],
                {"image": {0: "batch"}, "class": {0: "batch"}, "branches": {0: "batch"}})
