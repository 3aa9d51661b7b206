#!/usr/bin/env bash
# azd prepackage and preprovision hook (azure.yaml): makes sure the azd environment knows BASE_REGISTRY, the host of
# Microsoft's container registry, where the .NET SDK and Azure Functions base images of infra/docker/*.Dockerfile
# (and the training app's first-provision placeholder) come from. The host is not written in this repository, so it
# is asked once and kept in the azd environment (.azure/<env>/.env); later runs find it there.
set -euo pipefail

if [ -n "${BASE_REGISTRY:-}" ]; then
  exit 0
fi
if [ -t 0 ]; then
  read -r -p "Host of Microsoft's container registry (the .NET and Azure Functions images; infra/README.md): " answer
  answer=${answer%/}
  if [ -n "$answer" ]; then
    azd env set BASE_REGISTRY "$answer"
    exit 0
  fi
fi
echo "BASE_REGISTRY is not set: run 'azd env set BASE_REGISTRY <host of Microsoft's container registry>' (infra/README.md)." >&2
exit 1
