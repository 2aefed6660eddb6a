using System.Text.Json.Nodes;
using TestGrid.Input;
using TestGrid.Matrix;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Unit;

/// <summary>
/// Malformed matrices (and the files they name): each is rejected with an error naming the file, the JSON path and
/// what was expected. The base matrix is valid; every case changes one thing.
/// </summary>
[TestFixture]
public sealed class MatrixValidationTests
{
    private const string SuiteJson = """{ "tests": [ { "id": "kernel", "script": "kernel.sh", "timeoutSeconds": 30 }, { "id": "disk", "script": "disk.sh", "timeoutSeconds": 30 } ] }""";

    private static JsonObject Base() => (JsonObject)JsonNode.Parse("""
        {
          "name": "release-4.0",
          "images": [
            { "id": "al4-x64", "family": "azurelinux", "arch": "x64", "version": "4.0", "sources": { "static": {}, "qemu": { "disk": "al4.qcow2", "kernel": "vmlinuz", "initrd": "initrd.img" } } },
            { "id": "al4-arm64", "family": "azurelinux", "arch": "arm64", "sources": { "azure": { "marketplaceUrn": "microsoftcblmariner:azure-linux-4:4-gen2-arm64:latest" } } }
          ],
          "skuDefinitions": [
            { "name": "Standard_D2s_v5", "arch": "x64", "vcpus": 2, "memoryGiB": 8 },
            { "name": "Standard_D2ps_v6", "arch": "arm64", "vcpus": 2, "memoryGiB": 8 }
          ],
          "skus": ["Standard_D2s_v5", "Standard_D2ps_v6"],
          "regions": ["eastus2", "westeurope"],
          "suites": ["smoke"],
          "exclude": [ { "image": "al4-*", "region": "westeurope" } ],
          "policy": { "advisory": ["smoke/disk"] }
        }
        """)!;

