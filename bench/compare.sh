#!/usr/bin/env bash
# Runs ImageGen's training-step benchmark and the PyTorch reference alternately in one go (the machine is
# shared and noisy), then prints each side's median images/s over the rounds and the ratio.
#   bench/compare.sh [rounds=3] [steps=200] [threads=2]
# Needs: apt-get install python3-torch libopenblas0-pthread
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
rounds=${1:-3}; steps=${2:-200}; threads=${3:-2}
python=/usr/bin/python3
"$python" -c "import torch" 2>/dev/null || { echo "PyTorch reference needs: apt-get install python3-torch libopenblas0-pthread"; exit 1; }
dotnet build -c Release "$root/tools/ImageGen.Cli/ImageGen.Cli.csproj" >/dev/null
ours="dotnet $root/tools/ImageGen.Cli/bin/Release/net10.0/imagegen.dll bench train"
ref="$python $root/bench/reference/train_step.py train"
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
imgs() { grep -oE '^images/s: [0-9.]+' | awk '{print $2}'; }

echo "compare: rounds=$rounds steps=$steps threads=$threads, $(nproc) cores, $(uname -srm)"
$ours --steps 1 --warmup 0 --threads "$threads" | grep machine:
$ref --steps 1 --warmup 0 --threads "$threads" | grep machine:
printf '%-22s %12s %12s %8s\n' "config" "ImageGen" "PyTorch" "ratio"
for config in "dcgan 64" "dcgan 128" "vae 128"; do
  set -- $config
  a=(); b=()
  for r in $(seq "$rounds"); do
    a+=("$($ours --model "$1" --batch-size "$2" --steps "$steps" --warmup 10 --threads "$threads" | imgs)")
    b+=("$($ref --model "$1" --batch-size "$2" --steps "$steps" --warmup 10 --threads "$threads" | imgs)")
  done
  ma=$(printf '%s\n' "${a[@]}" | median); mb=$(printf '%s\n' "${b[@]}" | median)
  printf '%-22s %12s %12s %8s\n' "$1 32x32x1 batch $2" "$ma img/s" "$mb img/s" "$(awk -v a="$ma" -v b="$mb" 'BEGIN {printf "%.2fx", a/b}')"
done
