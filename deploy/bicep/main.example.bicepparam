// Example parameters for main.bicep; copy and edit. Nothing secret belongs here: the silos reach storage and Azure
// through their managed identity.
//   az deployment sub create --location eastus2 --template-file deploy/bicep/main.bicep --parameters deploy/bicep/main.example.bicepparam
using 'main.bicep'

param location = 'eastus2'
param resourceGroupName = 'testgrid'
param namePrefix = 'testgrid'
param storageSku = 'Standard_ZRS'
param nodeCount = 3
param nodeVmSize = 'Standard_D4s_v5'
param grantAzureProvider = true
// The subscription for test VMs, when it is not the one deployed to:
// param providerSubscriptionId = '00000000-0000-0000-0000-000000000000'
param tags = {
  application: 'testgrid'
  owner: 'image-release-team'
}