    private static IEnumerable<TestCaseData> Cases()
    {
        TestCaseData Case(string name, Action<JsonObject> change, string path, string message, string file = "matrix.json") =>
            new TestCaseData(change, file, path, message).SetName($"Rejects {name}");

        yield return Case("an unknown top-level field", m => m["imagez"] = new JsonArray(), "$.imagez", "unknown field 'imagez'; expected one of: name, description, images");
        yield return Case("a missing name", m => m.Remove("name"), "$.name", "required field is missing");
        yield return Case("a name of the wrong type", m => m["name"] = 42, "$.name", "expected a string, got 42");
        yield return Case("a name with spaces", m => m["name"] = "release 4", "$.name", "expected a name of letters, digits");
        yield return Case("a missing images axis", m => m.Remove("images"), "$.images", "required field is missing");
        yield return Case("an empty images axis", m => m["images"] = new JsonArray(), "$.images", "must not be empty");
        yield return Case("images as an object", m => m["images"] = new JsonObject(), "$.images", "expected an array, got an object");
        yield return Case("an image without arch", m => Image(m, 0).Remove("arch"), "$.images[0].arch", "required field is missing");
        yield return Case("an unknown arch", m => Image(m, 0)["arch"] = "amd64", "$.images[0].arch", "expected one of \"x64\", \"arm64\", got \"amd64\"");
        yield return Case("an unknown image field", m => Image(m, 1)["os"] = "linux", "$.images[1].os", "unknown field 'os'");
        yield return Case("an image id with spaces", m => Image(m, 0)["id"] = "al 4", "$.images[0].id", "expected an id of letters");
        yield return Case("a duplicate image id", m => Image(m, 1)["id"] = "al4-x64", "$.images[1].id", "duplicate image id 'al4-x64' (first at $.images[0])");
        yield return Case("an image without any source", m => Image(m, 0)["sources"] = new JsonObject(), "$.images[0].sources", "must not be empty");
        yield return Case("an unknown provider source", m => Image(m, 0)["sources"]!["vmware"] = new JsonObject(), "$.images[0].sources.vmware", "unknown field 'vmware'; expected one of: static, qemu, azure");
        yield return Case("a malformed image digest", m => Image(m, 0)["sources"]!["qemu"]!["sha256"] = "abc", "$.images[0].sources.qemu.sha256", "expected 64 lowercase hex digits, got \"abc\"");
        yield return Case("a malformed marketplace URN", m => Image(m, 1)["sources"]!["azure"]!["marketplaceUrn"] = "canonical", "$.images[1].sources.azure.marketplaceUrn", "expected publisher:offer:sku:version");
        yield return Case("an empty SKU axis", m => m["skus"] = new JsonArray(), "$.skus", "must not be empty");
        yield return Case("SKUs as a string", m => m["skus"] = "Standard_D2s_v5", "$.skus", "expected an array, got \"Standard_D2s_v5\"");
        yield return Case("an unknown SKU", m => m["skus"]!.AsArray().Add("Standard_X9"), "$.skus[2]", "unknown SKU 'Standard_X9': expected a SKU defined in skuDefinitions");
        yield return Case("a duplicate SKU", m => m["skus"]!.AsArray().Add("Standard_D2s_v5"), "$.skus[2]", "duplicate SKU 'Standard_D2s_v5' (first at $.skus[0])");
        yield return Case("a SKU with no vCPUs", m => m["skuDefinitions"]![0]!["vcpus"] = 0, "$.skuDefinitions[0].vcpus", "expected a number ≥ 1, got 0");
        yield return Case("SKU memory as text", m => m["skuDefinitions"]![1]!["memoryGiB"] = "8", "$.skuDefinitions[1].memoryGiB", "expected a number, got \"8\"");
        yield return Case("a SKU definition without arch", m => m["skuDefinitions"]![0]!.AsObject().Remove("arch"), "$.skuDefinitions[0].arch", "required field is missing");
        yield return Case("a duplicate SKU definition", m => m["skuDefinitions"]![1]!["name"] = "Standard_D2s_v5", "$.skuDefinitions[1].name", "duplicate SKU definition");
        yield return Case("a missing SKU catalog file", m => m["skuCatalog"] = "skus/azure.json", "$.skuCatalog", "'skus/azure.json' does not exist");
        yield return Case("an invalid SKU catalog", m => m["skuCatalog"] = "catalog-bad.json", "$.skus[0].arch", "expected one of \"x64\", \"arm64\", got \"x86\"", file: "catalog-bad.json");
        yield return Case("an empty region axis", m => m["regions"] = new JsonArray(), "$.regions", "must not be empty");
        yield return Case("an upper-case region", m => m["regions"]![0] = "EastUS2", "$.regions[0]", "expected a region name in lowercase");
        yield return Case("a duplicate region", m => m["regions"]!.AsArray().Add("eastus2"), "$.regions[2]", "duplicate region 'eastus2'");
        yield return Case("an empty suite list", m => m["suites"] = new JsonArray(), "$.suites", "must not be empty");
        yield return Case("an unknown suite", m => m["suites"]!.AsArray().Add("nope"), "$.suites[1]", "/suites/nope/suite.json; suites found: broken, smoke");
        yield return Case("a duplicate suite", m => m["suites"]!.AsArray().Add("smoke"), "$.suites[1]", "duplicate suite 'smoke'");
        yield return Case("an empty include rule", m => m["include"] = new JsonArray(new JsonObject()), "$.include[0]", "must not be empty: expected at least one of image, sku, region");
        yield return Case("an unknown rule field", m => m["exclude"]![0]!["arch"] = "x64", "$.exclude[0].arch", "unknown field 'arch'; expected one of: image, sku, region");
        yield return Case("a rule naming no image", m => m["exclude"]![0]!["image"] = "fedora", "$.exclude[0].image", "'fedora' matches no image of the matrix; expected one of: al4-x64, al4-arm64");
        yield return Case("a rule glob matching no SKU", m => m["include"] = new JsonArray(new JsonObject { ["sku"] = "Standard_E*" }), "$.include[0].sku", "'Standard_E*' matches no SKU");
        yield return Case("a rule naming no region", m => m["exclude"]![0]!["region"] = "mars", "$.exclude[0].region", "'mars' matches no region");
        yield return Case("a rule that is not an object", m => m["exclude"]![0] = "al4-x64", "$.exclude[0]", "expected an object, got \"al4-x64\"");
        yield return Case("a policy naming an unknown suite", m => m["policy"]!["advisory"] = new JsonArray("boot"), "$.policy.advisory[0]", "unknown suite 'boot'");
        yield return Case("a policy naming an unknown test", m => m["policy"]!["blocking"] = new JsonArray("smoke/ntp"), "$.policy.blocking[0]", "unknown test 'ntp' in suite 'smoke': expected one of: kernel, disk");
        yield return Case("a malformed policy selector", m => m["policy"]!["blocking"] = new JsonArray("Smoke Tests"), "$.policy.blocking[0]", "expected a selector 'suite' or 'suite/test'");
        yield return Case("negative retries", m => m["policy"]!["infrastructureRetries"] = -1, "$.policy.infrastructureRetries", "expected a number ≥ 0, got -1");
        yield return Case("a threshold without its limit", m => m["policy"]!["thresholds"] = new JsonArray(new JsonObject { ["metric"] = "boot.ssh_login" }), "$.policy.thresholds[0].max", "required field is missing");
        yield return Case("a threshold for an unknown arch", m => m["policy"]!["thresholds"] = new JsonArray(new JsonObject { ["metric"] = "boot.ssh_login", ["max"] = 60, ["arch"] = "riscv64" }), "$.policy.thresholds[0].arch", "expected one of \"x64\", \"arm64\"");
        yield return Case("a qemu source with an unknown field", m => Image(m, 0)["sources"]!["qemu"]!["path"] = "x.qcow2", "$.images[0].sources.qemu.path", "unknown field 'path'; expected one of: recipe, disk, kernel, initrd, append, kernelArgs, sha256");
        yield return Case("a tier naming an unknown suite", m => m["policy"]!["tiers"] = new JsonArray(new JsonObject { ["name"] = "smoke", ["suites"] = new JsonArray("smoke", "full") }),
            "$.policy.tiers[0].suites[1]", "unknown suite 'full': expected one of the matrix's suites: smoke");
        yield return Case("a suite in two tiers", m => m["policy"]!["tiers"] = new JsonArray(
                new JsonObject { ["name"] = "first", ["suites"] = new JsonArray("smoke") }, new JsonObject { ["name"] = "second", ["suites"] = new JsonArray("smoke") }),
            "$.policy.tiers[1].suites[0]", "suite 'smoke' is already in tier 'first'");
        yield return Case("a boot-time limit without a limit", m => m["policy"]!["bootTimes"] = new JsonArray(new JsonObject { ["metric"] = "boot.ssh_login", ["family"] = "azurelinux" }),
            "$.policy.bootTimes[0]", "expected a limit: p50, p95 or both");
        yield return Case("flake reruns out of range", m => m["policy"]!["flakes"] = new JsonObject { ["reruns"] = 9 }, "$.policy.flakes.reruns", "expected a number ≤ 5, got 9");
        yield return Case("a rerun machine that is neither fresh nor same", m => m["policy"]!["flakes"] = new JsonObject { ["machine"] = "any" },
            "$.policy.flakes.machine", "expected one of \"fresh\", \"same\", got \"any\"");
        yield return Case("a quarantine of an unknown test", m => m["policy"]!["quarantine"] = new JsonArray(new JsonObject { ["test"] = "smoke/ntp", ["reason"] = "flaky", ["until"] = "2026-12-31" }),
            "$.policy.quarantine[0].test", "unknown test 'ntp' in suite 'smoke'");
        yield return Case("a quarantine without an expiry", m => m["policy"]!["quarantine"] = new JsonArray(new JsonObject { ["test"] = "smoke/disk", ["reason"] = "flaky" }),
            "$.policy.quarantine[0].until", "required field is missing");
        yield return Case("a quarantine expiry that is not a date", m => m["policy"]!["quarantine"] = new JsonArray(new JsonObject { ["test"] = "smoke/disk", ["reason"] = "flaky", ["until"] = "next week" }),
            "$.policy.quarantine[0].until", "expected a date YYYY-MM-DD");
        yield return Case("a waiver without who accepted it", m => m["policy"]!["waivers"] = new JsonArray(new JsonObject { ["test"] = "smoke/disk", ["reason"] = "known", ["until"] = "2026-12-31" }),
            "$.policy.waivers[0].by", "required field is missing");
        yield return Case("a waiver scope with an unknown field", m => m["policy"]!["waivers"] = new JsonArray(new JsonObject
            {
                ["test"] = "smoke/disk", ["reason"] = "known", ["by"] = "rm", ["until"] = "2026-12-31", ["scope"] = new JsonObject { ["zone"] = "1" },
            }), "$.policy.waivers[0].scope.zone", "unknown field 'zone'; expected one of: cell, image, sku, region, family, arch");
        yield return Case("both an inline policy and a policy file", m => m["policyFile"] = "policy.json", "$.policyFile", "expected either an inline 'policy' or a 'policyFile', not both");
        yield return Case("a missing policy file", m => { m.Remove("policy"); m["policyFile"] = "release.json"; }, "$.policyFile", "'release.json' does not exist next to the matrix");
        yield return Case("an invalid policy file", m => { m.Remove("policy"); m["policyFile"] = "policy-bad.json"; }, "$.waivers[0].test", "unknown suite 'boot'", file: "policy-bad.json");
        yield return Case("a suite.json with a missing timeout", m => { m["suites"] = new JsonArray("broken"); m.Remove("policy"); }, "$.tests[0].timeoutSeconds", "required field is missing", file: "suites/broken/suite.json");
    }

