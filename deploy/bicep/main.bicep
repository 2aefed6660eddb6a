// TestGrid's Azure side: a resource group with the cluster's storage account, an AKS cluster for the silos and the
// user-assigned managed identity they run as, and, for the Azure provider, a custom role at subscription scope.
//
//   az deployment sub create --location eastus2 --template-file deploy/bicep/main.bicep \
//     --parameters deploy/bicep/main.example.bicepparam
//
// The deploying principal needs to create role definitions and assignments (Owner, or User Access Administrator
// with Contributor). See deploy/README.md for what follows: the image, the Kubernetes manifests, the CLI.
targetScope = 'subscription'

@description('Region of the resource group, the storage account and the cluster.')
param location string

@description('The resource group that holds the cluster, its storage and its identity.')
param resourceGroupName string = 'testgrid'

@description('Prefix of the names of the identity and the AKS cluster.')
@minLength(3)
@maxLength(20)
param namePrefix string = 'testgrid'

@description('Storage account for clustering, reminders, grain state and the results ledger: 3 to 24 lowercase letters and digits, unique in Azure.')
@minLength(3)
@maxLength(24)
param storageAccountName string = 'tg${uniqueString(subscription().id, resourceGroupName)}'

@description('Storage redundancy. Zone-redundant storage survives the loss of a zone; not every region offers it.')
@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS'])
param storageSku string = 'Standard_ZRS'

@description('Kubernetes namespace and service account of the silos (deploy/kubernetes): the managed identity trusts tokens of exactly this account.')
param kubernetesNamespace string = 'testgrid'
param kubernetesServiceAccount string = 'testgrid-silo'

@description('AKS nodes: at least 3, so that three silos run on three nodes and the cluster survives losing one.')
@minValue(3)
param nodeCount int = 3

@description('AKS node size (x64).')
param nodeVmSize string = 'Standard_D4s_v5'

@description('Give the identity the custom role the Azure provider needs. Leave it off for a cluster that runs only the static provider.')
param grantAzureProvider bool = true

@description('Subscription where the Azure provider makes its test VMs; a separate subscription keeps test machines away from everything else.')
param providerSubscriptionId string = subscription().subscriptionId

@description('Tags for every resource made here.')
param tags object = {
  application: 'testgrid'
}

resource group 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: resourceGroupName
  location: location
  tags: tags
}

module cluster 'modules/cluster.bicep' = {
  name: 'testgrid-cluster'
  scope: group
  params: {
    location: location
    namePrefix: namePrefix
    storageAccountName: storageAccountName
    storageSku: storageSku
    kubernetesNamespace: kubernetesNamespace
    kubernetesServiceAccount: kubernetesServiceAccount
    nodeCount: nodeCount
    nodeVmSize: nodeVmSize
    tags: tags
  }
}

// Subscription scope: the provider makes a resource group per run (testgrid-<run>) and the reaper lists and deletes
// expired ones, which no narrower scope allows.
module providerRole 'modules/provider-role.bicep' = if (grantAzureProvider) {
  name: 'testgrid-provider-role'
  scope: subscription(providerSubscriptionId)
  params: {
    principalId: cluster.outputs.identityPrincipalId
  }
}

@description('TestGrid__Storage__AccountName of deploy/kubernetes/configmap.yaml.')
output storageAccountName string = cluster.outputs.storageAccountName

@description('TestGrid__Storage__EndpointSuffix of deploy/kubernetes/configmap.yaml.')
output storageEndpointSuffix string = environment().suffixes.storage

@description('The azure.workload.identity/client-id annotation of the service account (deploy/kubernetes/rbac.yaml).')
output identityClientId string = cluster.outputs.identityClientId

@description('az aks get-credentials --resource-group RESOURCE_GROUP --name AKS_NAME')
output aksName string = cluster.outputs.aksName

output resourceGroupName string = group.name
