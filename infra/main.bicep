// ImageGen in Azure: one storage account (identity only, no shared keys), a Flex Consumption Functions app for
// HTTP and the blob trigger, and a Functions app on a GPU Container Apps workload profile that runs the durable
// pipeline (orchestrations and training activities). The Flex app runs the lean build, functions/ImageGen.Functions.Front
// (serving on ONNX Runtime, no libtorch, no orchestration or activities); the GPU app runs the full build,
// functions/ImageGen.Functions, with app settings disabling the HTTP functions it leaves to the Flex app
// (AzureWebJobs.{name}.Disabled). Each app has its own identity
// with the least it needs (blobGrants): the internet-facing app reads models and checkpoints, writes drops (uploads)
// and can only move latest.json and drop cancel markers; the training app alone writes datasets, checkpoints and
// versions; neither deletes. No app may create containers: they are all made here, and the code takes the storage
// service's 403 to a create as "already made" (core/ImageGen.Pipeline/Storage/BlobContainers.cs).
//
// The training image lives in a registry made here (the training identity pulls it with AcrPull). With
// usePrivateNetworking the storage account is reachable only through private endpoints in a virtual network that
// both apps join.
//
// Deploy with `azd up` (azure.yaml, infra/README.md): provision, build and push the training image, deploy both
// apps, then the postdeploy hook runs this template again with wireEventGrid=true (the blob extension key the
// Event Grid subscription needs exists only once the Flex app's code is deployed).

@description('Prefix of every resource name.')
param name string = 'imagegen'
param location string = resourceGroup().location
@description('''The training image: functions/ImageGen.Functions built by infra/docker/gpu.Dockerfile and pushed to the
registry below. azd passes the image it deployed last (SERVICE_TRAINING_IMAGE_NAME, infra/main.parameters.json). Empty
on the first provision, before any image exists: the app then starts on placeholderImage, without probes, and
azd deploy puts the real image in; the postdeploy pass brings the probes.''')
param trainingImage string = ''
@description('Host of Microsoft\'s container registry (azd: BASE_REGISTRY); only the placeholder image is taken from it.')
param baseRegistry string = ''
@description('What the training app runs until its image exists: the Azure Functions .NET isolated base image, no app.')
param placeholderImage string = '${baseRegistry}/azure-functions/dotnet-isolated:4-dotnet-isolated10.0'
@allowed(['Consumption-GPU-NC8as-T4', 'Consumption-GPU-NC24-A100'])
param gpuProfile string = 'Consumption-GPU-NC8as-T4'
@description('Second pass: subscribe the Event Grid blob trigger once the Flex app is deployed.')
param wireEventGrid bool = false
@description('''Storage only through private endpoints (blob, queue, table) in a virtual network that the Flex app joins
and the Container Apps environment lives in; the storage account's public network access is off. Choose it on the
first provision: a Container Apps environment cannot move into a virtual network later.''')
param usePrivateNetworking bool = false

var suffix = uniqueString(resourceGroup().id)
var pipelineHub = 'ImageGen'
var frontHub = '${pipelineHub}Front'
var containers = ['training-images', 'datasets', 'checkpoints', 'models', 'app-package']
// Containers the Functions host and the durable task hubs use, made here so neither app needs the right to create
// containers: host keys and locks, and each hub's leases and large messages ({hub lower case}-...).
var hostContainers = [
  'azure-webjobs-hosts'
  'azure-webjobs-secrets'
  '${toLower(pipelineHub)}-leases'
  '${toLower(pipelineHub)}-applease'
  '${toLower(pipelineHub)}-largemessages'
  '${toLower(frontHub)}-leases'
  '${toLower(frontHub)}-applease'
  '${toLower(frontHub)}-largemessages'
]
// Every HTTP function of functions/ImageGen.Functions (a test compares this list with the build's functions.metadata):
// all are the Flex app's, and all but probeFunctions are disabled on the GPU training app, which has no business
// answering the internet (it has no ingress either).
var httpFunctions = [
  'Samples'
  'Reconstruct'
  'Health'
  'HealthReady' // GET /api/health/ready: 503 until the configured models are warm; the training app's readiness probe
  'ServeStatus'
  'SamplerPage'
  'TrainStart'
  'TrainingStatus'
  'TrainingSamples'
  'TrainingCancel'
  'DatasetUpload'
  'Datasets'
  'Models'
  'ModelPromote'
  'ModelRollback'
]
// Anonymous health endpoints the training app's Container Apps probes call (trainingProbes): left on there.
var probeFunctions = ['Health', 'HealthReady']
// Liveness restarts a replica whose host stops answering. Readiness holds a replica back until its Serve__WarmDatasets
// are warm; this app serves nothing and sets none, so here it only says that the host answers.
// Port 80: the Functions base image's host (ASPNETCORE_URLS in infra/docker/*.Dockerfile).
var trainingProbes = [
  {
    type: 'Liveness'
    httpGet: { path: '/api/health', port: 80 }
    initialDelaySeconds: 30
    periodSeconds: 30
    timeoutSeconds: 10
    failureThreshold: 5
  }
  {
    type: 'Readiness'
    httpGet: { path: '/api/health/ready', port: 80 }
    initialDelaySeconds: 10
    periodSeconds: 10
    timeoutSeconds: 5
    failureThreshold: 3
  }
]

