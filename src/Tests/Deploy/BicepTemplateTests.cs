using System.Text.Json.Nodes;
using k8s;
using k8s.Models;
using TestGrid.Ledger;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Deploy;

/// <summary>
/// deploy/bicep compiled by the real Bicep compiler (its Azure resource types are built in, so every resource type, API
/// version and property is checked, offline), then held to the design: storage with the silo's tables and container
/// and no shared keys, only the least roles assigned, a custom role of explicit actions at subscription scope, and a
/// workload identity that trusts exactly the silos' Kubernetes service account.
/// </summary>
[TestFixture, Category("Deploy")]
public sealed class BicepTemplateTests
{
    // Built-in role ids (fixed by Azure): the only built-in roles TestGrid's identity gets.
    private const string StorageTableDataContributor = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3";
    private const string StorageBlobDataContributor = "ba92f5b4-2d11-453d-a403-e96b0029c9fe";

    private BicepTemplate _template = null!;

    [OneTimeSetUp]
    public async Task BuildAsync() => _template = await BicepTemplate.BuildAsync();

    [Test]
    public async Task The_templates_and_the_example_parameters_compile_without_a_diagnostic()
    {
        Assert.That(_template.Diagnostics, Is.Empty, "no warning, no linter finding");
        Assert.That(_template.Root["$schema"]!.ToString(), Does.Contain("subscriptionDeploymentTemplate"), "main.bicep deploys at subscription scope");

        var parameters = await DeployTools.RunAsync(DeployTools.Bicep(), ["build-params", Repo.Path("deploy", "bicep", "main.example.bicepparam"), "--stdout"]);
        Assert.That(parameters.ExitCode, Is.Zero, parameters.ToString());
        Assert.That(parameters.Err, Is.Empty);
        var values = JsonNode.Parse((string)JsonNode.Parse(parameters.Out)!["parametersJson"]!)!["parameters"]!.AsObject();
        Assert.That(values.Select(p => p.Key), Is.SubsetOf(_template.Root["parameters"]!.AsObject().Select(p => p.Key)));
        Assert.That(values.Select(p => p.Key), Does.Contain("location"), "the one parameter without a default");
    }

    [Test]
    public async Task The_compiler_checks_resource_properties_against_the_Azure_types()
    {
        using var workspace = new Workspace();
        var misspelt = (await File.ReadAllTextAsync(Repo.Path("deploy", "bicep", "modules", "cluster.bicep")))
            .Replace("allowSharedKeyAccess:", "allowSharedKeyAcess:", StringComparison.Ordinal);
        var path = workspace.Path("cluster.bicep");
        await File.WriteAllTextAsync(path, misspelt);

        var build = await DeployTools.RunAsync(DeployTools.Bicep(), ["build", path, "--stdout"]);

        Assert.That(build.Err, Does.Contain("BCP089").And.Contain("allowSharedKeyAcess"), build.ToString());
    }

    [Test]
    public void Storage_holds_the_silo_tables_and_container_and_refuses_shared_keys()
    {
        var (tables, template) = _template.Single("Microsoft.Storage/storageAccounts/tableServices/tables");
        Assert.That((string)tables["name"]!, Does.EndWith("variables('tableNames')[copyIndex()])]"), "one table per name");
        var names = template["variables"]!["tableNames"]!.AsArray().Select(n => (string)n!);
        // Clustering and reminders (the silo's Orleans providers), and the results ledger's two tables.
        Assert.That(names, Is.EquivalentTo(new[] { "testgridcluster", "testgridreminders", TableLedger.DefaultRunsTable, TableLedger.DefaultHistoryTable }));

        var (container, containerTemplate) = _template.Single("Microsoft.Storage/storageAccounts/blobServices/containers");
        Assert.That(BicepTemplate.Variable(containerTemplate, "grainStateContainer"), Is.EqualTo("testgrid-state"));
        Assert.That((string)container["properties"]!["publicAccess"]!, Is.EqualTo("None"));

        var account = _template.Single("Microsoft.Storage/storageAccounts").Resource["properties"]!;
        Assert.That((bool)account["allowSharedKeyAccess"]!, Is.False, "managed identity only: no account key works");
        Assert.That((bool)account["allowBlobPublicAccess"]!, Is.False);
        Assert.That((string)account["minimumTlsVersion"]!, Is.EqualTo("TLS1_2"));
        Assert.That((bool)account["supportsHttpsTrafficOnly"]!, Is.True);
    }

    [Test]
    public void Every_role_assignment_is_one_of_the_least_roles()
    {
        var assignments = _template.OfType("Microsoft.Authorization/roleAssignments").ToList();
        var custom = _template.Single("Microsoft.Authorization/roleDefinitions");
        var customId = $"[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', {Inner((string)custom.Resource["name"]!)})]";

        var granted = new List<string>();
        foreach (var (assignment, template) in assignments)
        {
            var roleId = (string)assignment["properties"]!["roleDefinitionId"]!;
            Assert.That((string)assignment["properties"]!["principalType"]!, Is.EqualTo("ServicePrincipal"));
            if (roleId == customId)
            {
                Assert.That(template["$schema"]!.ToString(), Does.Contain("subscriptionDeploymentTemplate"), "the Azure provider's role is assigned at subscription scope");
                Assert.That(assignment["scope"], Is.Null, "the subscription itself, not a narrower scope");
                granted.Add("TestGrid Azure provider");
                continue;
            }
            var variable = System.Text.RegularExpressions.Regex.Match(roleId, @"^\[subscriptionResourceId\('Microsoft.Authorization/roleDefinitions', variables\('(\w+)'\)\)\]$");
            Assert.That(variable.Success, Is.True, $"a built-in role by its fixed id: {roleId}");
            var builtIn = BicepTemplate.Variable(template, variable.Groups[1].Value);
            Assert.That(builtIn, Is.AnyOf(StorageTableDataContributor, StorageBlobDataContributor), "only the storage data roles");
            Assert.That((string)assignment["scope"]!, Does.StartWith("[resourceId('Microsoft.Storage/storageAccounts'"), "on the storage account, not the group or subscription");
            granted.Add(builtIn);
        }
        Assert.That(granted, Is.EquivalentTo(new[] { StorageTableDataContributor, StorageBlobDataContributor, "TestGrid Azure provider" }));
    }

