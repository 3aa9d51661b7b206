// ImageGen in Azure: one storage account (identity only, no shared keys), a Flex Consumption Functions app for
// HTTP and the blob trigger, and a Functions app on a GPU Container Apps workload profile that runs the durable
// pipeline (orchestrations and training activities). Both run the same build of functions/ImageGen.Functions;
// app settings decide which functions are live where (AzureWebJobs.{name}.Disabled). Each app has its own identity
// with the least it needs (blobGrants): the internet-facing app reads models and checkpoints and can only move
// latest.json and drop cancel markers; the training app alone writes datasets, checkpoints and versions; neither deletes.
//
// Deploy in two passes: the first creates everything; after the Flex app's code is deployed (its blob extension
// key exists only then), run again with wireEventGrid=true to subscribe the blob trigger to BlobCreated events.

@description('Prefix of every resource name.')
param name string = 'imagegen'
param location string = resourceGroup().location
@description('Container image of functions/ImageGen.Functions built with -p:TorchBackend=cuda (see infra/README.md).')
param trainingImage string
@description('Registry server of trainingImage, pulled with the training app identity (grant it AcrPull there).')
param registryServer string
@allowed(['Consumption-GPU-NC8as-T4', 'Consumption-GPU-NC24-A100'])
param gpuProfile string = 'Consumption-GPU-NC8as-T4'
@description('Second pass: subscribe the Event Grid blob trigger once the Flex app is deployed.')
param wireEventGrid bool = false

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
var pipelineFunctions = ['DatasetPipeline', 'NewestDrop', 'Ingest', 'TrainChunk', 'Evaluate', 'Publish']
// Every HTTP function of functions/ImageGen.Functions (a test compares this list with the build's functions.metadata):
// all are the Flex app's, and all are disabled on the GPU training app, which has no business answering the internet.
var httpFunctions = [
  'Samples'
  'Reconstruct'
  'Health'
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

// Built-in data roles used below.
var builtInRoles = {
  blobReader: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1' // Storage Blob Data Reader
  blobContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe' // Storage Blob Data Contributor
  blobOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner (the Functions host's own containers)
  queueContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
  tableContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
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
  { app: 'front', container: 'training-images', role: 'requester', pathLike: '*' } // POST .../uploads: create only (the code never overwrites), no delete
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
      rules: [
        {
          name: 'old-versions-outside-models'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: ['blockBlob']
              prefixMatch: concat(['training-images/', 'datasets/', 'checkpoints/', 'app-package/'], map(hostContainers, c => '${c}/'))
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
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${frontIdentity.id}': {} } }
  properties: {
    serverFarmId: flexPlan.id
    httpsOnly: true
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
      ], map(pipelineFunctions, f => { name: 'AzureWebJobs.${f}.Disabled', value: 'true' }))
    }
  }
  dependsOn: [accountAccess, blobAccess]
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

// GPU Container Apps: the Functions app again, running the pipeline's orchestrations and training activities.
resource environment 'Microsoft.App/managedEnvironments@2024-10-02-preview' = {
  name: '${name}-env'
  location: location
  properties: {
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
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${trainingIdentity.id}': {} } }
  properties: {
    managedEnvironmentId: environment.id
    workloadProfileName: 'gpu'
    configuration: {
      activeRevisionsMode: 'Single'
      registries: [{ server: registryServer, identity: trainingIdentity.id }]
    }
    template: {
      containers: [
        {
          name: 'functions'
          image: trainingImage
          resources: gpuProfile == 'Consumption-GPU-NC8as-T4' ? { cpu: 8, memory: '56Gi' } : { cpu: 24, memory: '220Gi' }
          env: concat(commonSettings, [
            { name: 'AzureWebJobsStorage__clientId', value: trainingIdentity.properties.clientId }
            { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'dotnet-isolated' }
            // Drops and HTTP are the Flex app's; this app trains.
            { name: 'AzureWebJobs.TrainingImageDropped.Disabled', value: 'true' }
            { name: 'AzureWebJobs.TrainingImageDroppedEventGrid.Disabled', value: 'true' }
            { name: 'Pipeline__ChunkTime', value: '00:05:00' }
          ], map(httpFunctions, f => { name: 'AzureWebJobs.${f}.Disabled', value: 'true' }))
        }
      ]
      scale: { minReplicas: 0, maxReplicas: 2 }
    }
  }
  dependsOn: [accountAccess, blobAccess]
}

output frontAppUrl string = 'https://${frontApp.properties.defaultHostName}'
output storageAccount string = storage.name
output trainingApp string = trainingApp.name
