// ImageGen in Azure: one storage account (identity only, no shared keys), a Flex Consumption Functions app for
// HTTP and the blob trigger, and a Functions app on a GPU Container Apps workload profile that runs the durable
// pipeline (orchestrations and training activities). Both run the same build of functions/ImageGen.Functions;
// app settings decide which functions are live where (AzureWebJobs.{name}.Disabled).
//
// Deploy in two passes: the first creates everything; after the Flex app's code is deployed (its blob extension
// key exists only then), run again with wireEventGrid=true to subscribe the blob trigger to BlobCreated events.

@description('Prefix of every resource name.')
param name string = 'imagegen'
param location string = resourceGroup().location
@description('Container image of functions/ImageGen.Functions built with -p:TorchBackend=cuda (see infra/README.md).')
param trainingImage string
@description('Registry server of trainingImage, pulled with the app identity (AcrPull).')
param registryServer string
@allowed(['Consumption-GPU-NC8as-T4', 'Consumption-GPU-NC24-A100'])
param gpuProfile string = 'Consumption-GPU-NC8as-T4'
@description('Second pass: subscribe the Event Grid blob trigger once the Flex app is deployed.')
param wireEventGrid bool = false

var suffix = uniqueString(resourceGroup().id)
var pipelineHub = 'ImageGen'
var containers = ['training-images', 'datasets', 'checkpoints', 'models', 'app-package']
// Built-in roles the app identity needs on the storage account (blobs, durable queues, durable tables).
var storageRoles = [
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
]
var pipelineFunctions = ['DatasetPipeline', 'NewestDrop', 'Ingest', 'TrainChunk', 'Evaluate', 'Publish']

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-identity'
  location: location
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

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [for container in containers: {
  parent: blobService
  name: container
}]

resource storageAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in storageRoles: {
  scope: storage
  name: guid(storage.id, identity.id, role)
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
  }
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

// Settings both apps share: identity-based storage, the worker runtime, the pipeline's task hub.
var commonSettings = [
  { name: 'AzureWebJobsStorage__accountName', value: storage.name }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identity.properties.clientId }
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
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identity.id}': {} } }
  properties: {
    serverFarmId: flexPlan.id
    httpsOnly: true
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}app-package'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identity.id }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: 40, instanceMemoryMB: 4096 }
      runtime: { name: 'dotnet-isolated', version: '10.0' }
    }
    siteConfig: {
      appSettings: concat(commonSettings, [
        { name: 'AzureFunctionsJobHost__extensions__durableTask__hubName', value: '${pipelineHub}Front' }
        { name: 'AzureWebJobs.TrainingImageDropped.Disabled', value: 'true' } // Flex supports only the Event Grid source
      ], map(pipelineFunctions, f => { name: 'AzureWebJobs.${f}.Disabled', value: 'true' }))
    }
  }
  dependsOn: [storageAccess]
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
  identity: { type: 'UserAssigned', userAssignedIdentities: { '${identity.id}': {} } }
  properties: {
    managedEnvironmentId: environment.id
    workloadProfileName: 'gpu'
    configuration: {
      activeRevisionsMode: 'Single'
      registries: [{ server: registryServer, identity: identity.id }]
    }
    template: {
      containers: [
        {
          name: 'functions'
          image: trainingImage
          resources: gpuProfile == 'Consumption-GPU-NC8as-T4' ? { cpu: 8, memory: '56Gi' } : { cpu: 24, memory: '220Gi' }
          env: concat(commonSettings, [
            { name: 'FUNCTIONS_WORKER_RUNTIME', value: 'dotnet-isolated' }
            // Drops and HTTP are the Flex app's; this app trains.
            { name: 'AzureWebJobs.TrainingImageDropped.Disabled', value: 'true' }
            { name: 'AzureWebJobs.TrainingImageDroppedEventGrid.Disabled', value: 'true' }
            { name: 'Pipeline__ChunkTime', value: '00:05:00' }
          ])
        }
      ]
      scale: { minReplicas: 0, maxReplicas: 2 }
    }
  }
  dependsOn: [storageAccess]
}

output frontAppUrl string = 'https://${frontApp.properties.defaultHostName}'
output storageAccount string = storage.name
output trainingApp string = trainingApp.name
