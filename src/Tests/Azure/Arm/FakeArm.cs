using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace TestGrid.Tests.Azure.Arm;

/// <summary>
/// A local Azure Resource Manager contract server for tests: the ARM operations TestGrid's Azure provider uses
/// (resource groups, generic network/compute resources, virtual machines with their long-running operations, Compute
/// usages and resource SKUs, boot diagnostics, tags), answered the way Azure's REST API documents them, over HTTPS on
/// 127.0.0.1 with a certificate made at start, so the real Azure SDK (<c>ArmClient</c>) can be pointed at it.
/// Every request needs an <c>Authorization: Bearer …</c> header (any token) and an <c>api-version</c> (any value).
/// <para>
/// Fake VMs are real: each VM whose create succeeds is a Docker container of the debian12-sshd image with its own
/// bridge address, sshd on port 22, and the VM's admin user (uid 0: the image has no sudo; a <c>sudo</c> stand-in
/// runs commands as is) logging in with the VM's public keys. Its boot diagnostics serial log carries the real host
/// key fingerprint in cloud-init's format. Containers are labelled with the server's instance id, removed with their
/// VM, resource group, or at <see cref="DisposeAsync"/>; a new server removes leftovers of servers that are gone.
/// </para>
/// </summary>
public sealed partial class FakeArm : IAsyncDisposable
{
    private const string GroupType = "Microsoft.Resources/resourceGroups";

    private readonly Lock _gate = new();
    private readonly FakeArmOptions _options;
    private readonly Dictionary<string, Entry> _resources = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, LroOperation> _operations = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<ArmRequest> _requests = [];
    private readonly Dictionary<string, FakeSku> _skus = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<(string Location, string Name), (string Name, int Limit, int Current)> _usages = [];
    private readonly Dictionary<string, VmBoot> _bootOverrides = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<Task> _background = [];
    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _containersGate = new(1, 1);
    private readonly X509Certificate2 _certificate;
    private WebApplication? _app;
    private VmContainers? _containers;
    private int _noContainerAddresses;
    private bool _disposed;

    private FakeArm(FakeArmOptions options, X509Certificate2 certificate, string certificatePath)
    {
        _options = options;
        _certificate = certificate;
        CaCertificatePath = certificatePath;
        SubscriptionId = options.SubscriptionId;
        foreach (var sku in FakeSku.Defaults) _skus[sku.Name] = sku;
    }

    /// <summary>Identifies this server's containers (label <c>testgrid.fake-arm</c>).</summary>
    public string InstanceId { get; } = Guid.NewGuid().ToString("N")[..12];

    /// <summary>The label every fake VM container carries, valued with <see cref="InstanceId"/>.</summary>
    public const string ContainerLabel = VmContainers.InstanceLabel;

    /// <summary>The image fake VM containers run, once Docker is in use.</summary>
    public string? ContainerImage => _containers?.Image;

    /// <summary>The ARM endpoint, <c>https://127.0.0.1:PORT/</c>.</summary>
    public Uri Endpoint { get; private set; } = null!;

    /// <summary>The one subscription served.</summary>
    public string SubscriptionId { get; }

    /// <summary>The server certificate as PEM: clients trust it as an extra root (it is its own CA).</summary>
    public string CaCertificatePath { get; }

    /// <summary>The injected faults.</summary>
    public FaultList Faults { get; } = new();

    /// <summary>Every request answered so far, oldest first.</summary>
    public IReadOnlyList<ArmRequest> Requests
    {
        get
        {
            lock (_gate) return [.. _requests];
        }
    }

    /// <summary>The resource groups and resources that exist now.</summary>
    public IReadOnlyList<ArmResource> Resources
    {
        get
        {
            lock (_gate)
            {
                return [.. _resources.Values.OrderBy(e => e.Created).Select(e => new ArmResource(
                    e.Id, e.Type, e.Name, e.ResourceGroup, e.Location, Json.Tags(e.Body), Json.Str(e.Body, "properties", "provisioningState")))];
            }
        }
    }