// Built-in data roles used below.
var builtInRoles = {
  blobReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1' // Storage Blob Data Reader
  blobContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe' // Storage Blob Data Contributor
  blobOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner (the Functions host's own containers)
  queueContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
  tableContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
  acrPull: '7f951dda-4ed3-4680-a7ca-43fe64f8412d' // AcrPull (the training image, on the registry only)
}
// Both apps, on the whole account: the durable task hubs live in queues and tables whose names the durable extension
// makes at run time. No blob role is given at account scope.
var accountGrants = [
  { app: 'front', role: 'queueContributor' }
  { app: 'front', role: 'tableContributor' }
  { app: 'training', role: 'queueContributor' }
  { app: 'training', role: 'tableContributor' }
]

// Who may do what with blobs, one container at a time. Roles: the built-in ones above; 'writer' (read, create,
// overwrite; never delete); 'requester' (create or overwrite only the blobs whose path matches pathLike: the
// latest.json pointer that promote and rollback move, and a run's cancel marker; nothing else, never delete).
var blobGrants = [
  { app: 'front', container: 'training-images', role: 'blobReader' } // drops: the Event Grid trigger and dataset lookups
  // POST .../uploads. The code only creates (If-None-Match: *), but the role could overwrite a drop: the create-only data
  // action alone is not relied on for block uploads. No delete.
  { app: 'front', container: 'training-images', role: 'requester', pathLike: '*' }
  { app: 'front', container: 'checkpoints', role: 'blobReader' } // training status, progress and sample grids
  { app: 'front', container: 'checkpoints', role: 'requester', pathLike: '*/cancel' } // POST .../training/cancel
  { app: 'front', container: 'models', role: 'blobReader' } // serving and the model list
  { app: 'front', container: 'models', role: 'requester', pathLike: '*/latest.json' } // promote and rollback
  { app: 'front', container: 'app-package', role: 'blobContributor' } // the Flex deployment package
  { app: 'front', container: 'azure-webjobs-hosts', role: 'blobOwner' }
  { app: 'front', container: 'azure-webjobs-secrets', role: 'blobOwner' }
  { app: 'front', container: '${toLower(frontHub)}-leases', role: 'blobContributor' }
  { app: 'front', container: '${toLower(frontHub)}-applease', role: 'blobContributor' }
  { app: 'front', container: '${toLower(frontHub)}-largemessages', role: 'blobContributor' }
  { app: 'front', container: '${toLower(pipelineHub)}-largemessages', role: 'blobReader' } // large statuses of the training hub
  // Starting a run in the training hub: the durable client makes sure the hub exists before every start (it creates the
  // hub's lease and app-lease containers where missing, and a lease blob per control queue), which a reader may not do.
  { app: 'front', container: '${toLower(pipelineHub)}-leases', role: 'blobContributor' }
  { app: 'front', container: '${toLower(pipelineHub)}-applease', role: 'blobContributor' }
  { app: 'training', container: 'training-images', role: 'blobReader' } // ingest reads the drops
  { app: 'training', container: 'datasets', role: 'writer' } // packed shards, quality references
  { app: 'training', container: 'checkpoints', role: 'writer' } // run checkpoints, progress, evaluation
  { app: 'training', container: 'models', role: 'writer' } // published versions and latest.json
  { app: 'training', container: 'azure-webjobs-hosts', role: 'blobOwner' }
  { app: 'training', container: 'azure-webjobs-secrets', role: 'blobOwner' }
  { app: 'training', container: '${toLower(pipelineHub)}-leases', role: 'blobContributor' }
  { app: 'training', container: '${toLower(pipelineHub)}-applease', role: 'blobContributor' }
  { app: 'training', container: '${toLower(pipelineHub)}-largemessages', role: 'blobContributor' }
]
var blobWrite = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'
var blobCreate = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action'
var blobRead = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'

// The internet-facing Flex app: serving, the training endpoints, the Event Grid blob trigger.
resource frontIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-front-identity'
  location: location
}

