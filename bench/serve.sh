#!/usr/bin/env bash
# Serving benchmarks through the HTTP stack: Kestrel on 127.0.0.1 serving the same handlers as the Functions
# app (the Functions host cannot run here), models in a real Azurite, load from a separate process.
#   bench/serve.sh [checkpoint=runs/quickstart] [load-requests=10000]
#   ENGINES_ONLY=1 stops after the engines' side-by-side sections (cold start, latency, throughput, RSS).
#   BACKEND=onnx|libtorch|auto (default auto: ONNX Runtime, the version has model.onnx) picks the engine of every server
#   started below except the first two sections, which run the engines side by side in the same run: the lean build's
#   composition (`serve --lean`: ONNX Runtime, libtorch never loaded), the full build on ONNX Runtime, and libtorch.
# Prints, in one run: the bare forward pass's images/s by batch size (the most batching can gain on this machine),
# what the HTTP path adds over the bare forward + PNG of the same images (count 16 and 64, alternating blocks),
# throughput at concurrency 1/8/32 with batching on and off for 1-image and 16-image requests, cold start to the
# first 200, a long load with the server's RSS, and a promotion under load (how soon traffic moves, failed requests). Every client request is preceded by 300 warm-up requests.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
checkpoint=${1:-runs/quickstart}; load=${2:-10000}
[ -e "$checkpoint" ] || { echo "no checkpoint at $checkpoint: run tools/imagegen first (the quickstart)"; exit 1; }
dotnet build -c Release "$root/tools/ImageGen.Cli/ImageGen.Cli.csproj" >/dev/null
cli="dotnet $root/tools/ImageGen.Cli/bin/Release/net10.0/imagegen.dll"
blob_port=10190; http_port=5090; url="http://127.0.0.1:$http_port"
data=$(mktemp -d); pids=(); results=$(mktemp)
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$data" "$results"; }
trap cleanup EXIT
"$root/tools/azurite/node_modules/.bin/azurite-blob" --silent --location "$data" --blobHost 127.0.0.1 --blobPort $blob_port \
  --skipApiVersionCheck --loose & pids+=($!)
conn="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$blob_port/devstoreaccount1;"
until curl -s -o /dev/null "http://127.0.0.1:$blob_port/"; do sleep 0.5; done
$cli publish --checkpoint "$checkpoint" --dataset fmnist --version v0001 --storage "$conn"

serve() { # $@: extra serve flags; sets server_pid and prints the cold start
  local start end
  start=$(date +%s.%N)
  $cli serve --storage "$conn" --urls "$url" --threads 2 --backend "${BACKEND:-auto}" ${LEAN:+--lean} "$@" >/dev/null & server_pid=$!; pids+=($server_pid)
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/api/datasets/fmnist/samples?count=1&seed=0")" = 200 ]; do sleep 0.05; done
  end=$(date +%s.%N)
  echo "cold start (process start to first 200, model in Azurite), backend ${BACKEND:-auto}${LEAN:+ lean} $*: $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.2f s", b-a}')"
}
stop() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; }
throughput() { # $1: label (on|off); for 1- and 16-image requests at concurrency 1, 8, 32
  for n in 1 16; do for c in 1 8 32; do
    out=$($cli bench http --url "$url" --path "/api/datasets/fmnist/samples?count=$n" --images-per-request $n --concurrency $c \
      --requests $((c * (n == 1 ? 200 : 40))) --warmup 300)
    echo "$out" | grep -E "concurrency|requests/s|latency|server timing|status"
    echo "$1 $n $c $(echo "$out" | sed -n 's/.*images\/s: \([0-9]*\).*/\1/p')" >> "$results"
  done; done
}

echo "== machine: $(nproc) cores, $(uname -srm); server threads 2; backend ${BACKEND:-auto}"
echo "== cold start by engine (process start to first image, model in Azurite), alternating, 3 each: lean ONNX, full ONNX, libtorch"
for i in 1 2 3; do LEAN=1 BACKEND=onnx serve; stop; BACKEND=onnx serve; stop; BACKEND=libtorch serve; stop; done
echo "== side by side, alternating (2 rounds): 1- and 16-image latency at concurrency 1, 16-image throughput at 32, server RSS"
for i in 1 2; do for engine in lean libtorch; do
  if [ $engine = lean ]; then LEAN=1 BACKEND=onnx serve; else BACKEND=libtorch serve; fi
  for n in 1 16; do
    echo "$engine, $n image(s) a request, concurrency 1: $($cli bench http --url "$url" --path "/api/datasets/fmnist/samples?count=$n" --images-per-request $n \
      --concurrency 1 --requests 300 --warmup 300 | grep -E "latency" )"
  done
  echo "$engine, 16 images a request, concurrency 32: $($cli bench http --url "$url" --path "/api/datasets/fmnist/samples?count=16" --images-per-request 16 \
    --concurrency 32 --requests 1280 --warmup 300 --server-pid "$server_pid" 2>/dev/null | grep -E "images/s|RSS" | tr '\n' ' ')"
  stop
done; done
[ -n "${ENGINES_ONLY:-}" ] && exit 0
echo "== one process, both engines, same inputs: load, latency per pass, agreement"
$cli bench backends --checkpoint "$checkpoint" --counts 1,16,64 --rounds 10 --block 20 --threads 2 | grep -vE "^machine"
echo "== bare forward + PNG grid by batch size (same process, no HTTP): the most batching can gain here"
for n in 1 16 64 256; do $cli bench sample --checkpoint "$checkpoint" --count $n --iterations $((n > 64 ? 50 : 200)) --threads 2 | grep -E "bench sample|PNG|images/s"; done
serve
echo "== what HTTP adds: bare forward + PNG (this process) vs the same request over HTTP, alternating blocks"
for n in 16 64; do $cli bench overhead --url "$url" --checkpoint "$checkpoint" --count $n --rounds 10 --block 20 --threads 2 | grep -vE "^machine"; done
echo "== throughput, batching on (random seeds)"
throughput on
echo "== load: $load requests at concurrency 32 (batching on, 16 images a request)"
$cli bench http --url "$url" --path "/api/datasets/fmnist/samples?count=16" --concurrency 32 --requests "$load" --warmup 300 --server-pid "$server_pid" 2>&1 | grep -vE "^machine"
echo "== promote under load: latest v0001 -> v0002 while 16 clients ask for 1-image samples (revalidation every 5 s)"
$cli publish --checkpoint "$checkpoint" --dataset fmnist --version v0002 --storage "$conn" >/dev/null
$cli bench promote --url "$url" --storage "$conn" --dataset fmnist --from v0001 --to v0002 --concurrency 16 --duration 20s --promote-at 5s
stop
serve --no-batching
echo "== throughput, batching off (random seeds)"
throughput off
stop
echo "== batching on / off at concurrency 32"
for n in 1 16; do
  on=$(awk -v n=$n '$1 == "on" && $2 == n && $3 == 32 {print $4}' "$results"); off=$(awk -v n=$n '$1 == "off" && $2 == n && $3 == 32 {print $4}' "$results")
  echo "$n image(s) a request: $on vs $off images/s = $(awk -v a="$on" -v b="$off" 'BEGIN {printf "%.2fx", a/b}')"
done