    /// <summary>The fake VMs that exist now.</summary>
    public IReadOnlyList<FakeVm> Vms
    {
        get
        {
            lock (_gate) return [.. _resources.Values.Where(e => e.Vm is not null).OrderBy(e => e.Created).Select(Describe)];
        }
    }

    /// <summary>Starts a server; it listens until disposed.</summary>
    public static async Task<FakeArm> StartAsync(FakeArmOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new FakeArmOptions();
        var certificate = TestCertificate.Create("TestGrid fake ARM");
        var arm = new FakeArm(options, certificate, TestCertificate.WritePem(certificate));
        try
        {
            if (options.VmBoot != VmBoot.NoContainer) await arm.ContainersAsync(cancellationToken);
            await arm.ListenAsync(cancellationToken);
            return arm;
        }
        catch
        {
            await arm.DisposeAsync();
            throw;
        }
    }

    /// <summary>Sets a Compute usage of a location: <c>cores</c> (the regional total) or a family such as <c>standardDSv5Family</c>. Live VMs add to <paramref name="currentValue"/>.</summary>
    public void SetUsage(string location, string quotaName, int limit, int currentValue)
    {
        ArgumentNullException.ThrowIfNull(quotaName);
        lock (_gate) _usages[(NormalizeLocation(location), quotaName.ToUpperInvariant())] = (quotaName, limit, currentValue);
    }

    /// <summary>Adds a SKU (or replaces the one of the same name).</summary>
    public void AddSku(FakeSku sku)
    {
        ArgumentNullException.ThrowIfNull(sku);
        lock (_gate) _skus[sku.Name] = sku;
    }

    /// <summary>The vCPUs of the VMs that exist (and did not fail) in <paramref name="location"/> of a family, or of every family for <c>cores</c>.</summary>
    public int RunningVcpus(string location, string family)
    {
        lock (_gate) return RunningVcpusLocked(NormalizeLocation(location), family);
    }

    /// <summary>Makes the VM named <paramref name="vmName"/> (created from now on) boot as <paramref name="boot"/> instead of the server's default.</summary>
    public void SetVmBoot(string vmName, VmBoot boot)
    {
        lock (_gate) _bootOverrides[vmName] = boot;
    }

    /// <summary>The VM named <paramref name="name"/> (in <paramref name="resourceGroup"/>, if given), or null.</summary>
    public FakeVm? Vm(string name, string? resourceGroup = null)
    {
        lock (_gate)
        {
            var entry = _resources.Values.FirstOrDefault(e => e.Vm is not null && e.Name.Equals(name, StringComparison.OrdinalIgnoreCase) &&
                                                              (resourceGroup is null || e.ResourceGroup.Equals(resourceGroup, StringComparison.OrdinalIgnoreCase)));
            return entry is null ? null : Describe(entry);
        }
    }

    /// <summary>The serial console log of the VM named <paramref name="name"/> as its boot diagnostics blob serves it, or null.</summary>
    public string? SerialLog(string name)
    {
        lock (_gate) return _resources.Values.FirstOrDefault(e => e.Vm is not null && e.Name.Equals(name, StringComparison.OrdinalIgnoreCase))?.Vm!.SerialLog;
    }

    /// <summary>How many fake VM containers the server instance <paramref name="instanceId"/> has in Docker now.</summary>
    public static Task<int> CountContainersAsync(string instanceId) => VmContainers.CountAsync(instanceId);