// The GPU training app: orchestrations and activities, the only writer of datasets, checkpoints and model versions.
resource trainingIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-training-identity'
  location: location
}

resource writerRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'imagegen-blob-writer')
  properties: {
    roleName: '${name} blob writer, no delete (${suffix})'
    description: 'Read, create and overwrite blobs; no delete.'
    type: 'customRole'
    permissions: [{ actions: [], notActions: [], dataActions: [blobRead, blobWrite, blobCreate], notDataActions: [] }]
    assignableScopes: [resourceGroup().id]
  }
}

resource requesterRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(resourceGroup().id, 'imagegen-blob-requester')
  properties: {
    roleName: '${name} blob requester, create or overwrite only (${suffix})'
    description: 'Create or overwrite blobs, limited by the assignment\'s condition to certain paths; no read, no delete.'
    type: 'customRole'
    permissions: [{ actions: [], notActions: [], dataActions: [blobWrite, blobCreate], notDataActions: [] }]
    assignableScopes: [resourceGroup().id]
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: take('${name}${suffix}', 24)
  location: location
  sku: { name: 'Standard_LRS' }
  kind: 'StorageV2'
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    // Private: only the private endpoints below (and trusted Azure services such as Event Grid's system topic).
    publicNetworkAccess: usePrivateNetworking ? 'Disabled' : 'Enabled'
    networkAcls: { defaultAction: usePrivateNetworking ? 'Deny' : 'Allow', bypass: 'AzureServices' }
  }
}

// Versioning and soft delete, for models above all: a published version or latest.json that is overwritten or
// deleted, by mistake or by a compromised identity, can be brought back for 30 days. These are account-wide settings;
// the lifecycle rule below drops old versions in the busy containers after a day.
resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    isVersioningEnabled: true
    deleteRetentionPolicy: { enabled: true, days: 30 }
    containerDeleteRetentionPolicy: { enabled: true, days: 30 }
  }
}

resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    policy: {
      // Two rules: a rule matches at most 10 prefixes.
      rules: [
        {
          name: 'old-versions-outside-models'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: ['blockBlob']
              prefixMatch: ['training-images/', 'datasets/', 'checkpoints/', 'app-package/']
            }
            actions: { version: { delete: { daysAfterCreationGreaterThan: 1 } } }
          }
        }
        {
          name: 'old-versions-of-host-containers'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: ['blockBlob']
              prefixMatch: map(hostContainers, c => '${c}/')
            }
            actions: { version: { delete: { daysAfterCreationGreaterThan: 1 } } }
          }
        }
      ]
    }
  }
  dependsOn: [blobService]
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for container in concat(containers, hostContainers): {
  parent: blobService
  name: container
}]

resource accountAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for grant in accountGrants: {
  scope: storage
  name: guid(storage.id, grant.app, grant.role)
  properties: {
    principalId: grant.app == 'front' ? frontIdentity.properties.principalId : trainingIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles[grant.role])
  }
}]

resource grantedContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = [for grant in blobGrants: {
  parent: blobService
  name: grant.container
}]

resource blobAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (grant, i) in blobGrants: {
  scope: grantedContainers[i]
  name: guid(storage.id, grant.app, grant.container, grant.role, grant.?pathLike ?? '')
  properties: {
    principalId: grant.app == 'front' ? frontIdentity.properties.principalId : trainingIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: grant.role == 'writer'
      ? writerRole.id
      : grant.role == 'requester' ? requesterRole.id : subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles[grant.role])
    // A requester writes only where pathLike says (blob path within the container).
    conditionVersion: grant.role == 'requester' ? '2.0' : null
    condition: grant.role == 'requester'
      ? '((!(ActionMatches{\'${blobWrite}\'}) AND !(ActionMatches{\'${blobCreate}\'})) OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringLike \'${grant.pathLike}\'))'
      : null
  }
  dependsOn: [blobContainers]
}]

