// The Azure provider's custom role (src/Providers/Azure), assigned to the silos' identity at subscription scope: the
// provider makes a resource group per run, and the reaper finds expired groups and resources anywhere in the
// subscription by their testgrid-expires-at tag. Each action is one the provider performs or one that Resource Manager
// checks on its behalf; nothing else (no role management, no storage keys, no other resource types).
targetScope = 'subscription'

@description('The principal (object) id of the silos\' managed identity.')
param principalId string

@description('The role\'s name; unique in the tenant.')
param roleName string = 'TestGrid Azure provider (${subscription().subscriptionId})'

var actions = [
  // Resource groups: the run's group testgrid-<run> is made with its tags (write), read at the end of the run and
  // listed by expiry tag by the reaper (read), deleted at the end of the run or once expired (delete). Deleting a
  // group needs delete on every resource in it, which the resource types below grant.
  'Microsoft.Resources/subscriptions/resourceGroups/read'
  'Microsoft.Resources/subscriptions/resourceGroups/write'
  'Microsoft.Resources/subscriptions/resourceGroups/delete'
  // The end of a run lists what is left in its group (leak report).
  'Microsoft.Resources/subscriptions/resourceGroups/resources/read'
  // The leak report and the reaper list the subscription's resources by tag (testgrid-run, testgrid-expires-at).
  'Microsoft.Resources/subscriptions/resources/read'
  // A resource group delete is a long-running operation, polled at the subscription's operation results.
  'Microsoft.Resources/subscriptions/operationresults/read'
  // Tags of existing resources (a kept VM, NIC and public IP, and their group: testgrid-kept and a later expiry) are
  // replaced through the Tags API.
  'Microsoft.Resources/tags/read'
  'Microsoft.Resources/tags/write'
  'Microsoft.Resources/tags/delete'
  // Before it first changes a resource group's tags the SDK reads the subscription and its Microsoft.Resources
  // provider (whether the cloud offers the Tags API); the API version of a resource handled generically without a set
  // version (a kept VM, an OS disk the leak report or the reaper finds) is read from its resource provider.
  'Microsoft.Resources/subscriptions/read'
  'Microsoft.Resources/subscriptions/providers/read'

  // Resource SKUs: each size's arch, vCPUs, memory, family, features, zones and restrictions per region (plan review
  // and capacity).
  'Microsoft.Compute/skus/read'
  // Compute usages: the vCPU quota of each region and family, so that TestGrid never asks for more than is free.
  'Microsoft.Compute/locations/usages/read'
  // Compute's long-running operations (VM create and delete, image create and delete, disk delete) are polled here.
  'Microsoft.Compute/locations/operations/read'
  // The attempt's VM: created (write), read, deleted at teardown or by the reaper (delete); a kept VM's tags change
  // (write).
  'Microsoft.Compute/virtualMachines/read'
  'Microsoft.Compute/virtualMachines/write'
  'Microsoft.Compute/virtualMachines/delete'
  // The serial log through boot diagnostics (managed storage): a SAS URL to the log blob, read while the VM boots and
  // at teardown.
  'Microsoft.Compute/virtualMachines/retrieveBootDiagnosticsData/action'
  // The VM's OS disk: Compute makes it from the image with the VM (write) and deletes it with the VM (delete); one
  // left behind is read and deleted by the leak report or the reaper.
  'Microsoft.Compute/disks/read'
  'Microsoft.Compute/disks/write'
  'Microsoft.Compute/disks/delete'
  // An image given as a VHD is imported once per run and region as a managed image (write), which the run's VMs use
  // (read: Resource Manager checks it on the VM create), and deleted with the run's group (delete).
  'Microsoft.Compute/images/read'
  'Microsoft.Compute/images/write'
  'Microsoft.Compute/images/delete'
  // A VM made from a Compute Gallery image version: Resource Manager checks read access to that version.
  'Microsoft.Compute/galleries/images/versions/read'

  // Public networking: a Standard public IP per VM (write, read for its address, delete at teardown) and its use by
  // the VM's NIC (join).
  'Microsoft.Network/publicIPAddresses/read'
  'Microsoft.Network/publicIPAddresses/write'
  'Microsoft.Network/publicIPAddresses/delete'
  'Microsoft.Network/publicIPAddresses/join/action'
  // The VM's NIC (write, read for its private address, delete at teardown) and its use by the VM (join).
  'Microsoft.Network/networkInterfaces/read'
  'Microsoft.Network/networkInterfaces/write'
  'Microsoft.Network/networkInterfaces/delete'
  'Microsoft.Network/networkInterfaces/join/action'
  // Per region and run, a network security group that admits SSH only from the runner's address (write; read after
  // Azure's asynchronous create; delete with the run's group) and its use by the run's subnet (join).
  'Microsoft.Network/networkSecurityGroups/read'
  'Microsoft.Network/networkSecurityGroups/write'
  'Microsoft.Network/networkSecurityGroups/delete'
  'Microsoft.Network/networkSecurityGroups/join/action'
  // Per region and run, a virtual network with one subnet (write; read after Azure's asynchronous create; delete
  // with the run's group).
  'Microsoft.Network/virtualNetworks/read'
  'Microsoft.Network/virtualNetworks/write'
  'Microsoft.Network/virtualNetworks/delete'
  // A NIC placed in a subnet: the run's own, or with private networking the configured subnet (subnetId).
  'Microsoft.Network/virtualNetworks/subnets/join/action'
  // Network's long-running operations (NIC, public IP, NSG and VNet create and delete) are polled here.
  'Microsoft.Network/locations/operations/read'
  'Microsoft.Network/locations/operationResults/read'
]

resource role 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'testgrid-azure-provider')
  properties: {
    roleName: roleName
    description: 'What TestGrid\'s Azure provider does: per-run resource groups with test VMs, their NICs, public IPs, networks and images; SKUs and quotas; serial logs; tags; the reaper.'
    type: 'CustomRole'
    permissions: [
      {
        actions: actions
        notActions: []
      }
    ]
    assignableScopes: [
      subscription().id
    ]
  }
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, role.id)
  properties: {
    roleDefinitionId: role.id
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'TestGrid silos: the Azure provider'
  }
}

output roleDefinitionId string = role.id
