#!/usr/bin/env bash
# Abuse bench: what a burst of the largest requests costs the server, with the pixel budgets and without them, and
# how fast over-limit requests are refused. Kestrel on 127.0.0.1 serving the Functions app's handlers, the model in a
# real Azurite, load from a separate process.
#   bench/abuse.sh [checkpoint=runs/quickstart] [burst-requests=32] [concurrency=16]
# A 64x64 RGB checkpoint shows the worst case: imagegen train --image-size 64 --channels 3 --max-steps 20 --out runs/rgb64.
# Prints, in one run, the server's RSS after a small request, then for each burst its peak RSS (VmHWM; every burst
# gets a fresh server), status codes and latency:
#   1. the largest request the budget allows (count=256 at the largest scale that fits 16,777,216 pixels), as JSON;
#   2. count=256&scale=8 as JSON with the budgets lifted (--max-request-pixels, --max-pixels-in-flight and
#      --max-encodes set past any burst): the server as it was before the budgets;
#   3. the same request against the default budgets: refused with 400 before any image is made;
# and the latency of other refusals (a count past 256, an unsafe dataset name).
# The archive cases (zip member count, tar header budget, broken archives) are in the test suite: they are refused
# by name per archive before anything is expanded.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
checkpoint=${1:-runs/quickstart}; burst=${2:-32}; concurrency=${3:-16}
[ -e "$checkpoint" ] || { echo "no checkpoint at $checkpoint: run tools/imagegen first (the quickstart)"; exit 1; }
dotnet build -c Release "$root/tools/ImageGen.Cli/ImageGen.Cli.csproj" >/dev/null
cli="dotnet $root/tools/ImageGen.Cli/bin/Release/net10.0/imagegen.dll"
blob_port=10191; http_port=5091; url="http://127.0.0.1:$http_port"
data=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
"$root/tools/azurite/node_modules/.bin/azurite-blob" --silent --location "$data" --blobHost 127.0.0.1 --blobPort $blob_port \
  --skipApiVersionCheck --loose >/dev/null & pids+=($!)
conn="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$blob_port/devstoreaccount1;"
until curl -s -o /dev/null "http://127.0.0.1:$blob_port/"; do sleep 0.5; done
$cli publish --checkpoint "$checkpoint" --dataset abuse --version v0001 --storage "$conn" >/dev/null
rss() { awk -v f="$2" '$1 == f {printf "%.0f MiB", $2 / 1024}' "/proc/$1/status"; }
serve() { # $@: extra serve flags; sets server
  $cli serve --storage "$conn" --urls "$url" --threads 2 "$@" >/dev/null & server=$!; pids+=($server)
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/api/datasets/abuse/samples?count=1&seed=0")" = 200 ]; do sleep 0.1; done
}
stop() { kill "$server"; wait "$server" 2>/dev/null || true; }
burst() { # $1: query; load from a separate process, the server's peak RSS at the end
  $cli bench http --url "$url" --path "/api/datasets/abuse/samples?$1" --images-per-request 256 --concurrency "$concurrency" \
    --requests "$burst" --warmup 0 --server-pid "$server" 2>&1 | grep -E "requests/s|latency|status|RSS|rror|xception" || echo "bench http failed"
  echo "server alive: $(kill -0 "$server" 2>/dev/null && echo "yes, peak RSS since start $(rss "$server" VmHWM:)" || echo no)"
}

serve
side=$(curl -s "$url/api/datasets/abuse/samples?count=1&seed=0&format=png" | od -An -tu1 -j16 -N4 | awk '{print $1*16777216+$2*65536+$3*256+$4}')
scale=8; while [ $((256 * side * side * scale * scale)) -gt 16777216 ]; do scale=$((scale - 1)); done
echo "== machine: $(nproc) cores, $(uname -srm); server threads 2; SDK $(dotnet --version); model $checkpoint (${side}x${side})"
echo "== defaults: 16,777,216 pixels a request and a pass, 50,331,648 in flight, $(nproc) encodes at once; $burst requests a burst, $concurrency at once"
echo "server RSS after one small request: $(rss "$server" VmRSS:)"
echo "== 1. the largest allowed: count=256&scale=$scale&format=json ($((256 * side * side * scale * scale)) pixels a request)"
burst "count=256&scale=$scale&format=json"
stop
serve --max-request-pixels 4294967296 --max-pixels-in-flight 17179869184 --max-encodes 1024
echo "== 2. budgets lifted (the server before them): count=256&scale=8&format=json ($((256 * side * side * 64)) pixels a request)"
burst "count=256&scale=8&format=json"
stop
serve
echo "== 3. the same request against the default budgets"
burst "count=256&scale=8&format=json"
echo "== other refusals, 200 each at concurrency 8"
for path in "/api/datasets/abuse/samples?count=257" "/api/datasets/..%2Fother/samples?count=1"; do
  echo "-- $path"
  $cli bench http --url "$url" --path "$path" --concurrency 8 --requests 200 --warmup 0 2>&1 | grep -E "latency|status"
done