// Private networking (usePrivateNetworking): a virtual network with a subnet for the Container Apps environment, one
// for the Flex app's integration (both delegated to Microsoft.App/environments, as Flex Consumption requires) and one
// for private endpoints; the storage account's blob, queue and table services each get a private endpoint and a
// private DNS zone linked to the network, so both apps resolve the account's usual names to private addresses.
var storageServices = ['blob', 'queue', 'table']

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = if (usePrivateNetworking) {
  name: '${name}-vnet'
  location: location
  properties: {
    addressSpace: { addressPrefixes: ['10.40.0.0/16'] }
    subnets: [
      {
        name: 'apps'
        properties: {
          addressPrefix: '10.40.0.0/23'
          delegations: [{ name: 'containerapps', properties: { serviceName: 'Microsoft.App/environments' } }]
        }
      }
      {
        name: 'front'
        properties: {
          addressPrefix: '10.40.2.0/24'
          delegations: [{ name: 'flex', properties: { serviceName: 'Microsoft.App/environments' } }]
        }
      }
      {
        name: 'endpoints'
        properties: { addressPrefix: '10.40.3.0/24', privateEndpointNetworkPolicies: 'Disabled' }
      }
    ]
  }
}

resource appsSubnet 'Microsoft.Network/virtualNetworks/subnets@2024-05-01' existing = {
  parent: vnet
  name: 'apps'
}

resource frontSubnet 'Microsoft.Network/virtualNetworks/subnets@2024-05-01' existing = {
  parent: vnet
  name: 'front'
}

resource endpointsSubnet 'Microsoft.Network/virtualNetworks/subnets@2024-05-01' existing = {
  parent: vnet
  name: 'endpoints'
}

resource storageDns 'Microsoft.Network/privateDnsZones@2024-06-01' = [for service in storageServices: if (usePrivateNetworking) {
  name: 'privatelink.${service}.${environment().suffixes.storage}'
  location: 'global'
}]

resource storageDnsLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [for (service, i) in storageServices: if (usePrivateNetworking) {
  parent: storageDns[i]
  name: '${name}-vnet'
  location: 'global'
  properties: { registrationEnabled: false, virtualNetwork: { id: vnet.id } }
}]

resource storageEndpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [for service in storageServices: if (usePrivateNetworking) {
  name: '${name}-storage-${service}'
  location: location
  properties: {
    subnet: { id: endpointsSubnet.id }
    privateLinkServiceConnections: [{ name: service, properties: { privateLinkServiceId: storage.id, groupIds: [service] } }]
  }
}]

resource storageEndpointDns 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [for (service, i) in storageServices: if (usePrivateNetworking) {
  parent: storageEndpoints[i]
  name: 'default'
  properties: { privateDnsZoneConfigs: [{ name: service, properties: { privateDnsZoneId: storageDns[i].id } }] }
}]

resource logs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${name}-logs'
  location: location
  properties: { sku: { name: 'PerGB2018' }, retentionInDays: 30 }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${name}-insights'
  location: location
  kind: 'web'
  properties: { Application_Type: 'web', WorkspaceResourceId: logs.id }
}

// Settings both apps share: identity-based storage (each app adds its identity's client id), the pipeline's task hub.
var commonSettings = [
  { name: 'AzureWebJobsStorage__accountName', value: storage.name }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: insights.properties.ConnectionString }
  { name: 'PipelineTaskHub', value: pipelineHub }
]

// Flex Consumption: serving, training endpoints and the Event Grid blob trigger. It runs no orchestration or
// activity (no GPU): its own durable hub stays empty and its clients signal the training app's hub.
resource flexPlan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: '${name}-flex'
  location: location
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource frontApp 'Microsoft.Web/sites@2024-04-01' = {
  name: '${name}-${suffix}'
  location: location
  kind: 'functionapp,linux'
  tags: { 'azd-service-name': 'front' } // azd deploys the service of that name (azure.yaml) here
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${frontIdentity.id}': {} } }
  properties: {
    serverFarmId: flexPlan.id
    httpsOnly: true
    virtualNetworkSubnetId: usePrivateNetworking ? frontSubnet.id : null
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}app-package'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: frontIdentity.id }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: 40, instanceMemoryMB: 4096 }
      runtime: { name: 'dotnet-isolated', version: '10.0' }
    }
    siteConfig: {
      appSettings: concat(commonSettings, [
        { name: 'AzureWebJobsStorage__clientId', value: frontIdentity.properties.clientId }
        { name: 'AzureFunctionsJobHost__extensions__durableTask__hubName', value: frontHub }
        { name: 'AzureWebJobs.TrainingImageDropped.Disabled', value: 'true' } // Flex supports only the Event Grid source
      ])
    }
  }
  dependsOn: [accountAccess, blobAccess, storageEndpointDns, storageDnsLinks]
}

resource dropsTopic 'Microsoft.EventGrid/systemTopics@2024-06-01-preview' = if (wireEventGrid) {
  name: '${name}-drops'
  location: location
  properties: { source: storage.id, topicType: 'Microsoft.Storage.StorageAccounts' }
}

