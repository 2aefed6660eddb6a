// The resource group's part: storage, the silos' identity with its two storage roles, and the AKS cluster whose
// workload identity lets the silo pods act as that identity.
targetScope = 'resourceGroup'

param location string
param namePrefix string
param storageAccountName string
param storageSku string
param kubernetesNamespace string
param kubernetesServiceAccount string
param nodeCount int
param nodeVmSize string
param tags object

// The silo's contract (src/Silo): Orleans clustering, reminders and the results ledger in tables, grain state in a
// blob container.
var tableNames = [
  'testgridcluster'
  'testgridreminders'
  'testgridruns'
  'testgridhistory'
]
var grainStateContainer = 'testgrid-state'

// Built-in roles, by their fixed ids: read, write and delete of table entities, and of blobs. Nothing else is granted
// on the account: no keys, no management of the account itself.
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  tags: tags
  sku: {
    name: storageSku
  }
  kind: 'StorageV2'
  properties: {
    // Entra ID only: the silos use their managed identity, so no account key works and none can leak.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    accessTier: 'Hot'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for table in tableNames: {
    parent: tableService
    name: table
  }
]

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource stateContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: grainStateContainer
  properties: {
    publicAccess: 'None'
  }
}

// The silos' identity: storage through the two data roles below; the Azure provider through the custom role of
// provider-role.bicep.
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-silo'
  location: location
  tags: tags
}

resource tableData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    description: 'TestGrid silos: Orleans clustering and reminders, the results ledger'
  }
}

resource blobData 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, storageBlobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
    description: 'TestGrid silos: Orleans grain state'
  }
}

// AKS, not Azure Container Apps: Orleans silos talk to each other directly on the silo port (11111) at the address
// each advertises, and Orleans' Kubernetes hosting watches the pods through the Kubernetes API. Every AKS pod has its
// own routable address in the cluster; Container Apps offers no Kubernetes API and no supported way for one replica to
// reach another replica's port directly.
resource aks 'Microsoft.ContainerService/managedClusters@2024-09-01' = {
  name: '${namePrefix}-aks'
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    dnsPrefix: '${namePrefix}-aks'
    enableRBAC: true
    agentPoolProfiles: [
      {
        name: 'system'
        mode: 'System'
        count: nodeCount
        vmSize: nodeVmSize
        osType: 'Linux'
        osSKU: 'AzureLinux'
        type: 'VirtualMachineScaleSets'
      }
    ]
    // Pods get addresses of an overlay network, reachable from every pod; Cilium enforces the NetworkPolicy of
    // deploy/kubernetes/policy.yaml.
    networkProfile: {
      networkPlugin: 'azure'
      networkPluginMode: 'overlay'
      networkDataplane: 'cilium'
      networkPolicy: 'cilium'
    }
    // Workload identity: the silo pods' service account tokens are exchanged for the managed identity's tokens.
    oidcIssuerProfile: {
      enabled: true
    }
    securityProfile: {
      workloadIdentity: {
        enabled: true
      }
    }
    autoUpgradeProfile: {
      upgradeChannel: 'patch'
    }
  }
}

// The identity trusts the tokens of one Kubernetes service account of this cluster, and no other.
resource federation 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: identity
  name: 'aks-${kubernetesNamespace}-${kubernetesServiceAccount}'
  properties: {
    issuer: aks.properties.oidcIssuerProfile.issuerURL
    subject: 'system:serviceaccount:${kubernetesNamespace}:${kubernetesServiceAccount}'
    audiences: [
      'api://AzureADTokenExchange'
    ]
  }
}

output storageAccountName string = storage.name
output identityPrincipalId string = identity.properties.principalId
output identityClientId string = identity.properties.clientId
output aksName string = aks.name
