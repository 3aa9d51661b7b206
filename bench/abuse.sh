#!/usr/bin/env bash
# Abuse bench: what a burst of the largest allowed requests costs the server, and how fast over-limit requests are
# refused. Kestrel on 127.0.0.1 serving the Functions app's handlers, the model in a real Azurite, load from a
# separate process.
#   bench/abuse.sh [checkpoint=runs/quickstart] [burst-requests=128]
# Prints, in one run: the server's RSS before and after the burst and its peak (VmHWM) with the status codes, for
# the largest request the pixel budget allows (256 images at scale 8 as JSON of base64 PNGs, 32 at once), then the
# latency of refusals (a count past 256, an unsafe dataset name, and the same burst against a budget it is past).
# The archive cases (zip member count, tar header budget, broken archives) are in the test suite: they are refused
# by name per archive before anything is expanded.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
checkpoint=${1:-runs/quickstart}; burst=${2:-128}
[ -e "$checkpoint" ] || { echo "no checkpoint at $checkpoint: run tools/imagegen first (the quickstart)"; exit 1; }
dotnet build -c Release "$root/tools/ImageGen.Cli/ImageGen.Cli.csproj" >/dev/null
cli="dotnet $root/tools/ImageGen.Cli/bin/Release/net10.0/imagegen.dll"
blob_port=10191; http_port=5091; url="http://127.0.0.1:$http_port"
data=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$data"; }
trap cleanup EXIT
"$root/tools/azurite/node_modules/.bin/azurite-blob" --silent --location "$data" --blobHost 127.0.0.1 --blobPort $blob_port \
  --skipApiVersionCheck --loose & pids+=($!)
conn="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;BlobEndpoint=http://127.0.0.1:$blob_port/devstoreaccount1;"
until curl -s -o /dev/null "http://127.0.0.1:$blob_port/"; do sleep 0.5; done
$cli publish --checkpoint "$checkpoint" --dataset fmnist --version v0001 --storage "$conn" >/dev/null
rss() { awk -v f="$2" '$1 == f {printf "%.0f MiB", $2 / 1024}' "/proc/$1/status"; }

$cli serve --storage "$conn" --urls "$url" --threads 2 >/dev/null & server=$!; pids+=($server)
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/api/datasets/fmnist/samples?count=1&seed=0")" = 200 ]; do sleep 0.1; done
size=$(curl -s "$url/api/datasets/fmnist/samples?count=1&seed=0&format=json" | wc -c)
echo "== machine: $(nproc) cores, $(uname -srm); server threads 2; $(dotnet --version) SDK; defaults: 16,777,216 pixels a request, 50,331,648 in flight"
echo "server RSS after one small request: $(rss $server VmRSS:) (peak so far $(rss $server VmHWM:)); a 1-image JSON answer is $size bytes"
echo "== burst: $burst requests of count=256&scale=8&format=json (256 x 256x256 = 16.8 M pixels each, the most one request may ask), 32 at once"
$cli bench http --url "$url" --path "/api/datasets/fmnist/samples?count=256&scale=8&format=json" --images-per-request 256 \
  --concurrency 32 --requests "$burst" --warmup 0 --server-pid "$server" 2>&1 | grep -E "requests/s|latency|status|RSS"
echo "== refusals, 200 each at concurrency 8"
for path in "/api/datasets/fmnist/samples?count=257" "/api/datasets/..%2Fother/samples?count=1"; do
  echo "-- $path"
  $cli bench http --url "$url" --path "$path" --concurrency 8 --requests 200 --warmup 0 2>&1 | grep -E "latency|status"
done
kill "$server"; wait "$server" 2>/dev/null || true
echo "== the same burst with the budgets at 1/16 (--max-request-pixels 1048576): every request refused before any image is made"
$cli serve --storage "$conn" --urls "$url" --threads 2 --max-request-pixels 1048576 >/dev/null & server=$!; pids+=($server)
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/api/datasets/fmnist/samples?count=1&seed=0")" = 200 ]; do sleep 0.1; done
$cli bench http --url "$url" --path "/api/datasets/fmnist/samples?count=256&scale=8&format=json" --concurrency 32 --requests "$burst" \
  --warmup 0 --server-pid "$server" 2>&1 | grep -E "latency|status|RSS"
