using System.Text.Json;
using System.Text.Json.Nodes;
using TestGrid.Tests.Support;
using TestGrid.Verdict;

namespace TestGrid.Tests.Unit;

/// <summary>The command line itself: help, usage errors, validate and plan (nothing here needs a host).</summary>
[TestFixture]
public sealed class CliTests
{
    [TestCase("--help", "validate", TestName = "Help: the root lists the commands and exit codes")]
    [TestCase("validate --help", "--output", TestName = "Help: validate")]
    [TestCase("plan --help", "--provider", TestName = "Help: plan")]
    [TestCase("run --help", "--inventory", TestName = "Help: run")]
    [TestCase("run --help", "--cluster", TestName = "Help: run names --cluster")]
    [TestCase("resume --help", "--data", TestName = "Help: resume")]
    [TestCase("status --help", "--cluster", TestName = "Help: status")]
    [TestCase("watch --help", "--cluster", TestName = "Help: watch")]
    [TestCase("certify --help", "--partner", TestName = "Help: certify")]
    public async Task Every_command_has_help(string commandLine, string mentions)
    {
        var args = commandLine.Split(' ');
        var result = await CliRunner.RunAsync(args);
        Assert.That(result.ExitCode, Is.Zero);
        Assert.That(result.Out, Does.Contain(mentions).And.Contain("Usage:"));
        if (args.Length == 1) Assert.That(result.Out, Does.Contain("0 PASS, 1 FAIL, 2 INCOMPLETE").And.Contain("3 invalid input"));
    }

