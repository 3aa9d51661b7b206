#!/usr/bin/env bash
# azd postdeploy hook (azure.yaml): the second pass of infra/main.bicep, with wireEventGrid=true. The Event Grid
# subscription needs the Flex app's blob extension key, which exists only once its code is deployed, so it cannot be
# made in the first pass. Same template and the same parameters azd used (read from infra/main.parameters.json and
# filled from the azd environment the way azd fills them), plus the image azd just deployed, so this pass also gives
# the training app its health probes. Needs the Azure CLI signed in to the same subscription (az login).
set -euo pipefail
cd "$(dirname "$0")/../.."

: "${AZURE_RESOURCE_GROUP:?not set: run through azd (azd up or azd deploy), which sets the environment}"
command -v az >/dev/null || { echo "the Azure CLI (az) is needed for the Event Grid pass" >&2; exit 1; }
if [ -n "${AZURE_SUBSCRIPTION_ID:-}" ]; then
  az account set --subscription "$AZURE_SUBSCRIPTION_ID"
fi

# The training image azd deployed (azd records it as SERVICE_TRAINING_IMAGE_NAME); else whatever the app runs now.
if [ -z "${SERVICE_TRAINING_IMAGE_NAME:-}" ]; then
  SERVICE_TRAINING_IMAGE_NAME=$(az containerapp show -g "$AZURE_RESOURCE_GROUP" -n "${TRAINING_APP_NAME:?}" \
    --query 'properties.template.containers[0].image' -o tsv)
  export SERVICE_TRAINING_IMAGE_NAME
fi

# One parameter a line in infra/main.parameters.json: "name": { "value": "${VAR}" } or "${VAR=default}".
line_re='^[[:space:]]*"([A-Za-z0-9_]+)":[[:space:]]*\{[[:space:]]*"value":[[:space:]]*"\$\{([A-Za-z_][A-Za-z0-9_]*)(=([^}]*))?\}"[[:space:]]*\},?[[:space:]]*$'
params=()
while IFS= read -r line; do
  if [[ $line =~ $line_re ]]; then
    var=${BASH_REMATCH[2]}
    value=${!var:-${BASH_REMATCH[4]}}
    params+=("${BASH_REMATCH[1]}=$value")
  elif [[ $line == *'"value"'* ]]; then
    echo "infra/main.parameters.json: cannot read '$line' (one \"name\": { \"value\": \"\${VAR}\" } a line)" >&2
    exit 1
  fi
done < infra/main.parameters.json

echo "Second pass of infra/main.bicep with wireEventGrid=true (${params[*]})"
az deployment group create -g "$AZURE_RESOURCE_GROUP" -n "${AZURE_ENV_NAME:-imagegen}-wire-event-grid" \
  -f infra/main.bicep -p "${params[@]}" wireEventGrid=true --only-show-errors -o none
echo "Event Grid: BlobCreated under training-images/ now reaches the front app's blob trigger."
