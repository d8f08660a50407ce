// The connector in the customer's own subscription (O5): a Flex Consumption Function App (Python),
// storage for queues, tokens and rate-limit budgets, Application Insights on Log Analytics, Key Vault for
// the secrets, one user-assigned identity with roles on the resources they are for, a workbook, and alerts
// on the connector's metrics.
// Plain resources only, and only syntax that checkov's Bicep parser reads (no lambdas): the policy scan in
// tests/infra must see every resource.
targetScope = 'resourceGroup'

@description('The azd environment name: prefix of the readable resource names and the azd-env-name tag.')
@minLength(3)
@maxLength(16)
param name string

@description('Region of every resource.')
param location string = resourceGroup().location

@description('Dynamics 365 environment URL, e.g. https://contoso.crm11.dynamics.com')
param dataverseUrl string

@description('Client id of the Xero app.')
param xeroClientId string

@description('Client id of the Entra app registration the admin console signs in with; empty: no sign-in settings.')
param entraClientId string = ''

@description('Tenant of that app registration; empty: the tenant of the subscription.')
param entraTenantId string = ''

@description('Default IANA time zone of the connector; each connection has its own.')
param timeZone string = 'UTC'

@description('NCRONTAB of the sweep.')
param sweepSchedule string = '0 */5 * * * *'

@description('NCRONTAB of the reference-data sync (tax rates, accounts, branding themes, tracking).')
param referenceDataSchedule string = '0 0 3 * * *'

@description('Where alerts go (an existing action group), or empty for none.')
param alertActionGroupId string = ''

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Redundancy of the storage account. It holds the only copy of every Xero refresh token, so never LRS: ZRS where the region has availability zones, GRS or GZRS for a copy in the paired region.')
@allowed([
  'Standard_ZRS'
  'Standard_GZRS'
  'Standard_RAGZRS'
  'Standard_GRS'
  'Standard_RAGRS'
])
param storageRedundancy string = 'Standard_ZRS'

@description('Days a deleted blob or container, or an overwritten token version, can be restored.')
@minValue(7)
@maxValue(365)
param tokenRecoveryDays int = 30

@description('Zone-redundant Flex Consumption plan: regions with availability zones only, and the platform then keeps at least two always-ready instances per function group.')
param zoneRedundant bool = false

@description('Private endpoints for storage and a VNet-integrated app. Off (the default, as in the reference templates): storage and Key Vault keep public endpoints, guarded by Entra RBAC only; see the README.')
param vnetEnabled bool = false

@description('Object id of the deploying developer (azd sets AZURE_PRINCIPAL_ID): data-plane roles for the azd hooks and the operator CLI. Empty: none.')
param principalId string = ''

@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

var suffix = uniqueString(resourceGroup().id, name)
// Storage and vault names are global and have strict alphabets; build them from the hash alone so any azd
// environment name gives a valid one ('st' + 13 lower-case alphanumerics, 'kv-' + 13).
var storageName = 'st${suffix}'
var vaultName = 'kv-${suffix}'
var tags = {
  'azd-env-name': name
}
var queues = [
  'invoice-sync'
  'invoice-cancel'
  'xero-events'
  'sync-poll'
]
var tokenContainer = 'xero-tokens'
var containers = [
  'deployment'
  tokenContainer
  'xero-rate-limits'
  'reconcile-watermarks'
]
// Versioning is a property of the whole blob service; the budgets, watermarks and host locks are rewritten
// all the time, so their old versions go after a day and only the tokens' are kept for tokenRecoveryDays.
var shortLivedVersionPrefixes = [
  'deployment/'
  'xero-rate-limits/'
  'reconcile-watermarks/'
  'azure-webjobs-hosts/'
  'azure-webjobs-secrets/'
]
// Storage Table Data Contributor is not granted: the connector uses only blobs and queues, and without it
// the Functions host just logs once that its diagnostic events (a portal-only feature) are off.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}
// The host needs Blob Data Owner (it creates its lock and secret containers); the app's own queues and the
// host's poison queues need Queue Data Contributor.
var appStorageRoles = [
  roles.storageBlobDataOwner
  roles.storageQueueDataContributor
]
// The developer runs `connect`, `status`, `sync-now` and `poison` against the deployed storage.
var developerStorageRoles = [
  roles.storageBlobDataContributor
  roles.storageQueueDataContributor
]
var privateEndpointServices = [
  'blob'
  'queue'
]

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-id'
  location: location
  tags: tags
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: '${name}-logs'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${name}-insights'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
  }
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: with vnetEnabled=false the Flex app reaches storage from the region's shared addresses, which storage IP rules ignore (same-region traffic) and which are not a trusted service, so Deny would cut off the app; shared keys and anonymous access are off, so Entra RBAC is the gate. vnetEnabled=true sets Deny and private endpoints.
  // checkov:skip=CKV_AZURE_43: checkov reads the variable's name, not its value; storageName is 'st' plus uniqueString(), 15 lower-case alphanumerics by construction (asserted in tests/infra).
  // checkov:skip=CKV_AZURE_206: ZRS is the default on purpose (three zones, data stays in the region); storageRedundancy accepts GRS/GZRS/RA-* for a paired-region copy and never LRS.
  name: storageName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: storageRedundancy
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: vnetEnabled ? 'Disabled' : 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: vnetEnabled ? 'Deny' : 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    // A bad token write can be undone from the previous version; a deleted blob or container restored.
    isVersioningEnabled: true
    deleteRetentionPolicy: {
      enabled: true
      days: tokenRecoveryDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: tokenRecoveryDays
    }
  }
}