    [TestCaseSource(nameof(Cases))]
    public void Rejects_with_file_path_and_expectation(Action<JsonObject> change, string file, string path, string message)
    {
        using var workspace = Workspace();
        var matrix = Base();
        change(matrix);
        var matrixPath = workspace.WriteJson("matrix.json", matrix);

        var error = Assert.Throws<InputException>(() => MatrixLoader.Load(matrixPath))!;

        TestContext.Out.WriteLine(error.Message);
        Assert.That(error.Errors, Has.Some.Matches<InputError>(e =>
            e.File == workspace.Path(file) && e.Path == path && e.Message.Contains(message, StringComparison.Ordinal)),
            $"expected {workspace.Path(file)}: {path}: …{message}…, got:\n{error.Message}");
    }

    [Test]
    public void Accepts_the_base_matrix()
    {
        using var workspace = Workspace();
        var loaded = MatrixLoader.Load(workspace.WriteJson("matrix.json", Base()));
        Assert.That(loaded.Skus.Keys, Is.EquivalentTo(new[] { "Standard_D2s_v5", "Standard_D2ps_v6" }));
        Assert.That(loaded.Suites["smoke"].Suite.Tests.Select(t => t.Id), Is.EqualTo(new[] { "kernel", "disk" }));
    }

    [Test]
    public void Reads_the_policy_from_the_file_the_matrix_names()
    {
        using var workspace = Workspace();
        workspace.Write("release-policy.json", """
            { "advisory": ["smoke/disk"], "tiers": [ { "name": "smoke", "suites": ["smoke"] } ], "flakes": { "reruns": 2, "machine": "same" },
              "quarantine": [ { "test": "smoke/kernel", "reason": "bug", "until": "2026-12-31", "bug": "https://bugs.example/1", "scope": { "arch": "arm64" } } ] }
            """);
        var matrix = Base();
        matrix.Remove("policy");
        matrix["policyFile"] = "release-policy.json";

        var policy = MatrixLoader.Load(workspace.WriteJson("matrix.json", matrix)).Definition.Policy;

        Assert.That(policy.IsBlocking("smoke", "disk", declared: true), Is.False);
        Assert.That((policy.Flakes.Reruns, policy.Flakes.Machine), Is.EqualTo((2, RerunMachine.Same)));
        Assert.That(policy.Quarantine.Single(), Is.EqualTo(new Exemption("smoke/kernel", "bug", new DateOnly(2026, 12, 31), "https://bugs.example/1", Scope: new CellScope(Arch: Arch.Arm64))));
        Assert.That(policy.TierOf("smoke"), Is.EqualTo(0));
    }