    /// <summary>Stops listening, removes every container of this server and forgets every resource.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        await _stopping.CancelAsync();
        Task[] background;
        lock (_gate) background = [.. _background];
        try
        {
            await Task.WhenAll(background);
        }
        catch (Exception)
        {
            // Boot and delete work that the cancellation cut short; the containers are removed below.
        }
        if (_containers is not null)
        {
            await _containers.RemoveAllAsync();
            _containers.Dispose();
        }
        lock (_gate)
        {
            _resources.Clear();
            _operations.Clear();
        }
        _stopping.Dispose();
        _containersGate.Dispose();
        _certificate.Dispose();
        File.Delete(CaCertificatePath);
    }

    private async Task ListenAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "TestGrid.FakeArm", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(new HttpsConnectionAdapterOptions { ServerCertificate = _certificate }));
        });
        var app = builder.Build();
        app.Run(HandleAsync);
        await app.StartAsync(cancellationToken);
        _app = app;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Endpoint = new Uri(new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal)), "/");
    }

    private async Task HandleAsync(HttpContext context)
    {
        var arrived = DateTimeOffset.UtcNow;
        var request = context.Request;
        var path = request.Path.Value ?? "/";
        ArmReply reply;
        try
        {
            reply = await DispatchAsync(context, path);
        }
        catch (ArmErrorException e)
        {
            reply = e.ToReply();
        }
        catch (JsonException e)
        {
            reply = ArmReply.Error(400, "InvalidRequestContent", $"The request content was invalid and could not be deserialized: '{e.Message}'.");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            reply = ArmReply.Error(500, "InternalServerError", $"The fake ARM server failed: {e}");
        }
        var record = new ArmRequest(request.Method, path, request.QueryString.Value ?? "", request.Query["api-version"].FirstOrDefault(),
            reply.Status, arrived, reply.ErrorCode, reply.Headers.GetValueOrDefault("Retry-After"));
        lock (_gate) _requests.Add(record);
        try
        {
            await reply.WriteAsync(context);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The client went away.
        }
    }

    private async Task<ArmReply> DispatchAsync(HttpContext context, string path)
    {
        var method = context.Request.Method.ToUpperInvariant();
        if (path.StartsWith("/blobs/", StringComparison.OrdinalIgnoreCase))
            return Blob(context, path);

        var authorization = context.Request.Headers.Authorization.FirstOrDefault();
        if (authorization is null || !authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || authorization.Length <= "Bearer ".Length)
        {
            return ArmReply.Error(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
                .With("WWW-Authenticate", "Bearer authorization_uri=\"https://login.microsoftonline.com/common\", error=\"invalid_token\", error_description=\"The authentication failed because of missing 'Authorization' header.\"");
        }

        if (Faults.Take(method, path) is { } fault)
        {
            var faulted = ArmReply.Error(fault.Status, fault.ErrorCode, fault.ErrorMessage);
            if (fault.RetryAfterSeconds is { } after) faulted.With("Retry-After", after.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return faulted;
        }

        if (string.IsNullOrEmpty(context.Request.Query["api-version"].FirstOrDefault()))
            return ArmReply.Error(400, "MissingApiVersionParameter", "The api-version query parameter (?api-version=) is required for all requests.");

        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length == 0 || !Is(segments[0], "subscriptions"))
            return NoRoute(path);
        if (segments.Length == 1)
            return method == "GET" ? ArmReply.Of(200, new JsonObject { ["value"] = Json.Array([SubscriptionBody()]) }) : MethodNotAllowed(method);
        if (!segments[1].Equals(SubscriptionId, StringComparison.OrdinalIgnoreCase))
            return ArmReply.Error(404, "SubscriptionNotFound", $"The subscription '{segments[1]}' could not be found.");
        if (segments.Length == 2)
            return method == "GET" ? ArmReply.Of(200, SubscriptionBody()) : MethodNotAllowed(method);

        if (segments.Length >= 4 && Is(segments[^4], "providers") && Is(segments[^3], "Microsoft.Resources") && Is(segments[^2], "tags") && Is(segments[^1], "default"))
            return await TagsAsync(context, method, segments[..^4]);

        var body = method is "PUT" or "PATCH" or "POST" ? await ReadBodyAsync(context) : null;
        return Route(context, method, path, segments, body);
    }

    private ArmReply Route(HttpContext context, string method, string path, string[] segments, JsonObject? body)
    {
        var kind = segments[2];
        if (Is(kind, "resourcegroups"))
        {
            if (segments.Length == 3) return method == "GET" ? ListGroups(context) : MethodNotAllowed(method);
            var group = segments[3];
            if (segments.Length == 4) return ResourceGroup(context, method, group, body);
            if (segments.Length == 5 && Is(segments[4], "resources")) return method == "GET" ? ListResources(context, group) : MethodNotAllowed(method);
            if (segments.Length >= 7 && Is(segments[4], "providers")) return Resource(context, method, group, segments[5..], body);
            return NoRoute(path);
        }
        if (Is(kind, "resources") && segments.Length == 3)
            return method == "GET" ? ListResources(context, null) : MethodNotAllowed(method);
        if (Is(kind, "operationresults") && segments.Length == 4)
            return method == "GET" ? GroupOperation(context, segments[3]) : MethodNotAllowed(method);
        if (Is(kind, "providers"))
        {
            if (method != "GET") return MethodNotAllowed(method);
            if (segments.Length == 3) return ArmReply.Of(200, new JsonObject { ["value"] = Json.Array(Providers.Keys.Select(n => (JsonNode?)ProviderBody(n))) });
            var ns = segments[3];
            if (segments.Length == 4) return Providers.ContainsKey(ns) ? ArmReply.Of(200, ProviderBody(ns)) : ArmReply.Error(404, "InvalidResourceNamespace", $"The resource namespace '{ns}' is invalid.");
            if (Is(ns, "Microsoft.Compute"))
            {
                if (segments.Length == 5 && Is(segments[4], "skus")) return Skus(context);
                if (segments.Length == 5 && Is(segments[4], "virtualMachines")) return ListOfType(context, null, "Microsoft.Compute/virtualMachines");
                if (segments.Length == 7 && Is(segments[4], "locations") && Is(segments[6], "usages")) return Usages(segments[5]);
                if (segments.Length == 8 && Is(segments[4], "locations") && Is(segments[6], "operations")) return ComputeOperation(context, segments[7]);
            }
        }
        return NoRoute(path);
    }

    private static async Task<JsonObject?> ReadBodyAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body);
        var text = await reader.ReadToEndAsync();
        if (string.IsNullOrWhiteSpace(text)) return null;
        return JsonNode.Parse(text) as JsonObject
               ?? throw new ArmErrorException(400, "InvalidRequestContent", "The request content must be a JSON object.");
    }

    private static bool Is(string segment, string name) => segment.Equals(name, StringComparison.OrdinalIgnoreCase);

    private static ArmReply NoRoute(string path) =>
        ArmReply.Error(404, "InvalidResourceType", $"The fake ARM server does not implement '{path}'.");

    private static ArmReply MethodNotAllowed(string method) =>
        ArmReply.Error(405, "MethodNotAllowed", $"The requested resource does not support http method '{method}'.");

    /// <summary>Azure's location names: lower case, no spaces (<c>East US</c> → <c>eastus</c>).</summary>
    internal static string NormalizeLocation(string? location) =>
        new string((location ?? "").Where(c => !char.IsWhiteSpace(c)).ToArray()).ToLowerInvariant();

    private string Url(string pathAndQuery) => new Uri(Endpoint, pathAndQuery).AbsoluteUri;

    private string RetryAfter => _options.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private void Track(Task task)
    {
        lock (_gate)
        {
            _background.RemoveAll(t => t.IsCompleted);
            _background.Add(task);
        }
    }

    private async Task<VmContainers> ContainersAsync(CancellationToken cancellationToken)
    {
        await _containersGate.WaitAsync(cancellationToken);
        try
        {
            return _containers ??= await VmContainers.StartAsync(InstanceId, _options.Image, cancellationToken);
        }
        finally
        {
            _containersGate.Release();
        }
    }

    /// <summary>A resource group or resource the server holds.</summary>
    private sealed class Entry
    {
        public required string Id { get; init; }
        public required string Type { get; init; }
        public required string Name { get; init; }
        public required string ResourceGroup { get; init; }
        public required string Location { get; init; }
        public required JsonObject Body { get; set; }
        public DateTimeOffset Created { get; } = DateTimeOffset.UtcNow;
        public DateTimeOffset Changed { get; set; } = DateTimeOffset.UtcNow;
        public VmState? Vm { get; set; }

        /// <summary>The running delete of a resource group.</summary>
        public string? DeleteOperation { get; set; }

        public bool IsGroup => Type == GroupType;

        public JsonObject Properties => Json.Ensure(Body, "properties");

        public string? ProvisioningState
        {
            get => Json.Str(Body, "properties", "provisioningState");
            set => Properties["provisioningState"] = value;
        }
    }
}