resource blobContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in containers: {
    parent: blobService
    name: container
    properties: {
      publicAccess: 'None'
    }
  }
]

resource versionCleanup 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'tokenVersions'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: [
                '${tokenContainer}/'
              ]
            }
            actions: {
              version: {
                delete: {
                  daysAfterCreationGreaterThan: tokenRecoveryDays
                }
              }
            }
          }
        }
        {
          name: 'shortLivedVersions'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
              prefixMatch: shortLivedVersionPrefixes
            }
            actions: {
              version: {
                delete: {
                  daysAfterCreationGreaterThan: 1
                }
              }
            }
          }
        }
      ]
    }
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource storageQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queue in queues: {
    parent: queueService
    name: queue
  }
]

// The host creates `<queue>-poison` on first use; declaring them lets alerts and the CLI see them from day one.
resource poisonQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queue in queues: {
    parent: queueService
    name: '${queue}-poison'
  }
]

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: Key Vault references do not resolve on Flex Consumption when the vault is network-restricted, even with VNet integration, so the vault accepts all networks; access is Entra RBAC only (no access policies), with soft delete, purge protection and audit logs.
  // checkov:skip=CKV_AZURE_189: same reason as CKV_AZURE_109 (Flex Consumption cannot read Key Vault references from a vault without public access); the postprovision hook also writes the secrets from the operator's machine.
  name: vaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource vaultAudit 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit'
  scope: vault
  properties: {
    workspaceId: workspace.id
    logs: [
      {
        categoryGroup: 'audit'
        enabled: true
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = if (vnetEnabled) {
  name: '${name}-vnet'
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        '10.0.0.0/16'
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: '10.0.1.0/24'
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: '10.0.2.0/24'
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource privateDnsZones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for service in (vnetEnabled ? privateEndpointServices : []): {
    name: 'privatelink.${service}.${environment().suffixes.storage}'
    location: 'global'
    tags: tags
  }
]

resource privateDnsLinks 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (service, i) in (vnetEnabled ? privateEndpointServices : []): {
    parent: privateDnsZones[i]
    name: '${name}-vnet'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: vnet.id
      }
    }
  }
]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [
  for service in (vnetEnabled ? privateEndpointServices : []): {
    name: '${name}-pe-${service}'
    location: location
    tags: tags
    properties: {
      subnet: {
        id: '${vnet.id}/subnets/private-endpoints'
      }
      privateLinkServiceConnections: [
        {
          name: service
          properties: {
            privateLinkServiceId: storage.id
            groupIds: [
              service
            ]
          }
        }
      ]
    }
  }
]

resource privateDnsGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [
  for (service, i) in (vnetEnabled ? privateEndpointServices : []): {
    parent: privateEndpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: service
          properties: {
            privateDnsZoneId: privateDnsZones[i].id
          }
        }
      ]
    }
  }
]

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: zone redundancy is the zoneRedundant parameter, off by default: not every Flex Consumption region has zones, and on it the platform bills at least two always-ready instances per function group (six groups here).
  name: '${name}-plan'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
    zoneRedundant: zoneRedundant
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_17: the callers are Dataverse and Xero webhooks, which cannot present client certificates; each endpoint checks its own secret (header secret, HMAC signature) and the console signs users in with Entra ID.
  // checkov:skip=CKV_AZURE_222: Xero and Dataverse (SaaS on the public internet) must reach the webhook endpoints; vnetEnabled changes outbound traffic only.
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales each function from zero and has no instance minimum for failover; the work is queue-driven and idempotent, so a lost instance's messages are retried by another.
  name: '${name}-func-${suffix}'
  location: location
  tags: union(tags, {
    'azd-service-name': 'api'
  })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    clientCertEnabled: false
    keyVaultReferenceIdentity: identity.id
    virtualNetworkSubnetId: vnetEnabled ? '${vnet.id}/subnets/app' : null
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      healthCheckPath: '/api/health'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}deployment'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: '3.11'
      }
    }
  }
}