resource dropsSubscription 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2024-06-01-preview' = if (wireEventGrid) {
  parent: dropsTopic
  name: 'training-images'
  properties: {
    destination: {
      endpointType: 'WebHook'
      properties: {
        endpointUrl: 'https://${frontApp.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.TrainingImageDroppedEventGrid&code=${listKeys('${frontApp.id}/host/default', '2024-04-01').systemKeys.blobs_extension}'
      }
    }
    filter: {
      includedEventTypes: ['Microsoft.Storage.BlobCreated']
      subjectBeginsWith: '/blobServices/default/containers/training-images/'
    }
  }
}

// The training image's registry. Basic (10 GiB included; no private endpoints, which need Premium, so it stays
// reachable from the internet for azd's push); no admin user: the training identity pulls with AcrPull, and azd
// pushes with the deploying user's Entra sign-in.
resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: take('${toLower(replace(name, '-', ''))}${suffix}', 50)
  location: location
  sku: { name: 'Basic' }
  properties: { adminUserEnabled: false }
}

resource trainingPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: registry
  name: guid(registry.id, trainingIdentity.id, builtInRoles.acrPull)
  properties: {
    principalId: trainingIdentity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', builtInRoles.acrPull)
  }
}

// GPU Container Apps: the Functions app again, running the pipeline's orchestrations and training activities.
resource appsEnvironment 'Microsoft.App/managedEnvironments@2024-10-02-preview' = {
  name: '${name}-env'
  location: location
  properties: {
    vnetConfiguration: usePrivateNetworking ? { infrastructureSubnetId: appsSubnet.id } : null
    appLogsConfiguration: {
      destination: 'log-analytics'
      logAnalyticsConfiguration: { customerId: logs.properties.customerId, sharedKey: logs.listKeys().primarySharedKey }
    }
    workloadProfiles: [
      { name: 'Consumption', workloadProfileType: 'Consumption' }
      { name: 'gpu', workloadProfileType: gpuProfile }
    ]
  }
}

resource trainingApp 'Microsoft.App/containerApps@2024-10-02-preview' = {
  name: '${name}-train'
  location: location
  kind: 'functionapp'
  tags: { 'azd-service-name': 'training' } // azd deploys the service of that name (azure.yaml) here
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${trainingIdentity.id}': {} } }
  properties: {
    managedEnvironmentId: appsEnvironment.id
    workloadProfileName: 'gpu'
    configuration: {
      activeRevisionsMode: 'Single'
      // Pulled with the training identity (AcrPull above); no password anywhere.
      registries: [{ server: registry.properties.loginServer, identity: trainingIdentity.id }]
    }
    template: {
      containers: [
        {
          name: 'functions'
          image: empty(trainingImage) ? placeholderImage : trainingImage
          // The placeholder has no app, so no health endpoints to probe.
          probes: empty(trainingImage) ? [] : trainingProbes
          resources: gpuProfile == 'Consumption-GPU-NC8as-T4' ? { cpu: 8, memory: '56Gi' } : { cpu: 24, memory: '220Gi' }
          env: concat(commonSettings, [
            { name: 'AzureWebJobsStorage__clientId', value: trainingIdentity.properties.clientId }
            { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'dotnet-isolated' }
            // Drops and HTTP are the Flex app's; this app trains (and answers its probes).
            { name: 'AzureWebJobs.TrainingImageDropped.Disabled', value: 'true' }
            { name: 'AzureWebJobs.TrainingImageDroppedEventGrid.Disabled', value: 'true' }
            { name: 'Pipeline__ChunkTime', value: '00:05:00' }
          ], map(filter(httpFunctions, f => !contains(probeFunctions, f)), f => { name: 'AzureWebJobs.${f}.Disabled', value: 'true' }))
        }
      ]
      scale: { minReplicas: 0, maxReplicas: 2 }
    }
  }
  dependsOn: [accountAccess, blobAccess, trainingPull, storageEndpointDns, storageDnsLinks]
}

// What azd reads after provisioning (its environment variables; the postdeploy hook uses them too).
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = registry.properties.loginServer
output AZURE_CONTAINER_REGISTRY_NAME string = registry.name
output AZURE_CONTAINER_APPS_ENVIRONMENT_ID string = appsEnvironment.id
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output FRONT_APP_NAME string = frontApp.name
output FRONT_APP_URL string = 'https://${frontApp.properties.defaultHostName}'
output TRAINING_APP_NAME string = trainingApp.name
output STORAGE_ACCOUNT_NAME string = storage.name
