#!/usr/bin/env python3
"""PyTorch reference of ImageGen's DCGAN and VAE training steps and of sampling 64 images.

Same networks (layer for layer), same losses, same optimizer settings and batch sizes as `imagegen bench`,
so `bench/compare.sh` can print the ratio. Run with Debian's python3-torch and libopenblas0-pthread:
    python3 bench/reference/train_step.py train --model dcgan --batch-size 128 --steps 200 --threads 2
    python3 bench/reference/train_step.py sample --count 64 --iterations 200
"""
import argparse
import os
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def dcgan_generator(nz, ngf, nc, size):
    stages = {32: 3, 64: 4}[size]
    width = ngf * 2 ** (stages - 1)
    layers = [nn.ConvTranspose2d(nz, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]
    for _ in range(1, stages):
        layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU(True)]
        width //= 2
    layers += [nn.ConvTranspose2d(width, nc, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def dcgan_discriminator(ndf, nc, size):
    stages = {32: 3, 64: 4}[size]
    width = ndf
    layers = [nn.Conv2d(nc, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
    for _ in range(1, stages):
        layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2, inplace=True)]
        width *= 2
    layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False)]
    return nn.Sequential(*layers)


def init_weights(m):
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class VaeEncoder(nn.Module):
    def __init__(self, ndf, nc, size, nz):
        super().__init__()
        stages = {32: 3, 64: 4}[size]
        width = ndf
        layers = [nn.Conv2d(nc, width, 4, 2, 1), nn.LeakyReLU(0.2)]
        for _ in range(1, stages):
            layers += [nn.Conv2d(width, width * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width * 2), nn.LeakyReLU(0.2)]
            width *= 2
        self.features = nn.Sequential(*layers)
        self.mu = nn.Linear(width * 16, nz)
        self.logvar = nn.Linear(width * 16, nz)

    def forward(self, x):
        h = self.features(x).flatten(1)
        return self.mu(h), self.logvar(h)


class VaeDecoder(nn.Module):
    def __init__(self, ngf, nc, size, nz):
        super().__init__()
        stages = {32: 3, 64: 4}[size]
        self.base = ngf * 2 ** (stages - 1)
        self.project = nn.Linear(nz, self.base * 16)
        width = self.base
        layers = [nn.ReLU()]
        for _ in range(1, stages):
            layers += [nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(width // 2), nn.ReLU()]
            width //= 2
        layers += [nn.ConvTranspose2d(width, nc, 4, 2, 1)]
        self.upsample = nn.Sequential(*layers)

    def forward(self, z):
        return self.upsample(self.project(z).view(-1, self.base, 4, 4))


class Trainable:
    """One model of the reference: step(real) -> the scalars ImageGen reads back each step (DCGAN: loss_d, loss_g,
    D(x), D(G(z)); VAE: loss, recon, kl, mse); sample(z) -> images in [-1, 1]; train(on) switches the modes."""

    def __init__(self, model, batch, size=32, nc=1):
        if model == "dcgan":
            self.nz, ngf, ndf = 100, 64, 64
            g, d = dcgan_generator(self.nz, ngf, nc, size), dcgan_discriminator(ndf, nc, size)
            g.apply(init_weights)
            d.apply(init_weights)
            opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
            opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
            nz = self.nz

            def step(real):
                opt_d.zero_grad()
                fake = g(torch.randn(batch, nz, 1, 1))
                real_logits, fake_logits = d(real).view(-1), d(fake.detach()).view(-1)
                loss_d = F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits)) + \
                    F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
                loss_d.backward()
                opt_d.step()
                opt_g.zero_grad()
                out = d(fake).view(-1)
                loss_g = F.binary_cross_entropy_with_logits(out, torch.ones_like(out))
                loss_g.backward()
                opt_g.step()
                # the same scalars ImageGen reads back each step
                return loss_d.item(), loss_g.item(), real_logits.sigmoid().mean().item(), fake_logits.sigmoid().mean().item()

            self.step = step
            self.sample = lambda z: g(z.view(-1, nz, 1, 1))
            self.modules = [g, d]
            self.arch = f"DCGAN {size}x{size}x{nc}: nz {nz}, ngf {ngf}, ndf {ndf} (dcgan_generator/dcgan_discriminator, init_weights)"
        else:
            self.nz, width = 20, 32
            enc, dec = VaeEncoder(width, nc, size, self.nz), VaeDecoder(width, nc, size, self.nz)
            opt = torch.optim.Adam(list(enc.parameters()) + list(dec.parameters()), lr=1e-3)

            def step(x):
                opt.zero_grad()
                target = (x + 1) / 2
                mu, logvar = enc(x)
                std = (0.5 * logvar).exp()
                logits = dec(mu + torch.randn_like(std) * std)
                recon = F.binary_cross_entropy_with_logits(logits, target, reduction="sum") / x.shape[0]
                kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum() / x.shape[0]
                loss = recon + kl
                loss.backward()
                opt.step()
                with torch.no_grad():
                    mse = (logits.sigmoid() - target).pow(2).mean()
                return loss.item(), recon.item(), kl.item(), mse.item()

            self.step = step
            # the decoder gives Bernoulli logits of pixels in [0, 1]; its mean mapped to [-1, 1]
            self.sample = lambda z: dec(z).sigmoid() * 2 - 1
            self.modules = [enc, dec]
            self.arch = f"VAE {size}x{size}x{nc}: nz {self.nz}, ngf {width}, ndf {width} (VaeEncoder/VaeDecoder, PyTorch default init)"

    def train(self, on):
        for m in self.modules:
            m.train(on)