    [Test]
    public void Rejects_text_that_is_not_JSON_with_its_line()
    {
        using var workspace = Workspace();
        var path = workspace.Write("matrix.json", "{\n  \"name\": \"x\",\n  \"images\": [\n    { \"id\": 'single' }\n  ]\n}\n");
        var error = Assert.Throws<InputException>(() => MatrixLoader.Load(path))!.Errors.Single();
        Assert.That((error.File, error.Path, error.Line), Is.EqualTo((path, "$", 4)));
        Assert.That(error.Message, Does.StartWith("not valid JSON"));
    }

    [Test]
    public void Rejects_a_document_that_is_not_an_object()
    {
        using var workspace = Workspace();
        var path = workspace.Write("matrix.json", "[1, 2]");
        var error = Assert.Throws<InputException>(() => MatrixLoader.Load(path))!.Errors.Single();
        Assert.That((error.Path, error.Message), Is.EqualTo(("$", "expected an object, got an array")));
    }

    [Test]
    public void Reports_every_error_at_once_each_with_its_line()
    {
        using var workspace = Workspace();
        var matrix = Base();
        Image(matrix, 0)["arch"] = "amd64";
        matrix["regions"] = new JsonArray();
        matrix["suites"]!.AsArray().Add("nope");
        var path = workspace.WriteJson("matrix.json", matrix);

        var errors = Assert.Throws<InputException>(() => MatrixLoader.Load(path))!.Errors;

        Assert.That(errors.Select(e => e.Path), Is.SupersetOf(new[] { "$.images[0].arch", "$.regions" }));
        var arch = errors.Single(e => e.Path == "$.images[0].arch");
        var lines = File.ReadAllLines(path);
        Assert.That(lines[arch.Line!.Value - 1], Does.Contain("\"amd64\""), "the line number points at the offending value");
        Assert.That(arch.ToString(), Is.EqualTo($"{path}:{arch.Line}: $.images[0].arch: expected one of \"x64\", \"arm64\", got \"amd64\""));
    }

