using System.Text.Json.Nodes;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Unit;

[TestFixture]
public sealed class PlannerTests
{
    private static JsonObject Matrix() => (JsonObject)JsonNode.Parse("""
        {
          "name": "plan",
          "images": [
            { "id": "al4-x64", "family": "azurelinux", "arch": "x64", "version": "4.0", "sources": { "static": { "label": "al4" }, "azure": { "marketplaceUrn": "a:b:c:1" } } },
            { "id": "al4-arm64", "family": "azurelinux", "arch": "arm64", "sources": { "static": {} } },
            { "id": "acl-x64", "family": "acl", "arch": "x64", "sources": { "azure": { "marketplaceUrn": "a:b:d:1" } } }
          ],
          "skuDefinitions": [
            { "name": "D2s_v5", "arch": "x64", "vcpus": 2, "memoryGiB": 8 },
            { "name": "D4s_v5", "arch": "x64", "vcpus": 4, "memoryGiB": 16 },
            { "name": "D2ps_v6", "arch": "arm64", "vcpus": 2, "memoryGiB": 8 }
          ],
          "skus": ["D2s_v5", "D4s_v5", "D2ps_v6"],
          "regions": ["eastus2", "westeurope"],
          "suites": ["smoke"]
        }
        """)!;

    [Test]
    public void Expands_image_by_sku_by_region_with_matching_arch_and_counts_what_it_leaves_out()
    {
        var plan = Expand(Matrix(), "static");
        Assert.Multiple(() =>
        {
            // al4-x64: 2 x64 SKUs × 2 regions; al4-arm64: 1 arm64 SKU × 2 regions; acl-x64 has no static source.
            Assert.That(plan.Cells.Select(c => c.Name), Is.EquivalentTo(new[]
            {
                "al4-x64/D2s_v5/eastus2", "al4-x64/D2s_v5/westeurope", "al4-x64/D4s_v5/eastus2", "al4-x64/D4s_v5/westeurope",
                "al4-arm64/D2ps_v6/eastus2", "al4-arm64/D2ps_v6/westeurope",
            }));
            Assert.That(plan.Combinations, Is.EqualTo(18));
            Assert.That(plan.ArchMismatches, Is.EqualTo(8), "x64 images on the arm64 SKU, the arm64 image on x64 SKUs");
            Assert.That(plan.NoSource, Is.EqualTo(4));
            Assert.That(plan.Cells.All(c => c.Sku.Arch == c.Image.Arch), Is.True);
            Assert.That(plan.Cells.Select(c => c.Id).Distinct().Count(), Is.EqualTo(6));
            Assert.That(plan.Cells.First(c => c.Image.Id == "al4-x64").Image.Source.GetProperty("label").GetString(), Is.EqualTo("al4"));
        });
    }

    [Test]
    public void Include_keeps_only_matching_cells_and_exclude_removes_them()
    {
        var matrix = Matrix();
        matrix["include"] = new JsonArray(new JsonObject { ["region"] = "eastus2" }, new JsonObject { ["image"] = "al4-arm64" });
        matrix["exclude"] = new JsonArray(new JsonObject { ["image"] = "al4-*", ["sku"] = "D4*" });

        var plan = Expand(matrix, "static");

        Assert.That(plan.Cells.Select(c => c.Name), Is.EquivalentTo(new[] { "al4-x64/D2s_v5/eastus2", "al4-arm64/D2ps_v6/eastus2", "al4-arm64/D2ps_v6/westeurope" }));
        Assert.That((plan.NotIncluded, plan.Excluded), Is.EqualTo((2L, 1L)));
    }