def bench_train(args):
    size, nc, batch = args.image_size, 1, args.batch_size
    data = torch.rand(max(batch * 8, 512), nc, size, size) * 2 - 1
    step = Trainable(args.model, batch, size, nc).step

    times = []
    for i in range(args.warmup + args.steps):
        start = time.perf_counter()
        offset = i * batch % (data.shape[0] - batch + 1)
        step(data[offset:offset + batch])
        if i >= args.warmup:
            times.append((time.perf_counter() - start) * 1000)
    median = statistics.median(times)
    print(f"reference train: {args.model} {size}x{size}x{nc} batch={batch} steps={args.steps} warmup={args.warmup}")
    print(f"machine: PyTorch {torch.__version__}, threads {torch.get_num_threads()}, BLAS {blas()}")
    print(f"step ms: median {median:.2f}")
    print(f"images/s: {batch / (median / 1000):.0f}")


def bench_sample(args):
    g = dcgan_generator(100, 64, 1, args.image_size)
    g.apply(init_weights)
    g.eval()
    times = []
    for i in range(args.warmup + args.iterations):
        start = time.perf_counter()
        with torch.inference_mode():
            z = torch.cat([torch.randn(1, 100, generator=torch.Generator().manual_seed(s)) for s in range(args.count)])
            images = g(z.view(-1, 100, 1, 1))
            images.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8).numpy().tobytes()
        if i >= args.warmup:
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    q = lambda p: times[min(len(times) - 1, int(round(p / 100 * (len(times) - 1))))]
    print(f"reference sample: dcgan {args.image_size}x{args.image_size}x1 count={args.count} (to uint8 bytes, no PNG)")
    print(f"machine: PyTorch {torch.__version__}, threads {torch.get_num_threads()}, BLAS {blas()}")
    print(f"latents + forward ms: p50 {q(50):.2f}  p90 {q(90):.2f}  p99 {q(99):.2f}")


def blas():
    """Debian's torch links the generic libblas.so.3; the alternatives system picks the implementation."""
    info = "unknown"
    for line in torch.__config__.show().splitlines():
        if "BLAS_INFO=" in line:
            info = line.split("BLAS_INFO=")[1].split(",")[0].strip()
    library = "/usr/lib/x86_64-linux-gnu/libblas.so.3"
    return f"{info} ({os.path.realpath(library)})" if os.path.exists(library) else info


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("target", choices=["train", "sample"])
    parser.add_argument("--model", choices=["dcgan", "vae"], default="dcgan")
    parser.add_argument("--image-size", type=int, choices=[32, 64], default=32)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--count", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    (bench_train if args.target == "train" else bench_sample)(args)


if __name__ == "__main__":
    main()