    [Test]
    public void Allows_comments_and_trailing_commas()
    {
        using var workspace = Workspace();
        var text = Base().ToJsonString().Replace("\"regions\":", "// where the image ships\n\"regions\":", StringComparison.Ordinal).Replace("\"eastus2\",", "\"eastus2\",", StringComparison.Ordinal);
        text = text.Replace("\"westeurope\"]", "\"westeurope\",]", StringComparison.Ordinal);
        Assert.That(MatrixLoader.Load(workspace.Write("matrix.json", text)).Definition.Regions, Has.Count.EqualTo(2));
    }

    private static JsonObject Image(JsonObject matrix, int index) => matrix["images"]![index]!.AsObject();

    private static Workspace Workspace()
    {
        var workspace = new Workspace();
        workspace.Write("suites/smoke/suite.json", SuiteJson);
        workspace.Write("suites/smoke/kernel.sh", "#!/bin/sh\nuname -r\n");
        workspace.Write("suites/smoke/disk.sh", "#!/bin/sh\ndf /\n");
        workspace.Write("suites/broken/suite.json", """{ "tests": [ { "id": "kernel", "script": "kernel.sh" } ] }""");
        workspace.Write("suites/broken/kernel.sh", "#!/bin/sh\n");
        workspace.Write("policy-bad.json", """{ "waivers": [ { "test": "boot/console", "reason": "known", "by": "rm", "until": "2026-12-31" } ] }""");
        workspace.Write("catalog-bad.json", """{ "skus": [ { "name": "Standard_D2s_v5", "arch": "x86", "vcpus": 2, "memoryGiB": 8 } ] }""");
        return workspace;
    }
}