// Role assignments, each scoped to the resource it is for.
resource appStorageRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in appStorageRoles: {
    name: guid(storage.id, identity.id, role)
    scope: storage
    properties: {
      principalId: identity.properties.principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    }
  }
]

resource appVaultRoleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
  }
}

resource appInsightsRoleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(insights.id, identity.id, roles.monitoringMetricsPublisher)
  scope: insights
  properties: {
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
  }
}

resource developerStorageRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in (empty(principalId) ? [] : developerStorageRoles): {
    name: guid(storage.id, principalId, role)
    scope: storage
    properties: {
      principalId: principalId
      principalType: principalType
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    }
  }
]

// The postprovision hook writes the secrets and the postdeploy hook reads two of them.
resource developerVaultRoleAssignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(principalId)) {
  name: guid(vault.id, principalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    principalId: principalId
    principalType: principalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
  }
}

var appUrl = 'https://${app.properties.defaultHostName}'
// The console's routes (connector/entrypoints/admin; not /api/admin, which the Functions host reserves):
// the two callbacks registered at Entra ID and at Xero hang off CONSOLE_BASE_URL.
var consoleUrl = '${appUrl}/api/console'
var entraRedirectUri = '${consoleUrl}/signin/callback'
var xeroRedirectUri = '${consoleUrl}/xero/callback'
// Secrets never appear here: the postprovision hook puts them in the vault and the app reads them through
// Key Vault references, resolved with the app's identity.
var secretUri = '${vault.properties.vaultUri}secrets'

var connectorSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  AZURE_CLIENT_ID: identity.properties.clientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: insights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
  INVOICE_SYNC_QUEUE: queues[0]
  INVOICE_CANCEL_QUEUE: queues[1]
  XERO_EVENTS_QUEUE: queues[2]
  SYNC_POLL_QUEUE: queues[3]
  TOKEN_CONTAINER: tokenContainer
  SWEEP_SCHEDULE: sweepSchedule
  REFERENCE_DATA_SCHEDULE: referenceDataSchedule
  CONNECTOR_TIME_ZONE: timeZone
  DATAVERSE_URL: dataverseUrl
  XERO_CLIENT_ID: xeroClientId
  CONSOLE_BASE_URL: consoleUrl
  XERO_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${secretUri}/xero-client-secret)'
  XERO_WEBHOOK_KEY: '@Microsoft.KeyVault(SecretUri=${secretUri}/xero-webhook-key)'
  DATAVERSE_WEBHOOK_SECRET: '@Microsoft.KeyVault(SecretUri=${secretUri}/dataverse-webhook-secret)'
  CONSOLE_SESSION_KEY: '@Microsoft.KeyVault(SecretUri=${secretUri}/console-session-key)'
}

var consoleSignInSettings = {
  ENTRA_TENANT_ID: empty(entraTenantId) ? tenant().tenantId : entraTenantId
  ENTRA_CLIENT_ID: entraClientId
  ENTRA_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${secretUri}/entra-client-secret)'
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  // This resource is the app-settings list; the checks below read properties of the site's 'web', 'logs' or
  // 'authsettings' configuration, which this resource does not carry.
  // checkov:skip=CKV_AZURE_13: platform authentication would reject the Xero and Dataverse webhooks, which carry no Entra token; each endpoint checks its own secret and the console signs users in with Entra ID itself (MSAL).
  // checkov:skip=CKV_AZURE_63: HTTP logging is a 'logs' setting of App Service web apps; the requests and traces of this function app go to Application Insights.
  // checkov:skip=CKV_AZURE_65: detailed error pages are a 'logs' setting of App Service web apps; this app returns JSON errors and logs exceptions to Application Insights.
  // checkov:skip=CKV_AZURE_66: failed request tracing is a 'logs' setting of App Service web apps; failed requests show in Application Insights.
  // checkov:skip=CKV_AZURE_80: .NET Framework version does not apply to a Python 3.11 function app.
  // checkov:skip=CKV_AZURE_88: Flex Consumption has no Azure Files content share; the app runs from its blob deployment container.
  // checkov:skip=CKV_AZURE_222: public network access is a property of the site (see the app resource: the webhooks must be reachable), not of its app settings.
  parent: app
  name: 'appsettings'
  properties: empty(entraClientId) ? connectorSettings : union(connectorSettings, consoleSignInSettings)
  dependsOn: [
    appVaultRoleAssignment
    appStorageRoleAssignments
  ]
}