    [TestCase("", TestName = "Usage: no command exits 3")]
    [TestCase("bogus", TestName = "Usage: an unknown command exits 3")]
    [TestCase("plan --frobnicate", TestName = "Usage: an unknown option exits 3")]
    [TestCase("plan --output yaml", TestName = "Usage: an unknown output format exits 3")]
    [TestCase("run --parallel 0", TestName = "Usage: --parallel 0 exits 3")]
    [TestCase("run --run-id a/b", TestName = "Usage: a run id with a slash exits 3")]
    [TestCase("run --cluster nohost", TestName = "Usage: a gateway without a port exits 3")]
    [TestCase("run --cluster 127.0.0.1:99999", TestName = "Usage: a gateway port out of range exits 3")]
    [TestCase("run --detach", TestName = "Usage: --detach without --cluster exits 3")]
    [TestCase("status", TestName = "Usage: status without a run id exits 3")]
    [TestCase("certify --partner p", TestName = "Usage: certify without an inventory exits 3")]
    [TestCase("certify --inventory h.json --partner p --cluster 127.0.0.1:30000", TestName = "Usage: certify on a cluster without a redaction key path exits 3")]
    public async Task Usage_errors_exit_3(string commandLine)
    {
        var result = await CliRunner.RunAsync(commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.InvalidInput));
        Assert.That(result.Error, Does.StartWith("error: "));
    }

    [Test]
    public async Task Resume_and_status_of_an_unknown_run_name_it_and_exit_3()
    {
        using var workspace = new Workspace();
        foreach (var command in new[] { "resume", "status" })
        {
            var result = await CliRunner.RunAsync(command, "no-such-run", "--data", workspace.Path(".testgrid"));
            Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.InvalidInput), result.ToString());
            Assert.That(result.Error, Does.Contain("no run 'no-such-run' in the embedded engine, state in " + workspace.Path(".testgrid")));
        }
    }

    [Test]
    public async Task Watch_follows_a_cluster_run_only()
    {
        var result = await CliRunner.RunAsync("watch", "some-run");
        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.InvalidInput));
        Assert.That(result.Error, Does.Contain("--cluster: watch follows a cluster's run"));
    }

    [Test]
    public async Task Run_with_the_static_provider_needs_an_inventory()
    {
        using var workspace = Matrix();
        var result = await CliRunner.RunAsync("run", workspace.Path("matrix.json"), "--provider", "static");
        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.InvalidInput));
        Assert.That(result.Error, Does.Contain("--inventory: the static provider needs an inventory"));
    }

    [Test]
    public async Task Certify_needs_a_hardware_declaration_for_every_host_and_a_valid_partner_name()
    {
        using var workspace = new Workspace();
        workspace.Write("key", "not used");
        var inventory = workspace.WriteJson("partner-hosts.json", new JsonObject
        {
            ["hosts"] = new JsonArray(new JsonObject
            {
                ["name"] = "r750-1", ["address"] = "10.1.2.7", ["user"] = "root", ["privateKey"] = "key",
                ["hostKey"] = "SHA256:sU/1d+u39lz87L0C4BMhUpU4L3RyOv6wVAN+IJrKp24", ["arch"] = "x64", ["sku"] = "R750",
            }),
        });
        var result = await CliRunner.RunAsync("certify", "--inventory", inventory, "--partner", "contoso", "--data", workspace.Path(".testgrid"), "--out", workspace.Path("out"));
        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.InvalidInput), result.ToString());
        Assert.That(result.Error, Does.Match(@"partner-hosts\.json:\d+: \$\.hosts\[0\]\.hardware: expected the hardware host 'r750-1' is declared to have"));

        result = await CliRunner.RunAsync("certify", "--inventory", inventory, "--partner", "a/b", "--data", workspace.Path(".testgrid"));
        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.InvalidInput));
        Assert.That(result.Error, Does.Contain("--partner: expected a partner name of letters, digits"));
        Assert.That(Directory.Exists(workspace.Path(".testgrid", "partners")), Is.False, "invalid input makes no key");
    }

    [Test]
    public async Task The_azure_provider_without_its_configuration_is_invalid_input()
    {
        using var workspace = Matrix();
        var result = await CliRunner.RunAsync("run", workspace.Path("matrix.json"), "--provider", "azure");
        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.InvalidInput));
        Assert.That(result.Error, Does.Contain("--azure: the azure provider needs its configuration"));
    }

    [Test]
    public async Task Validate_prints_a_summary_or_json()
    {
        using var workspace = Matrix();
        var text = await CliRunner.RunAsync("validate", workspace.Path("matrix.json"));
        Assert.That((text.ExitCode, text.Out), Is.EqualTo((0, $"{workspace.Path("matrix.json")}: valid. 1 images, 2 SKUs, 1 regions, 1 suites (1 tests); cells per provider: qemu 0, static 2, azure 0\n")));

        var json = await CliRunner.RunAsync("validate", workspace.Path("matrix.json"), "--output", "json");
        using var document = JsonDocument.Parse(json.Out);
        Assert.That(document.RootElement.GetProperty("valid").GetBoolean(), Is.True);
        Assert.That(document.RootElement.GetProperty("cells").GetProperty("static").GetInt32(), Is.EqualTo(2));
    }

    [Test]
    public async Task Validate_reports_errors_as_json_with_paths()
    {
        using var workspace = Matrix(regions: "[]");
        var result = await CliRunner.RunAsync("validate", workspace.Path("matrix.json"), "--output", "json");
        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.InvalidInput));
        using var document = JsonDocument.Parse(result.Out);
        var error = document.RootElement.GetProperty("errors")[0];
        Assert.That((error.GetProperty("path").GetString(), error.GetProperty("file").GetString()), Is.EqualTo(("$.regions", workspace.Path("matrix.json"))));
        Assert.That(result.Error, Does.Contain("$.regions: must not be empty"));
    }

    [Test]
    public async Task A_matrix_that_expands_to_no_cells_is_invalid_input()
    {
        using var workspace = Matrix(arch: "arm64");
        var result = await CliRunner.RunAsync("plan", workspace.Path("matrix.json"), "--provider", "static");
        Assert.That(result.ExitCode, Is.EqualTo(ExitCodes.InvalidInput));
        Assert.That(result.Error, Does.Contain("$: expected at least one cell for provider 'static', but all 2 combinations were left out: 2 arch mismatches"));
    }

    [Test]
    public async Task Plan_prints_cells_as_a_table_or_as_json()
    {
        using var workspace = Matrix();
        var text = await CliRunner.RunAsync("plan", workspace.Path("matrix.json"), "--provider", "static");
        Assert.That(text.ExitCode, Is.Zero);
        Assert.That(text.Out, Does.Contain("2 cells of 2 combinations").And.Contain("img/s1/lab").And.Contain("img/s2/lab"));

        var json = await CliRunner.RunAsync("plan", workspace.Path("matrix.json"), "-o", "json", "--provider", "static");
        using var document = JsonDocument.Parse(json.Out);
        var cells = document.RootElement.GetProperty("cells");
        Assert.That(cells.GetArrayLength(), Is.EqualTo(2));
        Assert.That(cells[0].GetProperty("id").GetString(), Does.Match("^[0-9a-f]{12}$"));
        Assert.That(text.Out, Does.Contain(cells[0].GetProperty("id").GetString()), "text and JSON agree on ids");
    }

    private static Workspace Matrix(string regions = """["lab"]""", string arch = "x64")
    {
        var workspace = new Workspace();
        workspace.Suite("smoke", new TestScript("kernel", "uname -r"));
        workspace.Write("matrix.json", $$"""
            {
              "name": "cli",
              "images": [ { "id": "img", "family": "debian", "arch": "{{arch}}", "sources": { "static": {} } } ],
              "skuDefinitions": [ { "name": "s1", "arch": "x64", "vcpus": 1, "memoryGiB": 1 }, { "name": "s2", "arch": "x64", "vcpus": 2, "memoryGiB": 2 } ],
              "skus": ["s1", "s2"],
              "regions": {{regions}},
              "suites": ["smoke"]
            }
            """);
        return workspace;
    }
}
