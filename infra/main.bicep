// The connector in the customer's own subscription (O5): a Flex Consumption Function App (Python),
// storage for queues, tokens and rate-limit budgets, Application Insights on Log Analytics, Key Vault for
// the secrets, one user-assigned identity with least-privilege roles, and alerts. Plain resources only.
targetScope = 'resourceGroup'

@description('Name prefix for every resource (lower case letters and digits).')
@minLength(3)
@maxLength(16)
param name string

param location string = resourceGroup().location

@description('Dynamics 365 environment URL, e.g. https://contoso.crm11.dynamics.com')
param dataverseUrl string

@description('Client id of the Xero app.')
param xeroClientId string

@description('Default IANA time zone of the connector; each connection has its own.')
param timeZone string = 'UTC'

@description('NCRONTAB of the sweep.')
param sweepSchedule string = '0 */5 * * * *'

@description('Where alerts go (an existing action group), or empty for none.')
param alertActionGroupId string = ''

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

var suffix = uniqueString(resourceGroup().id, name)
var storageName = take('${name}${suffix}', 24)
var queues = ['invoice-sync', 'invoice-cancel', 'xero-events', 'sync-poll']
var containers = ['deployment', 'xero-tokens', 'xero-rate-limits', 'reconcile-watermarks']
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-id'
  location: location
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${name}-logs'
  location: location
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${name}-insights'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageName
  location: location
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in containers: {
    parent: blobService
    name: container
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource storageQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queue in concat(queues, map(queues, q => '${q}-poison')): {
    parent: queueService
    name: queue
  }
]

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: take('${name}-kv-${suffix}', 24)
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    enablePurgeProtection: true
  }
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: '${name}-plan'
  location: location
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

// Secrets live in Key Vault (set them after deployment); the app reads them through references.
var secret = 'https://${vault.name}${environment().suffixes.keyvaultDns}/secrets'

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: '${name}-func-${suffix}'
  location: location
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identity.id}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identity.id
    siteConfig: { minTlsVersion: '1.2', ftpsState: 'Disabled' }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}deployment'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identity.id }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: maximumInstanceCount, instanceMemoryMB: instanceMemoryMB }
      runtime: { name: 'python', version: '3.11' }
    }
  }
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: {
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identity.properties.clientId
    AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
    AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
    AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
    AZURE_CLIENT_ID: identity.properties.clientId
    APPLICATIONINSIGHTS_CONNECTION_STRING: insights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
    INVOICE_SYNC_QUEUE: queues[0]
    INVOICE_CANCEL_QUEUE: queues[1]
    XERO_EVENTS_QUEUE: queues[2]
    SYNC_POLL_QUEUE: queues[3]
    TOKEN_CONTAINER: containers[1]
    SWEEP_SCHEDULE: sweepSchedule
    CONNECTOR_TIME_ZONE: timeZone
    DATAVERSE_URL: dataverseUrl
    XERO_CLIENT_ID: xeroClientId
    XERO_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${secret}/xero-client-secret)'
    XERO_WEBHOOK_KEY: '@Microsoft.KeyVault(SecretUri=${secret}/xero-webhook-key)'
    DATAVERSE_WEBHOOK_SECRET: '@Microsoft.KeyVault(SecretUri=${secret}/dataverse-webhook-secret)'
  }
}

resource roleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in items(roles): {
    name: guid(resourceGroup().id, identity.id, role.value)
    properties: {
      principalId: identity.properties.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role.value)
    }
  }
]

// O5 alerts: sync failures, poisoned messages, and deletes that need a person.
var alertQueries = {
  'sync-failures': 'traces | where message startswith "sync.failed" or message startswith "sync.gave_up"'
  'poison-messages': 'traces | where message startswith "queue.poisoned" or message has "-poison"'
  'delete-needs-attention': 'traces | where message has "invoice_delete_needs_attention"'
}

resource alerts 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [
  for alert in items(alertQueries): {
    name: '${name}-${alert.key}'
    location: location
    properties: {
      displayName: '${name}: ${alert.key}'
      severity: 2
      enabled: true
      scopes: [insights.id]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT15M'
      criteria: {
        allOf: [
          {
            query: alert.value
            timeAggregation: 'Count'
            operator: 'GreaterThan'
            threshold: 0
          }
        ]
      }
      actions: { actionGroups: empty(alertActionGroupId) ? [] : [alertActionGroupId] }
    }
  }
]

output functionAppName string = app.name
output functionAppUrl string = 'https://${app.properties.defaultHostName}'
output keyVaultName string = vault.name
output storageAccountName string = storage.name
