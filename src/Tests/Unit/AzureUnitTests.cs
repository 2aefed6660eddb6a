using System.Text.Json;
using Azure;
using TestGrid.Azure;
using TestGrid.Input;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Unit;

/// <summary>The Azure provider's pure parts: fault classification, Retry-After, tags, and azure.json validation.</summary>
public sealed class AzureUnitTests
{
    [TestCase(429, "TooManyRequests", AzureFaultClass.Throttled)]
    [TestCase(500, "InternalServerError", AzureFaultClass.Transient)]
    [TestCase(503, null, AzureFaultClass.Transient)]
    [TestCase(409, "QuotaExceeded", AzureFaultClass.Quota)]
    [TestCase(200, "ZonalAllocationFailed", AzureFaultClass.Allocation)]
    [TestCase(200, "AllocationFailed", AzureFaultClass.Allocation)]
    [TestCase(409, "OverconstrainedAllocationRequest", AzureFaultClass.Allocation)]
    [TestCase(409, "SkuNotAvailable", AzureFaultClass.SkuNotAvailable)]
    [TestCase(404, "PlatformImageNotFound", AzureFaultClass.Image)]
    [TestCase(403, "AuthorizationFailed", AzureFaultClass.Auth)]
    [TestCase(404, "ResourceNotFound", AzureFaultClass.NotFound)]
    [TestCase(400, "InvalidParameter", AzureFaultClass.Other)]
    public void Faults_are_classified_by_status_and_code(int status, string? code, AzureFaultClass expected) =>
        Assert.That(AzureFaults.Classify(new RequestFailedException(status, "message", code, null)), Is.EqualTo(expected));

    [Test]
    public void Only_throttling_and_transient_faults_are_retried_and_permanent_kinds_end_the_cell()
    {
        Assert.That(AzureFaults.IsRetryable(new RequestFailedException(429, "m", "TooManyRequests", null)), Is.True);
        Assert.That(AzureFaults.IsRetryable(new RequestFailedException(409, "m", "QuotaExceeded", null)), Is.False);
        Assert.That(Provision.ProvisionException.IsPermanent(AzureFaults.Kind(AzureFaultClass.SkuNotAvailable)), Is.True);
        Assert.That(Provision.ProvisionException.IsPermanent(AzureFaults.Kind(AzureFaultClass.Allocation)), Is.False);
    }

    [Test]
    public void Descriptions_carry_status_and_code_but_never_the_request()
    {
        var e = new RequestFailedException(409, "Operation results in exceeding quota limits of Core.\nStatus: 409\nHeaders: x-ms-sig: secret", "QuotaExceeded", null);
        Assert.That(AzureFaults.Describe(e), Is.EqualTo("409 QuotaExceeded: Operation results in exceeding quota limits of Core."));
    }

    [Test]
    public void Tags_round_trip_their_expiry()
    {
        var at = new DateTimeOffset(2026, 11, 25, 22, 0, 0, TimeSpan.Zero);
        var tags = AzureTags.For("run", "cell", "attempt", "me", at);
        Assert.That(tags[AzureTags.ExpiresAt], Is.EqualTo("2026-11-25T22:00:00Z"));
        Assert.That(AzureTags.Expiry(tags), Is.EqualTo(at));
        Assert.That(AzureTags.Expiry(new Dictionary<string, string> { [AzureTags.ExpiresAt] = "soon" }), Is.Null, "an unparsable expiry is never treated as expired");
    }

    [Test]
    public void An_azure_configuration_gets_errors_naming_file_path_and_expectation()
    {
        using var workspace = new Workspace();
        var path = workspace.Write("azure.json", """
            {
              "subscriptionId": "not-a-guid",
              "network": "public",
              "caCertificate": "missing.pem",
              "adminUser": "Root"
            }
            """);
        var errors = Assert.Throws<InputException>(() => AzureSettingsLoader.Load(path))!.Errors;
        Assert.That(errors.Select(e => $"{e.Path}: {e.Message}"), Has.Some.StartWith("$.subscriptionId: expected a subscription id (a GUID)")
            .And.Some.StartWith("$.adminUser: expected a Linux user name"));
        Assert.That(errors.All(e => e.File.EndsWith("azure.json", StringComparison.Ordinal) && e.Line is not null), Is.True);

        workspace.Write("azure.json", """{ "subscriptionId": "0b5c6a1e-7f3d-4e2a-9c41-5a7d0f1e2b3c", "network": "public", "caCertificate": "missing.pem" }""");
        errors = Assert.Throws<InputException>(() => AzureSettingsLoader.Load(path))!.Errors;
        Assert.That(errors.Select(e => $"{e.Path}: {e.Message}"), Is.EquivalentTo(new[]
        {
            "$.network: expected \"sshSource\" with public networking: the runner's egress address as a CIDR, the only source SSH is opened to",
            "$.caCertificate: expected a PEM certificate file, but 'missing.pem' does not exist",
        }));
    }

    [Test]
    public void The_example_configuration_is_valid()
    {
        var settings = AzureSettingsLoader.Load(Repo.Path("deploy", "azure", "azure.example.json"));
        Assert.That((settings.Network, settings.AdminUser, settings.Zones), Is.EqualTo(("public", "testgrid", true)));
        Assert.That(JsonSerializer.Serialize(settings, TestGridJsonContext.Default.AzureSettings), Does.Not.Contain("secret"));
    }
}