    [Test]
    public void The_Azure_provider_role_names_explicit_actions_assignable_only_in_its_subscription()
    {
        var properties = _template.Single("Microsoft.Authorization/roleDefinitions").Resource["properties"]!;
        Assert.That((string)properties["type"]!, Is.EqualTo("CustomRole"));
        Assert.That(properties["assignableScopes"]!.AsArray().Select(s => (string)s!), Is.EqualTo(new[] { "[subscription().id]" }));
        var permission = properties["permissions"]!.AsArray().Single()!;
        Assert.That(permission["dataActions"], Is.Null, "no data-plane access (storage keys, blobs)");
        Assert.That(permission["notActions"]!.AsArray(), Is.Empty);
        var actions = ProviderRole.Actions(_template);
        Assert.That(actions, Has.Count.GreaterThan(20));
        Assert.That(actions, Has.None.Contains("*"), "no wildcards");
        Assert.That(actions.Where(a => a.StartsWith("Microsoft.Authorization/", StringComparison.OrdinalIgnoreCase)), Is.Empty, "it cannot grant itself more");
        Assert.That(actions.Where(a => a.StartsWith("Microsoft.Storage/", StringComparison.OrdinalIgnoreCase)), Is.Empty, "no storage account keys");
        Assert.That(actions.Select(a => a.Split('/')[0]).Distinct(), Is.EquivalentTo(new[] { "Microsoft.Resources", "Microsoft.Compute", "Microsoft.Network" }));
        Assert.That(actions, Is.Unique);
    }

    [Test]
    public void The_identity_trusts_exactly_the_silos_service_account_of_the_Kubernetes_manifests()
    {
        var aks = _template.Single("Microsoft.ContainerService/managedClusters").Resource["properties"]!;
        Assert.That((bool)aks["oidcIssuerProfile"]!["enabled"]!, Is.True);
        Assert.That((bool)aks["securityProfile"]!["workloadIdentity"]!["enabled"]!, Is.True);
        Assert.That((string)aks["agentPoolProfiles"]![0]!["count"]!, Is.EqualTo("[parameters('nodeCount')]"));
        Assert.That((int)_template.Root["parameters"]!["nodeCount"]!["minValue"]!, Is.GreaterThanOrEqualTo(3), "three silos on three nodes");

        var federation = _template.Single("Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials").Resource["properties"]!;
        Assert.That((string)federation["subject"]!, Is.EqualTo("[format('system:serviceaccount:{0}:{1}', parameters('kubernetesNamespace'), parameters('kubernetesServiceAccount'))]"));
        Assert.That(federation["audiences"]!.AsArray().Select(a => (string)a!), Is.EqualTo(new[] { "api://AzureADTokenExchange" }));
        var parameters = _template.Root["parameters"]!;
        var ns = (string)parameters["kubernetesNamespace"]!["defaultValue"]!;
        var account = (string)parameters["kubernetesServiceAccount"]!["defaultValue"]!;

        var rbac = KubernetesYaml.LoadAllFromString(File.ReadAllText(Repo.Path("deploy", "kubernetes", "rbac.yaml")), strict: true);
        var serviceAccount = rbac.OfType<V1ServiceAccount>().Single();
        Assert.That(serviceAccount.Metadata.Name, Is.EqualTo(account));
        Assert.That(serviceAccount.Metadata.Annotations, Does.ContainKey("azure.workload.identity/client-id"));
        var kustomization = File.ReadAllText(Repo.Path("deploy", "kubernetes", "kustomization.yaml"));
        Assert.That(kustomization, Does.Contain($"\nnamespace: {ns}\n"));
        var deployment = KubernetesYaml.LoadAllFromString(File.ReadAllText(Repo.Path("deploy", "kubernetes", "deployment.yaml")), strict: true).OfType<V1Deployment>().Single();
        Assert.That(deployment.Spec.Template.Metadata.Labels["azure.workload.identity/use"], Is.EqualTo("true"));
        Assert.That(deployment.Spec.Template.Spec.ServiceAccountName, Is.EqualTo(account));
    }

    /// <summary><c>[guid(a, b)]</c> → <c>guid(a, b)</c>.</summary>
    private static string Inner(string expression) => expression.TrimStart('[').TrimEnd(']');
}

/// <summary>The Azure provider's custom role of deploy/bicep/modules/provider-role.bicep, as compiled.</summary>
internal static class ProviderRole
{
    public static IReadOnlyList<string> Actions(BicepTemplate compiled)
    {
        var (role, template) = compiled.Single("Microsoft.Authorization/roleDefinitions");
        var actions = BicepTemplate.Resolve(role["properties"]!["permissions"]![0]!["actions"], template)!.AsArray();
        return [.. actions.Select(a => (string)a!)];
    }
}
