using System.Globalization;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using k8s;
using k8s.Models;
using Orleans.Hosting.Kubernetes;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Deploy;

/// <summary>
/// deploy/kubernetes as Kubernetes receives it: rendered by kubectl's kustomize, every object checked against the
/// Kubernetes API's schemas (npm kubernetes-models through deploy/kubernetes/validate.mjs) and read strictly into the
/// Kubernetes .NET client's models (an unknown field is an error), then held to what the silo and Orleans' Kubernetes
/// hosting need: the labels and environment it reads, the API verbs it uses, probes on the silo's health paths, a
/// grace period longer than the shutdown timeout, a non-root read-only container with every written path mounted,
/// and no secret in any file.
/// </summary>
[TestFixture, Category("Deploy")]
public sealed class KubernetesManifestTests
{
    private string _rendered = "";
    private List<IKubernetesObject> _objects = [];

    [OneTimeSetUp]
    public async Task RenderAsync()
    {
        var kustomize = await DeployTools.RunAsync(DeployTools.Kubectl(), ["kustomize", Repo.Path("deploy", "kubernetes")]);
        Assert.That(kustomize.ExitCode, Is.Zero, kustomize.ToString());
        _rendered = kustomize.Out;
        _objects = [.. KubernetesYaml.LoadAllFromString(_rendered, strict: true).Cast<IKubernetesObject>()];
    }

    [Test]
    public async Task Every_object_passes_the_Kubernetes_schema_of_its_kind()
    {
        var validated = await ValidateAsync(_rendered);

        Assert.That(validated.ExitCode, Is.Zero, validated.ToString());
        Assert.That(validated.Out, Does.Contain("valid apps/v1 Deployment/testgrid-silo")
            .And.Contain("valid rbac.authorization.k8s.io/v1 Role/testgrid-silo")
            .And.Contain("valid v1 Service/testgrid-gateway"));
        Assert.That(Regex.Matches(validated.Out, "^valid ", RegexOptions.Multiline), Has.Count.EqualTo(_objects.Count), "one line per rendered object");
        var example = await ValidateAsync(await File.ReadAllTextAsync(Repo.Path("deploy", "kubernetes", "storage-secret.example.yaml")));
        Assert.That(example.ExitCode, Is.Zero, example.ToString());
    }

