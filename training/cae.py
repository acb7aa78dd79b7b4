"""CAE: class association embedding (Xie et al.).

Two encoders split an image into a low-dimensional class-associated code (8-d) and a spatial
individual code; an AdaIN decoder, whose norm parameters come from an MLP of the class code,
rebuilds an image from the pair. Swapping class codes between images of two classes must give
realistic images of the donor class (adversarial and class heads), and encoding the swapped images
again must give back both codes and, after a second swap, both originals (cycle).
"""
import os

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .blocks import ClassDiscriminator, ResBlock
from .common import device, export_onnx, predict, step_batches, write_json
from .loop import Run, average_gradients, broadcast, shard, world
from .sizes import DEMO, Shape, defaults, down_sizes, individual_levels, levels

CODE_DIM = 8


class ClassEncoder(nn.Module):
    """`levels` stride-2 convs (sizes.py), a 3x3 conv, average pooling, a linear map to the code."""

    def __init__(self, code_dim: int = CODE_DIM, width: int = 16, shape: Shape = DEMO):
        super().__init__()
        widths = [width * 2 ** min(i, 3) for i in range(levels(shape))]
        layers, cin = [], shape.channels
        for cout in widths:
            layers += [nn.Conv2d(cin, cout, 4, 2, 1), nn.LeakyReLU(0.2)]
            cin = cout
        layers += [nn.Conv2d(cin, cin * 2, 3, 1, 1), nn.LeakyReLU(0.2),
                   nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin * 2, code_dim)]
        self.net = nn.Sequential(*layers)

    def forward(self, pixels):
        return self.net(pixels * 2 - 1)


class IndividualEncoder(nn.Module):
    """A 3x3 conv, then min(levels, 3) stride-2 convs to a 2 * width channel spatial code."""

    def __init__(self, width: int = 32, shape: Shape = DEMO):
        super().__init__()
        layers, cin = [nn.Conv2d(shape.channels, width, 3, 1, 1), nn.InstanceNorm2d(width, affine=True), nn.ReLU()], width
        for _ in range(individual_levels(shape)):
            layers += [nn.Conv2d(cin, width * 2, 4, 2, 1), nn.InstanceNorm2d(width * 2, affine=True), nn.ReLU()]
            cin = width * 2
        self.net = nn.Sequential(*layers)
        self.res = ResBlock(width * 2, width * 2)

    def forward(self, pixels):
        return self.res(self.net(pixels * 2 - 1))


