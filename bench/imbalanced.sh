#!/usr/bin/env bash
# Fashion-MNIST with classes of unequal size, as a user's folders may be: class c keeps round(300 * 0.7^c) training
# images (300 t-shirts down to 12 ankle boots, 971 in all) and three times as many held-out test images in the same
# proportions (2,913), the first of each class in file order. Written as IDX files for bench variants (--data,
# --data-labels, --reference; the Fashion-MNIST classifier judges with --extractor).
#   bench/imbalanced.sh [out=bench-runs/imbalanced]
# Needs: apt-get install dataset-fashion-mnist
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/bench-runs/imbalanced}"
mkdir -p "$out"
python3 - /usr/share/datasets/fashion-mnist "$out" <<'PY'
import gzip, struct, sys
source, out = sys.argv[1], sys.argv[2]
def read(prefix):
    with gzip.open(f"{source}/{prefix}-images-idx3-ubyte.gz") as f:
        _, n, rows, cols = struct.unpack(">IIII", f.read(16)); pixels = f.read()
    with gzip.open(f"{source}/{prefix}-labels-idx1-ubyte.gz") as f:
        f.read(8); labels = f.read()
    size = rows * cols
    return [pixels[i * size:(i + 1) * size] for i in range(n)], labels, rows, cols
for prefix, name, scale in (("train", "train", 1), ("t10k", "test", 3)):
    images, labels, rows, cols = read(prefix)
    want = [round(300 * 0.7 ** c) * scale for c in range(10)]
    kept, taken = [], [0] * 10
    for i, label in enumerate(labels):
        if taken[label] < want[label]:
            taken[label] += 1; kept.append(i)
    with open(f"{out}/{name}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, len(kept), rows, cols)); f.write(b"".join(images[i] for i in kept))
    with open(f"{out}/{name}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x801, len(kept))); f.write(bytes(labels[i] for i in kept))
    print(f"{out}/{name}-*-idx*-ubyte: {len(kept)} images, per class {taken}")
PY