    [Test]
    public async Task The_schema_check_refuses_a_wrong_type_and_a_missing_required_field()
    {
        var wrongType = await ValidateAsync(_rendered.Replace("replicas: 3", "replicas: three", StringComparison.Ordinal));
        Assert.That(wrongType.ExitCode, Is.EqualTo(1), wrongType.ToString());
        Assert.That(wrongType.Err, Does.Contain("replicas must be integer"));

        var noName = await ValidateAsync("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: { name: broken }
            spec:
              selector: { matchLabels: { app: broken } }
              template:
                metadata: { labels: { app: broken } }
                spec: { containers: [ { image: testgrid-silo } ] }
            """);
        Assert.That(noName.ExitCode, Is.EqualTo(1), noName.ToString());
        Assert.That(noName.Err, Does.Contain("must have required property 'name'").Or.Contain("must have required property name"));
    }

    [Test]
    public void Every_field_is_one_the_Kubernetes_API_knows()
    {
        Assert.That(_objects.Select(o => $"{o.Kind}/{((IMetadata<V1ObjectMeta>)o).Metadata.Name}"), Is.EquivalentTo(new[]
        {
            "Namespace/testgrid", "ServiceAccount/testgrid-silo", "Role/testgrid-silo", "RoleBinding/testgrid-silo",
            "ConfigMap/testgrid-silo", "PersistentVolumeClaim/testgrid-artifacts", "Deployment/testgrid-silo",
            "Service/testgrid-gateway", "Service/testgrid-http", "PodDisruptionBudget/testgrid-silo", "NetworkPolicy/testgrid-silo",
        }));
        Assert.That(_objects.OfType<IMetadata<V1ObjectMeta>>().Where(o => o is not V1Namespace).Select(o => o.Metadata.NamespaceProperty), Is.All.EqualTo("testgrid"));
        // The strict reader is not lenient: a misspelt field is refused.
        var misspelt = _rendered.Replace("runAsNonRoot:", "runAsNonRot:", StringComparison.Ordinal);
        Assert.That(() => KubernetesYaml.LoadAllFromString(misspelt, strict: true), Throws.Exception.With.Message.Contains("runAsNonRot"));
    }

    [Test]
    public void The_silo_pods_carry_the_labels_and_environment_Orleans_Kubernetes_hosting_reads()
    {
        var deployment = Single<V1Deployment>();
        var labels = deployment.Spec.Template.Metadata.Labels;
        Assert.That(labels[KubernetesHostingOptions.ServiceIdLabel], Is.EqualTo("testgrid"), "the service id is fixed");
        Assert.That(labels[KubernetesHostingOptions.ClusterIdLabel], Is.EqualTo("testgrid"), "TestGrid:ClusterId's default");
        Assert.That(deployment.Spec.Replicas, Is.GreaterThanOrEqualTo(3));
        Assert.That(deployment.Spec.Selector.MatchLabels, Is.SubsetOf(labels));

        var env = Silo(deployment).Env.ToDictionary(e => e.Name);
        Assert.That(env[KubernetesHostingOptions.PodNameEnvironmentVariable].ValueFrom.FieldRef.FieldPath, Is.EqualTo("metadata.name"));
        Assert.That(env[KubernetesHostingOptions.PodNamespaceEnvironmentVariable].ValueFrom.FieldRef.FieldPath, Is.EqualTo("metadata.namespace"));
        Assert.That(env[KubernetesHostingOptions.PodIPEnvironmentVariable].ValueFrom.FieldRef.FieldPath, Is.EqualTo("status.podIP"));
        Assert.That(env[KubernetesHostingOptions.ServiceIdEnvironmentVariable].ValueFrom.FieldRef.FieldPath, Is.EqualTo($"metadata.labels['{KubernetesHostingOptions.ServiceIdLabel}']"));
        Assert.That(env[KubernetesHostingOptions.ClusterIdEnvironmentVariable].ValueFrom.FieldRef.FieldPath, Is.EqualTo($"metadata.labels['{KubernetesHostingOptions.ClusterIdLabel}']"));
        Assert.That(env["TestGrid__ClusterId"].ValueFrom.FieldRef.FieldPath, Is.EqualTo($"metadata.labels['{KubernetesHostingOptions.ClusterIdLabel}']"));
        Assert.That(env["TestGrid__Endpoints__AdvertisedAddress"].ValueFrom.FieldRef.FieldPath, Is.EqualTo("status.podIP"));
        Assert.That(Settings()["TestGrid__Kubernetes__Enabled"], Is.EqualTo("true"));
        Assert.That(Settings()["TestGrid__Endpoints__ListenOnAnyAddress"], Is.EqualTo("true"), "other silos and clients reach the pod's address");
        Assert.That(Silo(deployment).EnvFrom.Single().ConfigMapRef.Name, Is.EqualTo(Single<V1ConfigMap>().Metadata.Name));
        Assert.That(deployment.Spec.Template.Spec.EnableServiceLinks, Is.False, "no TESTGRID_*_PORT variables from services");
    }

    [Test]
    public void The_role_grants_exactly_the_pod_verbs_Orleans_Kubernetes_hosting_uses()
    {
        // What the hosting assembly calls, read from its metadata: the Kubernetes client's pod operations it
        // references, and the API verb each one is authorized by.
        var verbs = new Dictionary<string, string[]>(StringComparer.Ordinal)
        {
            ["ReadNamespacedPodAsync"] = ["get"],
            ["PatchNamespacedPodAsync"] = ["patch"],
            ["ListNamespacedPodAsync"] = ["list"],
            ["WatchListNamespacedPodAsync"] = ["list", "watch"],
            ["DeleteNamespacedPodAsync"] = ["delete"],
        };
        var calls = PodCallsOf(typeof(KubernetesHostingOptions).Assembly.Location);
        Assert.That(calls, Is.EquivalentTo(verbs.Keys), "a changed Kubernetes call in Microsoft.Orleans.Hosting.Kubernetes: review rbac.yaml");
        // The delete is made only with DeleteDefunctSiloPods, off by default (TestGrid leaves it off): no delete verb.
        Assert.That(new KubernetesHostingOptions().DeleteDefunctSiloPods, Is.False);
        var needed = calls.Where(c => c != "DeleteNamespacedPodAsync").SelectMany(c => verbs[c]).Distinct().ToList();

        var role = Single<V1Role>();
        var rule = role.Rules.Single();
        Assert.That(rule.ApiGroups, Is.EqualTo(new[] { "" }));
        Assert.That(rule.Resources, Is.EqualTo(new[] { "pods" }));
        Assert.That(rule.Verbs, Is.EquivalentTo(needed), "exactly the verbs used: none missing, none more");
        Assert.That(rule.ResourceNames, Is.Null.Or.Empty);

        var binding = Single<V1RoleBinding>();
        var account = Single<V1ServiceAccount>();
        var pod = Single<V1Deployment>().Spec.Template.Spec;
        Assert.That(binding.RoleRef.Kind, Is.EqualTo("Role"), "namespaced: the silos see only their own namespace");
        Assert.That(binding.RoleRef.Name, Is.EqualTo(role.Metadata.Name));
        Assert.That(binding.Subjects.Single().Name, Is.EqualTo(account.Metadata.Name));
        Assert.That(binding.Subjects.Single().NamespaceProperty, Is.EqualTo("testgrid"));
        Assert.That(pod.ServiceAccountName, Is.EqualTo(account.Metadata.Name));
        Assert.That(pod.AutomountServiceAccountToken, Is.True, "the hosting calls the API with the pod's token");
        Assert.That(_objects.OfType<V1ClusterRole>(), Is.Empty);
    }

    [Test]
    public void Probes_point_at_the_silo_health_paths_and_ports_match_the_silo_settings()
    {
        var deployment = Single<V1Deployment>();
        var silo = Silo(deployment);
        var ports = silo.Ports.ToDictionary(p => p.Name, p => p.ContainerPort);
        var settings = Settings();
        Assert.That(ports["http"], Is.EqualTo(int.Parse(settings["TestGrid__Http__Port"], CultureInfo.InvariantCulture)));
        Assert.That(ports["silo"], Is.EqualTo(int.Parse(settings["TestGrid__Endpoints__SiloPort"], CultureInfo.InvariantCulture)).And.EqualTo(11111));
        Assert.That(ports["gateway"], Is.EqualTo(int.Parse(settings["TestGrid__Endpoints__GatewayPort"], CultureInfo.InvariantCulture)).And.EqualTo(30000));

        Assert.That(silo.LivenessProbe.HttpGet.Path, Is.EqualTo("/healthz/live"));
        Assert.That(silo.StartupProbe.HttpGet.Path, Is.EqualTo("/healthz/live"));
        Assert.That(silo.ReadinessProbe.HttpGet.Path, Is.EqualTo("/healthz/ready"));
        foreach (var probe in new[] { silo.LivenessProbe, silo.StartupProbe, silo.ReadinessProbe })
            Assert.That(probe.HttpGet.Port.Value, Is.EqualTo("http"));

        var podLabels = deployment.Spec.Template.Metadata.Labels;
        var gateway = _objects.OfType<V1Service>().Single(s => s.Metadata.Name == "testgrid-gateway");
        Assert.That(gateway.Spec.Ports.Single().Port, Is.EqualTo(30000), "testgrid run --cluster ADDRESS:30000");
        Assert.That(gateway.Spec.Ports.Single().TargetPort.Value, Is.EqualTo("gateway"));
        var http = _objects.OfType<V1Service>().Single(s => s.Metadata.Name == "testgrid-http");
        Assert.That(http.Spec.Ports.Single().TargetPort.Value, Is.EqualTo("http"));
        foreach (var service in _objects.OfType<V1Service>())
            Assert.That(service.Spec.Selector, Is.SubsetOf(podLabels), service.Metadata.Name);
        Assert.That(Single<V1PodDisruptionBudget>().Spec.Selector.MatchLabels, Is.SubsetOf(podLabels));
    }

    [Test]
    public void A_stopping_silo_is_given_longer_than_its_shutdown_timeout_and_one_leaves_at_a_time()
    {
        var deployment = Single<V1Deployment>();
        var shutdown = TimeSpan.Parse(Settings()["TestGrid__ShutdownTimeout"], CultureInfo.InvariantCulture);
        Assert.That(shutdown, Is.EqualTo(TimeSpan.FromMinutes(10)), "the silo's default, stated");
        Assert.That(deployment.Spec.Template.Spec.TerminationGracePeriodSeconds, Is.GreaterThan((long)shutdown.TotalSeconds),
            "Kubernetes must not kill a silo that is still handing its cells over");
        Assert.That(deployment.Spec.Strategy.RollingUpdate.MaxUnavailable.Value, Is.EqualTo("0"));
        Assert.That(Single<V1PodDisruptionBudget>().Spec.MaxUnavailable.Value, Is.EqualTo("1"));
    }

    [Test]
    public async Task The_pods_run_as_the_image_user_with_a_read_only_root_and_every_written_path_mounted()
    {
        var dockerfile = await File.ReadAllTextAsync(Repo.Path("deploy", "silo", "Dockerfile"));
        var user = Regex.Match(dockerfile, @"^USER (\d+):(\d+)$", RegexOptions.Multiline);
        Assert.That(user.Success, Is.True, "the Dockerfile names a numeric user");

        var pod = Single<V1Deployment>().Spec.Template.Spec;
        Assert.That(pod.SecurityContext.RunAsNonRoot, Is.True);
        Assert.That(pod.SecurityContext.RunAsUser, Is.EqualTo(long.Parse(user.Groups[1].Value, CultureInfo.InvariantCulture)));
        Assert.That(pod.SecurityContext.RunAsGroup, Is.EqualTo(long.Parse(user.Groups[2].Value, CultureInfo.InvariantCulture)));
        Assert.That(pod.SecurityContext.FsGroup, Is.EqualTo(pod.SecurityContext.RunAsGroup));
        Assert.That(pod.SecurityContext.SeccompProfile.Type, Is.EqualTo("RuntimeDefault"));
        var container = Silo(Single<V1Deployment>());
        Assert.That(container.SecurityContext.ReadOnlyRootFilesystem, Is.True);
        Assert.That(container.SecurityContext.AllowPrivilegeEscalation, Is.False);
        Assert.That(container.SecurityContext.Capabilities.Drop, Is.EqualTo(new[] { "ALL" }));
        Assert.That(container.Resources.Requests.Keys, Is.SupersetOf(new[] { "cpu", "memory" }));
        Assert.That(container.Resources.Limits.Keys, Does.Contain("memory"));

        // The paths the image writes: its TESTGRID_STATE, TESTGRID_CACHE and TestGrid__ArtifactsRoot, and /tmp.
        var written = new[] { "TESTGRID_STATE", "TESTGRID_CACHE", "TestGrid__ArtifactsRoot" }
            .Select(name => Regex.Match(dockerfile, $@"\b{name}=(\S+)").Groups[1].Value)
            .Append("/tmp").ToList();
        Assert.That(written, Has.None.Empty);
        var mounts = container.VolumeMounts.ToDictionary(m => m.MountPath, m => m.Name);
        Assert.That(mounts.Keys, Is.SupersetOf(written));
        var volumes = pod.Volumes.ToDictionary(v => v.Name);
        foreach (var path in written)
            Assert.That(volumes[mounts[path]].EmptyDir ?? (object?)volumes[mounts[path]].PersistentVolumeClaim, Is.Not.Null, path);
        Assert.That(volumes[mounts[Settings()["TestGrid__ArtifactsRoot"]]].PersistentVolumeClaim.ClaimName, Is.EqualTo(Single<V1PersistentVolumeClaim>().Metadata.Name),
            "artefacts go to the shared claim, whichever silo runs the attempt");
        Assert.That(Single<V1PersistentVolumeClaim>().Spec.AccessModes, Is.EqualTo(new[] { "ReadWriteMany" }));
    }

    [Test]
    public void Storage_secrets_come_only_from_a_secret_reference()
    {
        var settings = Settings();
        Assert.That(settings.Keys.Where(k => Regex.IsMatch(k, "ConnectionString|Key|Password|Secret|Token", RegexOptions.IgnoreCase)), Is.Empty,
            "nothing secret in the ConfigMap");
        var connection = Silo(Single<V1Deployment>()).Env.Single(e => e.Name == "TestGrid__Storage__ConnectionString");
        Assert.That(connection.Value, Is.Null);
        Assert.That(connection.ValueFrom.SecretKeyRef.Name, Is.EqualTo("testgrid-storage"));
        Assert.That(connection.ValueFrom.SecretKeyRef.Optional, Is.True, "managed identity (AccountName) works without the Secret");

        var example = KubernetesYaml.LoadAllFromString(File.ReadAllText(Repo.Path("deploy", "kubernetes", "storage-secret.example.yaml")), strict: true).OfType<V1Secret>().Single();
        Assert.That(example.Metadata.Name, Is.EqualTo(connection.ValueFrom.SecretKeyRef.Name));
        Assert.That(example.StringData[connection.ValueFrom.SecretKeyRef.Key], Is.EqualTo("<connection-string>"), "a placeholder, never a key");
        Assert.That(_objects.OfType<V1Secret>(), Is.Empty, "kustomization.yaml applies no Secret");
    }

    [Test]
    public void No_file_of_deploy_holds_a_key_or_a_connection_string()
    {
        var secretLike = new Regex(@"AccountKey=|SharedAccessSignature=|[?&]sig=|-----BEGIN [A-Z ]*PRIVATE KEY-----|DefaultEndpointsProtocol=https?;AccountName=\w+;AccountKey", RegexOptions.CultureInvariant);
        var files = new[] { "kubernetes", "bicep", "silo" }
            .SelectMany(folder => Directory.EnumerateFiles(Repo.Path("deploy", folder), "*", SearchOption.AllDirectories))
            .Append(Repo.Path("deploy", "README.md"))
            .ToList();
        Assert.That(files, Has.Count.GreaterThan(10));
        foreach (var file in files)
            Assert.That(secretLike.IsMatch(File.ReadAllText(file)), Is.False, file);
    }

    private Dictionary<string, string> Settings() => new(Single<V1ConfigMap>().Data, StringComparer.Ordinal);

    private T Single<T>() => _objects.OfType<T>().Single();

    private static V1Container Silo(V1Deployment deployment) => deployment.Spec.Template.Spec.Containers.Single(c => c.Name == "silo");

    private static Task<ProcessResult> ValidateAsync(string yaml) =>
        DeployTools.RunAsync("node", [Repo.Path("deploy", "kubernetes", "validate.mjs"), DeployTools.KubernetesModels()], yaml);

    /// <summary>The names of the Kubernetes client's <c>*NamespacedPod*</c> methods an assembly references.</summary>
    private static SortedSet<string> PodCallsOf(string assemblyPath)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var metadata = pe.GetMetadataReader();
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var handle in metadata.MemberReferences)
        {
            var name = metadata.GetString(metadata.GetMemberReference(handle).Name);
            if (name.Contains("NamespacedPod", StringComparison.Ordinal)) names.Add(name);
        }
        return names;
    }
}
