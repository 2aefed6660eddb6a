using TestGrid.Input;
using TestGrid.Inventory;
using TestGrid.Suites;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Unit;

/// <summary>Suite folders and inventories: the other inputs, validated the same way as the matrix.</summary>
[TestFixture]
public sealed class InputFileTests
{
    [Test]
    public void A_suite_hash_covers_every_file_and_ignores_file_modes()
    {
        using var workspace = new Workspace();
        workspace.Suite("s", new TestScript("a", "echo a"));
        var first = SuiteLoader.Load(workspace.Path("suites"), "suites", "s");
        File.SetUnixFileMode(workspace.Path("suites", "s", "a.sh"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Assert.That(SuiteLoader.Load(workspace.Path("suites"), "suites", "s").Suite.ContentHash, Is.EqualTo(first.Suite.ContentHash));
        workspace.Write("suites/s/data.txt", "x");
        var second = SuiteLoader.Load(workspace.Path("suites"), "suites", "s");
        Assert.That(second.Suite.ContentHash, Is.Not.EqualTo(first.Suite.ContentHash));
        Assert.That(second.Files.Select(f => f.Path), Is.EqualTo(new[] { "a.sh", "data.txt", "suite.json" }));
    }

    [Test]
    public void A_suite_rejects_duplicate_tests_and_missing_scripts_with_their_paths()
    {
        using var workspace = new Workspace();
        workspace.Write("suites/s/suite.json", """
            { "tests": [
                { "id": "a", "script": "a.sh", "timeoutSeconds": 5 },
                { "id": "a", "script": "missing.sh", "timeoutSeconds": 5 }
            ] }
            """);
        workspace.Write("suites/s/a.sh", "#!/bin/sh\n");
        var errors = Assert.Throws<InputException>(() => SuiteLoader.Load(workspace.Path("suites"), "suites", "s"))!.Errors;
        Assert.That(errors.Select(e => (e.File, e.Path, e.Line)), Is.EquivalentTo(new[]
        {
            ("suites/s/suite.json", "$.tests[1].id", (int?)3),
            ("suites/s/suite.json", "$.tests[1].script", (int?)3),
        }));
    }

    [TestCase("""{ "id": "a", "script": "a.sh", "check": "console", "timeoutSeconds": 5 }""", "$.tests[0]", "expected exactly one of script", TestName = "A suite test with both a script and a check is refused")]
    [TestCase("""{ "id": "a", "timeoutSeconds": 5 }""", "$.tests[0]", "expected exactly one of script", TestName = "A suite test with neither a script nor a check is refused")]
    [TestCase("""{ "id": "a", "check": "dmesg", "timeoutSeconds": 5 }""", "$.tests[0].check", "expected one of \"console\", \"boot-thresholds\"", TestName = "A suite test naming an unknown check is refused")]
    public void A_suite_test_is_a_script_or_a_runner_check(string test, string path, string message)
    {
        using var workspace = new Workspace();
        workspace.Write("suites/s/suite.json", $$"""{ "tests": [ {{test}} ] }""");
        workspace.Write("suites/s/a.sh", "#!/bin/sh\n");
        var errors = Assert.Throws<InputException>(() => SuiteLoader.Load(workspace.Path("suites"), "suites", "s"))!.Errors;
        Assert.That(errors, Has.Some.Matches<InputError>(e => e.Path == path && e.Message.Contains(message, StringComparison.Ordinal)), string.Join("\n", errors));
    }

    [Test]
    public void A_suite_test_defaults_to_blocking_without_requirements()
    {
        using var workspace = new Workspace();
        workspace.Suite("s", new TestScript("a", "echo a"));
        var test = SuiteLoader.Load(workspace.Path("suites"), "suites", "s").Suite.Tests.Single();
        Assert.That((test.Blocking, test.Requires.Arch.Count, test.Timeout), Is.EqualTo((true, 0, TimeSpan.FromSeconds(30))));
    }

    [TestCase("x64", "debian", "static", 2, null, TestName = "Requirements: a matching cell runs the test")]
    [TestCase("arm64", "debian", "static", 2, "requires arch x64; this cell is arm64", TestName = "Requirements: another arch skips with the reason")]
    [TestCase("x64", "acl", "static", 2, "requires family debian or azurelinux; this image is acl", TestName = "Requirements: another family skips with the reason")]
    [TestCase("x64", "debian", "qemu", 2, "requires provider static; this cell runs on qemu", TestName = "Requirements: another provider skips with the reason")]
    [TestCase("x64", "debian", "static", 1, "requires at least 2 vCPUs; this SKU has 1", TestName = "Requirements: too few vCPUs skips with the reason")]
    public void Requirements_say_why_a_test_does_not_apply(string arch, string family, string provider, int vcpus, string? reason)
    {
        var requirements = new Requirements([Matrix.Arch.X64], ["debian", "azurelinux"], ["static"], 2);
        Assert.That(requirements.Unmet(arch == "x64" ? Matrix.Arch.X64 : Matrix.Arch.Arm64, family, provider, vcpus), Is.EqualTo(reason));
    }

    [Test]
    public void An_inventory_resolves_keys_beside_it_and_defaults_the_port()
    {
        using var workspace = new Workspace();
        workspace.Write("keys/h1", "not checked here");
        var path = workspace.Write("hosts.json", """{ "hosts": [ { "name": "h1", "address": "10.0.0.5", "user": "root", "privateKey": "keys/h1", "hostKey": "SHA256:sU/1d+u39lz87L0C4BMhUpU4L3RyOv6wVAN+IJrKp24", "arch": "x64", "sku": "D2s_v5" } ] }""");
        var host = InventoryLoader.Load(path).Hosts.Single();
        Assert.That((host.Port, host.PrivateKey, host.Endpoint), Is.EqualTo((22, workspace.Path("keys", "h1"), "10.0.0.5:22")));
    }

    [TestCase("""{ "hosts": [ { "name": "h1", "address": "a", "user": "root", "privateKey": "k", "hostKey": "MD5:00:11", "arch": "x64", "sku": "s" } ] }""", "$.hosts[0].hostKey", "pinned host key fingerprint", TestName = "Inventory: rejects a host key that is not a SHA256 fingerprint")]
    [TestCase("""{ "hosts": [ { "name": "h1", "address": "a", "user": "root", "hostKey": "SHA256:sU/1d+u39lz87L0C4BMhUpU4L3RyOv6wVAN+IJrKp24", "arch": "x64", "sku": "s" } ] }""", "$.hosts[0].privateKey", "required field is missing", TestName = "Inventory: rejects a host without a key")]
    [TestCase("""{ "hosts": [ { "name": "h1", "address": "a", "user": "root", "privateKey": "nokey", "hostKey": "SHA256:sU/1d+u39lz87L0C4BMhUpU4L3RyOv6wVAN+IJrKp24", "arch": "x64", "sku": "s" } ] }""", "$.hosts[0].privateKey", "'nokey' does not exist", TestName = "Inventory: rejects a key file that does not exist")]
    [TestCase("""{ "hosts": [ { "name": "h1", "address": "a", "port": 70000, "user": "root", "privateKey": "k", "hostKey": "SHA256:sU/1d+u39lz87L0C4BMhUpU4L3RyOv6wVAN+IJrKp24", "arch": "x64", "sku": "s" } ] }""", "$.hosts[0].port", "expected a number ≤ 65535", TestName = "Inventory: rejects a port out of range")]
    [TestCase("""{ "hosts": [] }""", "$.hosts", "must not be empty", TestName = "Inventory: rejects an empty host list")]
    public void An_inventory_is_validated_with_paths(string json, string path, string message)
    {
        using var workspace = new Workspace();
        workspace.Write("k", "key");
        var file = workspace.Write("hosts.json", json);
        var errors = Assert.Throws<InputException>(() => InventoryLoader.Load(file))!.Errors;
        Assert.That(errors, Has.Some.Matches<InputError>(e => e.File == file && e.Path == path && e.Message.Contains(message, StringComparison.Ordinal)), string.Join("\n", errors));
    }
}