class Decoder(nn.Module):
    """Two style blocks at the individual code's size, then one upsampling block a level, halving
    the channels (at least 8), to the image's size recorded on the way down."""

    def __init__(self, code_dim: int = CODE_DIM, width: int = 32, style_dim: int = 64, shape: Shape = DEMO):
        super().__init__()
        ups = individual_levels(shape)
        self.sizes = down_sizes(shape, ups)
        widths = [max(width * 2 // 2 ** i, 8) for i in range(ups + 1)]
        self.mlp = nn.Sequential(nn.Linear(code_dim, style_dim), nn.ReLU(), nn.Linear(style_dim, style_dim), nn.ReLU())
        self.blocks = nn.ModuleList(
            [ResBlock(width * 2, width * 2, style_dim=style_dim), ResBlock(width * 2, width * 2, style_dim=style_dim)]
            + [ResBlock(cin, cout, style_dim=style_dim, resample="up") for cin, cout in zip(widths[:-1], widths[1:])])
        self.out = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv2d(widths[-1], shape.channels, 3, 1, 1), nn.Sigmoid())

    def forward(self, individual, class_code):
        style = self.mlp(class_code)
        h = individual
        for block in self.blocks[:2]:
            h = block(h, style)
        for level, block in zip(range(len(self.sizes) - 2, -1, -1), self.blocks[2:]):
            h = block(h, style, self.sizes[level])
        return self.out(h)


class Cae(nn.Module):
    def __init__(self, shape: Shape = DEMO):
        super().__init__()
        self.shape = shape
        self.class_encoder = ClassEncoder(shape=shape)
        self.individual_encoder = IndividualEncoder(shape=shape)
        self.decoder = Decoder(shape=shape)

    @property
    def individual_shape(self):
        h, w = self.decoder.sizes[-1]
        return [self.individual_encoder.res.conv2.out_channels, h, w]

    def encode(self, pixels):
        return self.class_encoder(pixels), self.individual_encoder(pixels)

    def forward(self, pixels):
        class_code, individual = self.encode(pixels)
        return self.decoder(individual, class_code)


class EncoderExport(nn.Module):
    """ONNX face: image [N,C,H,W] in [0,1] -> class_code [N,8], individual_code [N,64,h,w]."""

    def __init__(self, cae: Cae):
        super().__init__()
        self.cae = cae

    def forward(self, image):
        return self.cae.encode(image)


class DecoderExport(nn.Module):
    """ONNX face: individual_code [N,64,h,w] + class_code [N,8] -> image [N,C,H,W] in [0,1]."""

    def __init__(self, cae: Cae):
        super().__init__()
        self.decoder = cae.decoder

    def forward(self, individual_code, class_code):
        return self.decoder(individual_code, class_code)


# The paper's weights are adv 1 and cls 1. With 3,000 steps they leave the reconstruction at PSNR 12 dB
# (docs/MODELS.md); halving them and starting with plain auto-encoding trades some swap strength for it.
DEFAULTS = dict(steps=3000, warmup=300, batch=32, lr=2e-4, betas=(0.5, 0.999), w_rec=10.0, w_cycle=10.0,
                w_individual=1.0, w_class_code=1.0, w_adv=0.5, w_cls=0.5, w_cls_d=2.0)


def partners(labels: torch.Tensor, by_class: list, num_classes: int, generator: torch.Generator) -> torch.Tensor:
    """For each label, the index of a random training image of a different class."""
    other = (labels + torch.randint(1, num_classes, labels.shape, generator=generator)) % num_classes
    picks = torch.empty_like(labels)
    for i, cls in enumerate(other.tolist()):
        pool = by_class[cls]
        picks[i] = pool[torch.randint(len(pool), (1,), generator=generator)]
    return picks


def train(data, seed_generator: torch.Generator, out_dir: str = None, preview=None, **options) -> dict:
    """Train on data.train; with `out_dir`, checkpoint there and resume from a matching checkpoint;
    `preview(model, step)` is called after each progress report."""
    shape = data.shape
    cfg = {**DEFAULTS, **defaults(shape)["cae"], **options}
    dev = device()
    num_classes = len(data.classes)
    model, disc = Cae(shape).to(dev), ClassDiscriminator(num_classes, class_head=True, shape=shape).to(dev)
    broadcast(model, disc)
    opt_g = torch.optim.Adam(model.parameters(), lr=cfg["lr"], betas=cfg["betas"])
    opt_d = torch.optim.Adam(disc.parameters(), lr=cfg["lr"], betas=cfg["betas"])
    y_all = data.train.labels
    by_class = [torch.nonzero(y_all == c).squeeze(1) for c in range(num_classes)]
    stateful = dict(model=model, disc=disc, opt_g=opt_g, opt_d=opt_d)
    run = Run("cae", cfg["steps"], out_dir, {**cfg, "shape": shape.tuple, "classes": num_classes, "world": world()[1]})
    first = run.resume(seed_generator, **stateful)
    if preview is not None:
        run.on_report = lambda step: preview(model, step)
    for step, index in step_batches(len(y_all), cfg["batch"], cfg["steps"] - first, seed_generator):
        step += first
        other = partners(y_all[index], by_class, num_classes, seed_generator)
        index, other = shard(index), shard(other)
        x1, y1 = data.train.at(index).to(dev), y_all[index].to(dev)
        x2, y2 = data.train.at(other).to(dev), y_all[other].to(dev)
        # s: class-associated code, c: individual code. One direction per pair: the batches are random,
        # so the mirror-image terms of the paper's symmetric losses come from other pairs.
        s1, c1 = model.encode(x1)
        if step < cfg["warmup"]:  # plain auto-encoding first: encoders and decoder agree before the swaps
            rec = (model.decoder(c1, s1) - x1).abs().mean()
            opt_g.zero_grad()
            (cfg["w_rec"] * rec).backward()
            average_gradients(model)
            opt_g.step()
            run.after_step(step + 1, seed_generator, dict(rec=rec), stateful)
            continue
        s2, c2 = model.encode(x2)
        rec = (model.decoder(c1, s1) - x1).abs().mean()
        x12, x21 = model.decoder(c1, s2), model.decoder(c2, s1)  # individual of one, class code of the other
        s12, c12 = model.encode(x12)
        s21, c21 = model.encode(x21)
        individual = (c12 - c1).abs().mean() + (c21 - c2).abs().mean()
        class_code = (s12 - s2).abs().mean() + (s21 - s1).abs().mean()
        cycle = (model.decoder(c12, s21) - x1).abs().mean()
        rf12, cls12 = disc(x12)
        rf21, cls21 = disc(x21)
        adv = F.softplus(-rf12).mean() + F.softplus(-rf21).mean()
        cls = F.cross_entropy(cls12, y2) + F.cross_entropy(cls21, y1)
        loss_g = (cfg["w_rec"] * rec + cfg["w_cycle"] * cycle + cfg["w_individual"] * individual
                  + cfg["w_class_code"] * class_code + cfg["w_adv"] * adv + cfg["w_cls"] * cls)
        opt_g.zero_grad()
        loss_g.backward()
        average_gradients(model)
        opt_g.step()
        real = torch.cat([x1, x2])
        rf_real, cls_real = disc(real)
        rf_fake, _ = disc(torch.cat([x12, x21]).detach())
        loss_d = (F.softplus(-rf_real).mean() + F.softplus(rf_fake).mean()
                  + cfg["w_cls_d"] * F.cross_entropy(cls_real, torch.cat([y1, y2])))
        opt_d.zero_grad()
        loss_d.backward()
        average_gradients(disc)
        opt_d.step()
        run.after_step(step + 1, seed_generator, dict(d=loss_d, rec=rec, cycle=cycle, adv=adv, cls=cls,
                                                      individual=individual, class_code=class_code), stateful)
    return dict(model=model.cpu().eval(), seconds=run.seconds, config=cfg, history=run.history)


@torch.no_grad()
def encode_all(model: Cae, pixels, batch: int = 128):
    """Class and individual codes of a pixel tensor or a whole Split."""
    chunks = pixels.chunks(batch) if hasattr(pixels, "chunks") else ((s, pixels[s : s + batch]) for s in range(0, len(pixels), batch))
    codes, individuals = [], []
    for _, chunk in chunks:
        code, individual = model.encode(chunk)
        codes.append(code)
        individuals.append(individual)
    return torch.cat(codes), torch.cat(individuals)


@torch.no_grad()
def decode_all(model: Cae, individuals: torch.Tensor, codes: torch.Tensor, batch: int = 128):
    return torch.cat([model.decoder(individuals[s : s + batch], codes[s : s + batch])
                      for s in range(0, len(codes), batch)])


def kmeans(points: torch.Tensor, k: int, generator: torch.Generator, iterations: int = 50) -> torch.Tensor:
    centres = points[torch.randperm(len(points), generator=generator)[:k]].clone()
    for _ in range(iterations):
        nearest = torch.cdist(points, centres).argmin(1)
        for j in range(k):
            members = points[nearest == j]
            if len(members):
                centres[j] = members.mean(0)
    return centres


@torch.no_grad()
def prototypes(model: Cae, data, generator: torch.Generator, per_class: int = 4) -> torch.Tensor:
    """Class prototypes in class-code space: k-means centres of each class's training codes, [C, K, 8]."""
    codes = torch.cat([model.class_encoder(chunk) for _, chunk in data.train.chunks(256)])
    return torch.stack([kmeans(codes[data.train.labels == c], per_class, generator)
                        for c in range(len(data.classes))])


def straight_paths(model: Cae, classifier, pixels, prototypes_: torch.Tensor, steps: int = 10):
    """For each image: the path from its class code to the nearest prototype of another class
    (another than the classifier's prediction); returns the first flipping step (0 = none), the target."""
    predicted = predict(classifier, pixels).argmax(1)
    codes, individuals = encode_all(model, pixels)
    num_classes, per_class, dim = prototypes_.shape
    flat = prototypes_.reshape(-1, dim)
    owner = torch.arange(num_classes).repeat_interleave(per_class)
    distances = torch.cdist(codes, flat)
    distances[owner.unsqueeze(0) == predicted.unsqueeze(1)] = float("inf")
    nearest = distances.argmin(1)
    target_codes, target_class = flat[nearest], owner[nearest]
    flip = torch.zeros(len(pixels), dtype=torch.int64)
    flipped_to = torch.full((len(pixels),), -1, dtype=torch.int64)
    for step in range(1, steps + 1):
        k = step / steps
        images = decode_all(model, individuals, codes + k * (target_codes - codes))
        now = predict(classifier, images).argmax(1)
        fresh = (flip == 0) & (now != predicted)
        flip[fresh] = step
        flipped_to[fresh] = now[fresh]
    return flip, flipped_to, target_class


def evaluate(model: Cae, classifier, data, prototypes_: torch.Tensor, steps: int = 10, limit: int = 2000,
             batch: int = 100) -> dict:
    """Quality on the first `limit` test images, in batches; swap donors come from the same batch."""
    generator = torch.Generator().manual_seed(1)
    sums = dict(sq=0.0, values=0, agree=0, donor=0, own=0, flipped=0, to_target=0, flip_steps=0)
    count = 0
    for start, x in data.test.head(limit).chunks(batch):
        y = data.test.labels[start : start + len(x)]
        codes, individuals = encode_all(model, x)
        recon = decode_all(model, individuals, codes)
        sums["sq"] += float((recon - x).pow(2).sum())
        sums["values"] += x.numel()
        predicted = predict(classifier, x).argmax(1)
        sums["agree"] += int((predict(classifier, recon).argmax(1) == predicted).sum())
        by_class = [torch.nonzero(y == c).squeeze(1) for c in range(len(data.classes))]
        if sum(len(members) > 0 for members in by_class) > 1:
            donors = partners_present(y, by_class, generator)
            swapped = predict(classifier, decode_all(model, individuals, codes[donors])).argmax(1)
            sums["donor"] += int((swapped == y[donors]).sum())
            sums["own"] += int((swapped == y).sum())
        flip, flipped_to, target = straight_paths(model, classifier, x, prototypes_, steps)
        sums["flipped"] += int((flip > 0).sum())
        sums["to_target"] += int((flipped_to == target).sum())
        sums["flip_steps"] += int(flip.sum())
        count += len(x)
    flipped = sums["flipped"]
    return {
        "images": count,
        "reconstructionPsnr": round(float(10 * np.log10(1.0 / max(sums["sq"] / sums["values"], 1e-12))), 2),
        "reconstructionClassifierAgreement": round(sums["agree"] / count, 4),
        "swapDonorClassShare": round(sums["donor"] / count, 4),
        "swapKeepsOwnClassShare": round(sums["own"] / count, 4),
        "pathSteps": steps,
        "pathFlipShare": round(flipped / count, 4),
        "pathFlipToTargetShare": round(sums["to_target"] / count, 4),
        "pathMeanFlipStep": round(sums["flip_steps"] / flipped, 2) if flipped else None,
        "pathMeanFlipFraction": round(sums["flip_steps"] / flipped / steps, 3) if flipped else None,
    }


def partners_present(labels: torch.Tensor, by_class: list, generator: torch.Generator) -> torch.Tensor:
    """Like `partners`, among the classes present in `by_class` (a batch of the test split)."""
    present = [c for c, members in enumerate(by_class) if len(members)]
    picks = torch.empty_like(labels)
    for i, own in enumerate(labels.tolist()):
        choices = [c for c in present if c != own]
        cls = choices[int(torch.randint(len(choices), (1,), generator=generator))]
        pool = by_class[cls]
        picks[i] = pool[torch.randint(len(pool), (1,), generator=generator)]
    return picks


def export(model: Cae, out_dir: str) -> None:
    model.eval()
    export_onnx(EncoderExport(model), (torch.zeros(1, *model.shape.tuple),), os.path.join(out_dir, "cae-encoder.onnx"),
                ["image"], ["class_code", "individual_code"],
                {"image": {0: "batch"}, "class_code": {0: "batch"}, "individual_code": {0: "batch"}})
    export_onnx(DecoderExport(model), (torch.zeros(1, *model.individual_shape), torch.zeros(1, CODE_DIM)),
                os.path.join(out_dir, "cae-decoder.onnx"), ["individual_code", "class_code"], ["image"],
                {"individual_code": {0: "batch"}, "class_code": {0: "batch"}, "image": {0: "batch"}})


def write_prototypes(prototypes_: torch.Tensor, classes: list, out_dir: str) -> None:
    write_json(os.path.join(out_dir, "cae-prototypes.json"), {
        "format": "xaiws.cae-prototypes/1",
        "codeDim": CODE_DIM,
        "perClass": prototypes_.shape[1],
        "method": "k-means centres of each class's training-set class codes",
        "classes": [{"name": name, "prototypes": [[round(float(v), 6) for v in p] for p in prototypes_[c]]}
                    for c, name in enumerate(classes)],
    })