    [Test]
    public void Cell_ids_are_the_same_for_the_same_inputs_on_any_machine()
    {
        var first = Expand(Matrix(), "static");
        var second = Expand(Matrix(), "static");
        Assert.That(second.Cells.Select(c => c.Id), Is.EqualTo(first.Cells.Select(c => c.Id)));

        // Formatting, key order and comments of the matrix file are not inputs.
        var reordered = (JsonObject)JsonNode.Parse(Matrix().ToJsonString())!;
        var image = reordered["images"]![0]!.AsObject();
        var sources = image["sources"]!.DeepClone().AsObject();
        image.Remove("sources");
        image.Remove("id");
        image["sources"] = new JsonObject { ["azure"] = sources["azure"]!.DeepClone(), ["static"] = sources["static"]!.DeepClone() };
        image["id"] = "al4-x64";
        Assert.That(Expand(reordered, "static").Cells.Select(c => c.Id), Is.EquivalentTo(first.Cells.Select(c => c.Id)));

        // The id is SHA-256 over a documented canonical text, so it is the same wherever it is computed.
        var cell = first.Cells.Single(c => c.Name == "al4-x64/D2s_v5/eastus2");
        var canonical = "{\"v\":\"1\",\"image\":{\"id\":\"al4-x64\",\"family\":\"azurelinux\",\"arch\":\"x64\",\"version\":\"4.0\",\"source\":{\"label\":\"al4\"}}," +
                        "\"sku\":{\"name\":\"D2s_v5\",\"arch\":\"x64\",\"vcpus\":2,\"memoryGiB\":8,\"features\":[]},\"region\":\"eastus2\",\"provider\":\"static\"," +
                        $"\"suites\":[{{\"name\":\"smoke\",\"hash\":\"{cell.Suites[0].ContentHash}\"}}]}}";
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(canonical)))[..12];
        Assert.That(cell.Id, Is.EqualTo(expected));
        Assert.That(cell.Id, Is.EqualTo("dd5ee082d0fa"), "the id of these inputs; it changes only when the id's definition does (then bump its \"v\")");
    }

    private static IEnumerable<TestCaseData> Changes()
    {
        yield return new TestCaseData((Action<JsonObject, Workspace>)((m, _) => m["images"]![0]!["sources"]!["static"]!["label"] = "al4-rc2")).SetName("Cell id changes with the image reference");
        yield return new TestCaseData((Action<JsonObject, Workspace>)((m, _) => m["images"]![0]!["version"] = "4.1")).SetName("Cell id changes with the image version");
        yield return new TestCaseData((Action<JsonObject, Workspace>)((m, _) => m["images"]![0]!["family"] = "azurelinux-next")).SetName("Cell id changes with the image family");
        yield return new TestCaseData((Action<JsonObject, Workspace>)((m, _) => m["skuDefinitions"]![0]!["memoryGiB"] = 16)).SetName("Cell id changes with the SKU's size");
        yield return new TestCaseData((Action<JsonObject, Workspace>)((m, _) => m["skuDefinitions"]![0]!["features"] = new JsonArray("nvme"))).SetName("Cell id changes with the SKU's features");
        yield return new TestCaseData((Action<JsonObject, Workspace>)((_, w) => w.Write("suites/smoke/kernel.sh", "#!/bin/sh\nuname -a\n"))).SetName("Cell id changes with a suite script's content");
        yield return new TestCaseData((Action<JsonObject, Workspace>)((_, w) => w.Write("suites/smoke/lib/helpers.sh", "x=1\n"))).SetName("Cell id changes with a file added to a suite");
    }

    [TestCaseSource(nameof(Changes))]
    public void Changing_an_input_changes_the_id(Action<JsonObject, Workspace> change)
    {
        const string name = "al4-x64/D2s_v5/eastus2";
        var before = Expand(Matrix(), "static").Cells.Single(c => c.Name == name).Id;
        using var workspace = SuiteWorkspace();
        var matrix = Matrix();
        change(matrix, workspace);
        var after = Planner.Expand(MatrixLoader.Load(workspace.WriteJson("matrix.json", matrix)), "static").Cells.Single(c => c.Name == name).Id;
        Assert.That(after, Is.Not.EqualTo(before));
    }

    [Test]
    public void Cell_id_changes_with_region_and_provider()
    {
        var plan = Expand(Matrix(), "static");
        var eastus = plan.Cells.Single(c => c.Name == "al4-x64/D2s_v5/eastus2");
        var westeurope = plan.Cells.Single(c => c.Name == "al4-x64/D2s_v5/westeurope");
        var azure = Expand(Matrix(), "azure").Cells.Single(c => c.Name == "al4-x64/D2s_v5/eastus2");
        Assert.That(new[] { eastus.Id, westeurope.Id, azure.Id }, Is.Unique);
    }

    private static RunPlan Expand(JsonObject matrix, string provider)
    {
        using var workspace = SuiteWorkspace();
        return Planner.Expand(MatrixLoader.Load(workspace.WriteJson("matrix.json", matrix)), provider);
    }

    private static Workspace SuiteWorkspace()
    {
        var workspace = new Workspace();
        workspace.Write("suites/smoke/suite.json", """{ "tests": [ { "id": "kernel", "script": "kernel.sh", "timeoutSeconds": 30 } ] }""");
        workspace.Write("suites/smoke/kernel.sh", "#!/bin/sh\nuname -r\n");
        return workspace;
    }
}
