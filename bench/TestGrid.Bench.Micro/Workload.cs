using System.Text.Json;
using System.Text.Json.Nodes;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Bench.Micro;

/// <summary>The inputs the benchmarks share, built once per benchmark class (never inside a measured method).</summary>
internal static class Workload
{
    public static readonly DateTimeOffset Now = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);

    public static readonly string[] Families = ["azurelinux", "ubuntu"];

    /// <summary>The tests of a cell: 4 smoke tests, 8 full ones (the last one advisory).</summary>
    public static readonly (string Suite, string Test, bool Blocking)[] Tests =
    [
        ("smoke", "kernel", true), ("smoke", "disk", true), ("smoke", "net", true), ("smoke", "ntp", true),
        ("full", "packages", true), ("full", "services", true), ("full", "selinux", true), ("full", "firewall", true),
        ("full", "cloud-init", true), ("full", "storage", true), ("full", "time-sync", true), ("full", "motd", false),
    ];

    /// <summary>
    /// The matrix of <c>bench/TestGrid.Bench</c>'s PlanBench, written to <paramref name="folder"/>: 10 x64 images × 100
    /// x64 SKUs × 10 regions (10,000 combinations, one excluded: 9,999 cells), plus 5 arm64 images that match no SKU.
    /// </summary>
    public static string WriteMatrix(string folder)
    {
        Directory.CreateDirectory(Path.Combine(folder, "suites", "smoke"));
        File.WriteAllText(Path.Combine(folder, "suites", "smoke", "suite.json"), """{ "tests": [ { "id": "kernel", "script": "kernel.sh", "timeoutSeconds": 30 } ] }""");
        File.WriteAllText(Path.Combine(folder, "suites", "smoke", "kernel.sh"), "#!/bin/sh\nuname -r\n");
        var images = new JsonArray();
        for (var i = 0; i < 10; i++)
            images.Add(new JsonObject { ["id"] = $"img-{i}", ["family"] = "azurelinux", ["arch"] = "x64", ["sources"] = new JsonObject { ["static"] = new JsonObject { ["label"] = $"build-{i}" } } });
        for (var i = 0; i < 5; i++)
            images.Add(new JsonObject { ["id"] = $"arm-{i}", ["family"] = "azurelinux", ["arch"] = "arm64", ["sources"] = new JsonObject { ["static"] = new JsonObject() } });
        var skus = new JsonArray();
        var definitions = new JsonArray();
        for (var i = 0; i < 100; i++)
        {
            skus.Add($"Standard_D{i}s_v5");
            definitions.Add(new JsonObject { ["name"] = $"Standard_D{i}s_v5", ["arch"] = "x64", ["vcpus"] = 2 + i % 8, ["memoryGiB"] = 8 });
        }
        var regions = new JsonArray();
        for (var i = 0; i < 10; i++) regions.Add($"region-{i}");
        var matrix = new JsonObject
        {
            ["name"] = "bench", ["images"] = images, ["skus"] = skus, ["skuDefinitions"] = definitions, ["regions"] = regions,
            ["suites"] = new JsonArray("smoke"), ["exclude"] = new JsonArray(new JsonObject { ["image"] = "img-9", ["region"] = "region-9", ["sku"] = "Standard_D99s_v5" }),
        };
        var path = Path.Combine(folder, "matrix.json");
        File.WriteAllText(path, matrix.ToJsonString());
        return path;
    }

    /// <summary>A cell as an Azure image would make it: a nested source object to canonicalise, a SKU with features, two suites.</summary>
    public static Cell Cell(int index)
    {
        var family = Families[index % Families.Length];
        var image = new CellImage
        {
            Id = $"{family}-3.0",
            Family = family,
            Arch = Arch.X64,
            Version = "3.0.20261120",
            Source = JsonDocument.Parse($$"""{ "version": "3.0.20261120", "publisher": "MicrosoftCBLMariner", "offer": "{{family}}-3", "sku": "gen2", "gallery": { "name": "images", "resourceGroup": "rg-images", "subscription": "00000000-0000-0000-0000-000000000000" } }""").RootElement,
        };
        var sku = new SkuDefinition($"Standard_D{index / 10 % 100}s_v5", Arch.X64, 2 + index % 8, 8, "standardDSv5Family", ["PremiumIO", "AcceleratedNetworking", "EphemeralOSDisk"]);
        var region = $"region-{index % 10}";
        SuiteRef[] suites = [new("smoke", new string('a', 64)), new("full", new string('b', 64))];
        return new Cell
        {
            Id = CellIdentity.Compute(image, sku, region, "azure", suites),
            Name = $"{image.Id}/{sku.Name}/{region}",
            Image = image,
            Sku = sku,
            Region = region,
            Provider = "azure",
            Suites = suites,
        };
    }

    public static TestResult Test(int index, (string Suite, string Test, bool Blocking) test, TestOutcome outcome, int rerun = 0, string? reason = null)
    {
        // What a test prints, captured: a few hundred bytes when it passes, a few KB when it fails.
        var output = outcome == TestOutcome.Passed
            ? $"+ {test.Test}\nchecking {test.Test} on cell {index}\nok\n"
            : string.Concat(Enumerable.Range(0, 40).Select(i => $"{test.Test}: line {i} of the failure's output on cell {index}\n"));
        return new TestResult
        {
            Suite = test.Suite,
            Test = test.Test,
            Outcome = outcome,
            Blocking = test.Blocking,
            ExitCode = outcome switch { TestOutcome.Passed => 0, TestOutcome.Skipped => 77, TestOutcome.TimedOut => null, _ => 1 },
            Duration = TimeSpan.FromMilliseconds(200 + index % 1000),
            Reason = reason ?? (outcome == TestOutcome.Failed ? "exit code 1" : outcome == TestOutcome.Skipped ? "requires arm64" : null),
            Output = new CapturedOutput(output, "", output.Length, 0),
            Log = $"cells/{index}/attempt-1/{test.Suite}/{test.Test}.log",
            Metrics = test.Test == "kernel" ? new Dictionary<string, double> { ["boot.userspace"] = 4.2 + index % 7 * 0.1 } : new Dictionary<string, double>(),
            Rerun = rerun,
        };
    }

    public static AttemptResult Attempt(Cell cell, int number, AttemptOutcome outcome, IReadOnlyList<TestResult> tests, double sshLogin,
        string[]? scope = null, string? trigger = null, string? errorKind = null) => new()
    {
        Number = number,
        AttemptId = $"{cell.Id}-{number}",
        Outcome = outcome,
        Machine = $"tg-{cell.Id}-{number}",
        ErrorKind = errorKind,
        Error = errorKind is null ? null : "no SSH banner from 10.0.0.9:22 within 120 s",
        StartedAt = Now.AddMinutes(-30),
        EndedAt = Now.AddMinutes(-25),
        Tests = tests,
        Artifacts = $"cells/{cell.Id}/attempt-{number}",
        Metrics = outcome == AttemptOutcome.Completed
            ? new Dictionary<string, double> { ["boot.first_console_byte"] = 0.8, ["boot.kernel_start"] = 1.9, ["boot.ssh_banner"] = sshLogin - 0.4, ["boot.ssh_login"] = sshLogin, ["suites.first_command"] = sshLogin + 0.3 }
            : new Dictionary<string, double>(),
        Scope = scope ?? [],
        Trigger = trigger,
    };

    /// <summary>
    /// One cell's attempts, by the cell's index: most pass everything (one skipped test); 5 % have a flaky test (fails,
    /// passes on a fresh machine), 2 % a blocking failure, 2 % an advisory one, 2 % a quarantined one, 1 % a waived
    /// one, 2 % an infrastructure error then a pass, 1 % no result at all.
    /// </summary>
    public static IReadOnlyList<AttemptResult> Attempts(Cell cell, int index)
    {
        var ssh = 9.0 + index % 13 * 0.37;
        TestResult[] Run(Func<int, TestOutcome> outcome) => [.. Tests.Select((t, i) => Test(index, t, outcome(i)))];
        var allPass = Run(i => i == 3 ? TestOutcome.Skipped : TestOutcome.Passed);
        switch (index % 100)
        {
            case < 5:
                return
                [
                    Attempt(cell, 1, AttemptOutcome.Completed, Run(i => i == 1 ? TestOutcome.Failed : i == 3 ? TestOutcome.Skipped : TestOutcome.Passed), ssh),
                    Attempt(cell, 2, AttemptOutcome.Completed, [Test(index, Tests[1], TestOutcome.Passed)], ssh, ["smoke/disk"], "policy: rerun 1 of 1 of failed tests"),
                ];
            case < 7:
                return [Attempt(cell, 1, AttemptOutcome.Completed, Run(i => i == 5 ? TestOutcome.Failed : i == 3 ? TestOutcome.Skipped : TestOutcome.Passed), ssh)];
            case < 9:
                return [Attempt(cell, 1, AttemptOutcome.Completed, Run(i => i == 11 ? TestOutcome.Failed : i == 3 ? TestOutcome.Skipped : TestOutcome.Passed), ssh)];
            case < 11:
                return [Attempt(cell, 1, AttemptOutcome.Completed, Run(i => i == 8 ? TestOutcome.TimedOut : i == 3 ? TestOutcome.Skipped : TestOutcome.Passed), ssh)];
            case < 12:
                return [Attempt(cell, 1, AttemptOutcome.Completed, Run(i => i == 9 ? TestOutcome.Failed : i == 3 ? TestOutcome.Skipped : TestOutcome.Passed), ssh)];
            case < 14:
                return [Attempt(cell, 1, AttemptOutcome.InfrastructureError, [], ssh, errorKind: "unreachable"), Attempt(cell, 2, AttemptOutcome.Completed, allPass, ssh, trigger: "retry after unreachable")];
            case < 15:
                return [Attempt(cell, 1, AttemptOutcome.InfrastructureError, [], ssh, errorKind: "unreachable"), Attempt(cell, 2, AttemptOutcome.InfrastructureError, [], ssh, errorKind: "unreachable")];
            default:
                return [Attempt(cell, 1, AttemptOutcome.Completed, allPass, ssh)];
        }
    }

    /// <summary><paramref name="count"/> cells as the run grain reports them to the verdict.</summary>
    public static IReadOnlyList<CellReport> Cells(int count)
    {
        var cells = new List<CellReport>(count);
        for (var i = 0; i < count; i++)
        {
            var cell = Cell(i);
            var attempts = Attempts(cell, i);
            cells.Add(new CellReport(cell, CellResults.StateOf(attempts), attempts));
        }
        return cells;
    }

    /// <summary>
    /// A policy that uses every rule the verdict evaluates: boot-time limits (run-wide and per family), a quarantine
    /// and a waiver (one of them scoped to a family), one expired entry, and baselines with 50 earlier samples per family × SKU.
    /// </summary>
    public static VerdictInputs Inputs()
    {
        var policy = new PolicyDefinition(
            BootTimes: [new BootTimeLimit("boot.ssh_login", P50: 30, P95: 60), new BootTimeLimit("boot.ssh_login", P95: 45, Family: "ubuntu")],
            Quarantine: [new Exemption("full/time-sync", "NTP pool flaky in the lab", new DateOnly(2026, 12, 31), Bug: "https://bugs.example/123"), new Exemption("full/selinux", "expired", new DateOnly(2026, 1, 1))],
            Waivers: [new Exemption("full/storage", "known slow disk on v5", new DateOnly(2026, 12, 31), By: "release-manager", Scope: new CellScope(Family: "azurelinux"))],
            Baselines: new BaselineRules());
        var history = new Dictionary<BaselineKey, IReadOnlyList<double>>();
        foreach (var family in Families)
            for (var sku = 0; sku < 100; sku++)
                foreach (var metric in BaselineRules.DefaultMetrics)
                    history[new BaselineKey(family, $"Standard_D{sku}s_v5", metric)] = [.. Enumerable.Range(0, 50).Select(i => 9.0 + i % 13 * 0.37)];
        return new VerdictInputs(policy, Now, history);
    }
}
