#!/usr/bin/env bash
# A second family of labelled images for the quality benchmarks: the 1,797 handwritten digits (8x8, 17 grey levels,
# 10 classes) that Debian's scikit-learn package ships, written as IDX files (as Fashion-MNIST's) in a fixed random split
# of 1,000 training and 797 held-out images. The package is unpacked where it lies, not installed; nothing else is needed.
#   bench/digits.sh [out=bench-runs/digits]
# Then, for example: the judge (a classifier trained on the training labels) and the variants bench judged by it:
#   imagegen extractor --data OUT/train-images-idx3-ubyte --labels OUT/train-labels-idx1-ubyte \
#     --test-data OUT/test-images-idx3-ubyte --test-labels OUT/test-labels-idx1-ubyte --epochs 30 --out OUT/judge.bin
#   imagegen bench variants --data OUT/train-images-idx3-ubyte --reference OUT/test-images-idx3-ubyte --extractor OUT/judge.bin ...
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/bench-runs/digits}"
mkdir -p "$out"
csv=/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz
if [ ! -f "$csv" ]; then
  unpacked="$out/python3-sklearn"
  if [ ! -f "$unpacked$csv" ]; then
    (cd "$out" && rm -f python3-sklearn_*.deb && apt-get download python3-sklearn >/dev/null && dpkg -x python3-sklearn_*.deb "$unpacked")
  fi
  csv="$unpacked$csv"
fi
python3 - "$csv" "$out" <<'PY'
import gzip, random, struct, sys
csv, out = sys.argv[1], sys.argv[2]
rows = [list(map(int, map(float, line.split(",")))) for line in gzip.open(csv, "rt") if line.strip()]
assert len(rows) == 1797 and all(len(r) == 65 for r in rows), f"{csv}: expected 1797 rows of 64 pixels and a label"
order = list(range(len(rows)))
random.Random(0).shuffle(order)
for name, part in (("train", order[:1000]), ("test", order[1000:])):
    with open(f"{out}/{name}-images-idx3-ubyte", "wb") as f:
        f.write(struct.pack(">IIII", 0x803, len(part), 8, 8))
        f.write(bytes(round(v * 255 / 16) for i in part for v in rows[i][:64]))
    with open(f"{out}/{name}-labels-idx1-ubyte", "wb") as f:
        f.write(struct.pack(">II", 0x801, len(part)))
        f.write(bytes(rows[i][64] for i in part))
    counts = [sum(1 for i in part if rows[i][64] == d) for d in range(10)]
    print(f"{out}/{name}-*-idx*-ubyte: {len(part)} digits, per class {counts}")
PY