// O5 workbook: the connector's custom metrics (customMetrics), per connection; its content is workbook.json.
resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(insights.id, 'connector-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: '${name}: connector operations'
    category: 'workbook'
    sourceId: insights.id
    version: '1.0'
    serializedData: loadTextContent('workbook.json')
  }
}

// O5 alerts on the connector's metrics, not on log lines: host.json samples traces, metrics are never sampled.
var metricAlerts = [
  {
    key: 'sync-failures'
    description: 'Invoices failed to sync in the last 15 minutes.'
    metric: 'connector.invoices.failed'
    aggregation: 'Total'
    threshold: 0
    severity: 2
  }
  {
    key: 'poison-messages'
    description: 'Messages were moved to a poison queue; see `poison list`.'
    metric: 'connector.poisoned'
    aggregation: 'Total'
    threshold: 0
    severity: 2
  }
  {
    key: 'needs-reconnect'
    description: 'A connection lost its Xero authorisation and must be reconnected.'
    metric: 'connector.needs_reconnect'
    aggregation: 'Total'
    threshold: 0
    severity: 1
  }
  {
    // The gauge is per connection; its maximum over all of them is above 80% when any one is.
    key: 'xero-day-budget'
    description: 'A Xero organisation used more than 80% of its 5,000 calls a day.'
    metric: 'connector.xero.day_budget_used_ratio'
    aggregation: 'Maximum'
    threshold: json('0.8')
    severity: 2
  }
]

resource metricAlertRules 'Microsoft.Insights/metricAlerts@2018-03-01' = [
  for alert in metricAlerts: {
    name: '${name}-${alert.key}'
    location: 'global'
    tags: tags
    properties: {
      description: alert.description
      severity: alert.severity
      enabled: true
      scopes: [
        insights.id
      ]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT15M'
      autoMitigate: true
      criteria: {
        'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
        allOf: [
          {
            criterionType: 'StaticThresholdCriterion'
            name: alert.key
            metricNamespace: 'azure.applicationinsights'
            metricName: alert.metric
            timeAggregation: alert.aggregation
            operator: 'GreaterThan'
            threshold: alert.threshold
            // A custom metric does not exist until the connector first emits it, and a new deployment has
            // emitted none: without this ARM rejects the rule as naming an unknown metric.
            skipMetricValidation: true
          }
        ]
      }
      actions: empty(alertActionGroupId) ? [] : [
        {
          actionGroupId: alertActionGroupId
        }
      ]
    }
  }
]

// Deletes that need a person stay a log alert: the step's log line carries the invoice and what to do.
var alertQueries = {
  'delete-needs-attention': 'traces | where message has "invoice_delete_needs_attention"'
}

resource alerts 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = [
  for alert in items(alertQueries): {
    name: '${name}-${alert.key}'
    location: location
    tags: tags
    properties: {
      displayName: '${name}: ${alert.key}'
      severity: 2
      enabled: true
      scopes: [
        insights.id
      ]
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
      actions: {
        actionGroups: empty(alertActionGroupId) ? [] : [
          alertActionGroupId
        ]
      }
    }
  }
]

// Outputs, named the azd way: azd stores them in the environment, where the hooks read them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output SERVICE_API_NAME string = app.name
output SERVICE_API_URI string = appUrl
output AZURE_KEY_VAULT_NAME string = vault.name
output AZURE_KEY_VAULT_ENDPOINT string = vault.properties.vaultUri
output AZURE_STORAGE_ACCOUNT_NAME string = storage.name
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.properties.primaryEndpoints.blob
output AZURE_STORAGE_QUEUE_ENDPOINT string = storage.properties.primaryEndpoints.queue
output DATAVERSE_URL string = dataverseUrl
output DATAVERSE_WEBHOOK_URL string = '${appUrl}/api/dataverse/invoices'
output XERO_WEBHOOK_URL string = '${appUrl}/api/xero/webhook'
output ADMIN_CONSOLE_URL string = consoleUrl
output ENTRA_REDIRECT_URI string = entraRedirectUri
output XERO_REDIRECT_URI string = xeroRedirectUri
