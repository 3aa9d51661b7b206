#!/usr/bin/env python3
"""Train the PyTorch reference DCGAN or VAE on Fashion-MNIST for a fixed training-time budget and write samples.

The networks, initialisation, losses and optimizer settings are those of train_step.py (imported from there, so
there is one definition of each architecture). At each of `--marks` evenly spaced points of the budget the clock
is paused and `--samples` images are generated from fixed latents (torch.Generator seeded 1000+k) and written as
raw uint8 bytes, [samples, 32, 32] row-major, no header, to OUT/samples_{k}.u8 for a C# program to score.
    python3 bench/reference/quality.py --model dcgan --budget 600 --threads 2 --batch-size 128 \
        --samples 10000 --marks 5 --seed 1 --out /tmp/quality-dcgan
Only training steps count toward the budget (sampling, logging and loading the data do not). Writes
OUT/losses.csv (every 50 steps, trained seconds) and OUT/summary.json.
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_step  # noqa: E402  (the reference networks)

SIZE, NC = 32, 1
SAMPLE_BATCH = 500


def load_images(path):
    """Fashion-MNIST IDX images -> float tensor [N, 1, 32, 32] in [-1, 1].

    28x28 is resized to 32x32 by bilinear interpolation (align_corners=False, no antialiasing) of the images
    scaled to [0, 1], then mapped to [-1, 1] with x*2-1; the same for every image."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, count, rows, cols = np.frombuffer(raw, dtype=">u4", count=4)
    if magic != 0x00000803:
        raise SystemExit(f"{path}: not an IDX image file (magic {magic:#010x})")
    pixels = np.frombuffer(raw, dtype=np.uint8, count=int(count) * int(rows) * int(cols), offset=16)
    images = torch.from_numpy(pixels.copy()).view(int(count), 1, int(rows), int(cols))
    out = torch.empty(int(count), 1, SIZE, SIZE)
    for start in range(0, int(count), 10000):  # in chunks, to keep the peak memory down
        chunk = images[start:start + 10000].float() / 255
        resized = F.interpolate(chunk, size=SIZE, mode="bilinear", align_corners=False, antialias=False)
        out[start:start + 10000] = resized * 2 - 1
    return out


def build(model, batch):
    """Returns (step(real) -> (loss_a, loss_b), sample(z), nz, train/eval switcher, architecture text), from the one
    definition in train_step.Trainable: DCGAN loss_d and loss_g; VAE loss and kl per image."""
    trainable = train_step.Trainable(model, batch, SIZE, NC)
    first, second = (0, 1) if model == "dcgan" else (0, 2)

    def step(real):
        scalars = trainable.step(real)
        return scalars[first], scalars[second]

    return step, trainable.sample, trainable.nz, trainable.train, trainable.arch


def write_samples(path, sample, nz, count, seed):
    gen = torch.Generator().manual_seed(seed)
    with open(path, "wb") as f, torch.no_grad():
        for start in range(0, count, SAMPLE_BATCH):
            n = min(SAMPLE_BATCH, count - start)
            x = sample(torch.randn(n, nz, generator=gen))
            pixels = ((x + 1) / 2 * 255).round().clamp(0, 255).to(torch.uint8)
            f.write(pixels.reshape(n, SIZE, SIZE).contiguous().numpy().tobytes())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["dcgan", "vae"], required=True)
    parser.add_argument("--budget", type=float, required=True, help="training seconds (sampling excluded)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--marks", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", required=True)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
    args = parser.parse_args()
    if args.budget <= 0 or args.marks < 1 or args.samples < 1 or args.batch_size < 1:
        parser.error("--budget, --marks, --samples and --batch-size must be positive")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.out, exist_ok=True)

    data = load_images(args.data)
    n, batch = data.shape[0], args.batch_size
    if n < batch:
        raise SystemExit(f"{args.data}: {n} images, fewer than one batch of {batch}")
    print(f"data: {n} images {tuple(data.shape[1:])} from {args.data}", flush=True)

    step, sample, nz, set_train, arch = build(args.model, batch)
    set_train(True)
    shuffle = torch.Generator().manual_seed(args.seed)
    batches_per_epoch = n // batch  # the last partial batch is dropped

    losses = open(os.path.join(args.out, "losses.csv"), "w")
    losses.write("seconds,step,loss_a,loss_b\n")
    marks = []
    trained, steps, k = 0.0, 0, 1
    order, position = None, batches_per_epoch
    last_print = time.perf_counter()
    print(f"training {arch}, batch {batch}, budget {args.budget:g} s, threads {torch.get_num_threads()}",
          flush=True)

    while k <= args.marks:
        start = time.perf_counter()
        if position == batches_per_epoch:
            order, position = torch.randperm(n, generator=shuffle), 0
        real = data[order[position * batch:(position + 1) * batch]]
        position += 1
        loss_a, loss_b = step(real)
        trained += time.perf_counter() - start
        steps += 1

        if steps % 50 == 0:
            losses.write(f"{trained:.3f},{steps},{loss_a:.6f},{loss_b:.6f}\n")
            losses.flush()
        now = time.perf_counter()
        if now - last_print >= 10:
            print(f"step {steps}, trained {trained:.1f} s, loss {loss_a:.4f} {loss_b:.4f}", flush=True)
            last_print = now

        while k <= args.marks and trained >= args.budget * k / args.marks:
            set_train(False)
            name = f"samples_{k}.u8"
            write_samples(os.path.join(args.out, name), sample, nz, args.samples, 1000 + k)
            set_train(True)
            marks.append({"k": k, "seconds": round(trained, 3), "step": steps, "file": name})
            print(f"mark {k}: step {steps}, trained {trained:.1f} s -> {name}", flush=True)
            k += 1
    losses.close()

    images_per_second = steps * batch / trained
    summary = {
        "model": args.model,
        "budget_seconds": args.budget,
        "threads": torch.get_num_threads(),
        "batch_size": batch,
        "steps": steps,
        "images_per_second": round(images_per_second, 2),
        "torch_version": torch.__version__,
        "blas": train_step.blas(),
        "marks": marks,
        "architecture": arch,
    }
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(f"done: steps {steps}, images/s {images_per_second:.1f}", flush=True)


if __name__ == "__main__":
    main()
