#!/usr/bin/env bash
# Serving benchmarks through the HTTP stack: Kestrel on 127.0.0.1 serving the same handlers as the Functions
# app (the Functions host cannot run here), models in a real Azurite, load from a separate process.
#   bench/serve.sh [checkpoint=runs/quickstart] [load-requests=10000]
# Prints: bare forward+PNG vs HTTP latency (count 16 and 64), throughput at concurrency 1/8/32 with batching
# on and off, cold start to the first 200, and a long load with the server's RSS.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
checkpoint=${1:-runs/quickstart}; load=${2:-10000}
[ -e "$checkpoint" ] || { echo "no checkpoint at $checkpoint: run tools/imagegen first (the quickstart)"; exit 1; }
dotnet build -c Release "$root/tools/ImageGen.Cli/ImageGen.Cli.csproj" >/dev/null
cli="dotnet $root/tools/ImageGen.Cli/bin/Release/net10.0/imagegen.dll"
blob_port=10190; http_port=5090; url="http://127.0.0.1:$http_port"
data=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
"$root/tools/azurite/node_modules/.bin/azurite-blob" --silent --location "$data" --blobHost 127.0.0.1 --blobPort $blob_port \
  --skipApiVersionCheck --loose & pids+=($!)
conn="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$blob_port/devstoreaccount1;"
until curl -s -o /dev/null "http://127.0.0.1:$blob_port/"; do sleep 0.5; done
$cli publish --checkpoint "$checkpoint" --dataset fmnist --version v0001 --storage "$conn"

serve() { # $@: extra serve flags; sets server_pid and prints the cold start
  local start end
  start=$(date +%s.%N)
  $cli serve --storage "$conn" --urls "$url" --threads 2 "$@" >/dev/null & server_pid=$!; pids+=($server_pid)
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/api/datasets/fmnist/samples?count=1&seed=0")" = 200 ]; do sleep 0.05; done
  end=$(date +%s.%N)
  echo "cold start (process start to first 200, model in Azurite) $*: $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f s", b-a}')"
}
stop() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; }

echo "== machine: $(nproc) cores, $(uname -srm); server threads 2"
echo "== bare forward + PNG grid (same process, no HTTP)"
for n in 16 64; do $cli bench sample --checkpoint "$checkpoint" --count $n --iterations 200 --threads 2 | grep -E "bench sample|PNG"; done
serve
echo "== through HTTP, concurrency 1, fixed seeds (batching on)"
for n in 16 64; do $cli bench http --url "$url" --path "/api/datasets/fmnist/samples?count=$n&seed=1" --images-per-request $n --concurrency 1 --requests 200 | grep -E "latency|bench http"; done
echo "== throughput, batching on (count 16, random seeds)"
for c in 1 8 32; do $cli bench http --url "$url" --path "/api/datasets/fmnist/samples?count=16" --concurrency $c --requests $((c * 40)) | grep -E "concurrency|requests/s|status"; done
echo "== load: $load requests at concurrency 32 (batching on)"
$cli bench http --url "$url" --path "/api/datasets/fmnist/samples?count=16" --concurrency 32 --requests "$load" --server-pid "$server_pid" 2>&1 | grep -vE "^machine"
stop
serve --no-batching
echo "== throughput, batching off (count 16, random seeds)"
for c in 1 8 32; do $cli bench http --url "$url" --path "/api/datasets/fmnist/samples?count=16" --concurrency $c --requests $((c * 40)) | grep -E "concurrency|requests/s|status"; done
stop
