// Every benchmark of the issue, one after another, each in its own process (so that a process's peak memory is its
// benchmark's), their figures collected into bench/results/<date>.json and the table of BENCHMARKS.md:
//
//   bench/run                (sets the machine up, builds, then runs this)
//   dotnet bench/TestGrid.Bench/bin/Release/net10.0/TestGrid.Bench.dll all [--quick] [--only scale,soak,...]
//
// --quick runs the small sizes only (1,000 cells on one silo and on three, 200-cell soak, 8 SSH hosts, one boot): minutes instead of half an hour.
// --only runs some (scale, scale-cluster, soak, fanout, boot, micro) and keeps the day's other figures: a figure of the
// same name is replaced, the rest of bench/results/<date>.json stays.
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TestGrid.Qemu;

namespace TestGrid.Bench;

internal static class AllBench
{
    private const string TableStart = "<!-- figures:start (bench/run rewrites this table) -->";
    private const string TableEnd = "<!-- figures:end -->";

    /// <summary>A benchmark to run: its name (for --only) and its program arguments.</summary>
    private sealed record Step(string Name, string[] Arguments, bool Micro = false);

    public static async Task<int> RunAsync(IReadOnlyList<string> options)
    {
        var quick = options.Contains("--quick");
        var only = options.ToList().IndexOf("--only") is >= 0 and var o && o + 1 < options.Count ? options[o + 1].Split(',').ToHashSet() : null;
        Step[] steps = quick
            ?
            [
                new("scale", ["scale", "--cells", "1000"]),
                new("scale-cluster", ["scale", "--silos", "3", "--cells", "1000"]),
                new("soak", ["soak", "--cells", "200", "--kill-every", "30", "--compression", "20"]),
                new("fanout", ["fanout", "--hosts", "8"]),
                new("boot", ["boot", "x64", "--runs", "1"]),
                new("micro", [], Micro: true),
            ]
            :
            [
                new("scale", ["scale", "--cells", "1000"]),
                new("scale", ["scale", "--cells", "10000"]),
                new("scale", ["scale", "--cells", "100000"]),
                new("scale-cluster", ["scale", "--silos", "3", "--cells", "10000"]),
                new("soak", ["soak", "--cells", "2000"]),
                new("fanout", ["fanout", "--hosts", "8,32,64"]),
                new("boot", ["boot", "x64", "--runs", "3"]),
                new("micro", [], Micro: true),
            ];
        var repo = FindRepository();
        var figures = new List<Figure>();
        var failed = new List<string>();
        var clock = Stopwatch.StartNew();
        foreach (var step in steps.Where(s => only is null || only.Contains(s.Name)))
        {
            var file = Path.Combine(Path.GetTempPath(), $"testgrid-figures-{Environment.ProcessId}-{figures.Count}-{step.Name}.json");
            var program = step.Micro
                ? Path.Combine(repo, "bench", "TestGrid.Bench.Micro", "bin", "Release", "net10.0", "TestGrid.Bench.Micro.dll")
                : Environment.ProcessPath is { } self && !self.EndsWith("dotnet", StringComparison.Ordinal) ? self : typeof(AllBench).Assembly.Location;
            Console.WriteLine($"== {string.Join(' ', step.Micro ? ["micro"] : step.Arguments)}");
            var start = new ProcessStartInfo(program.EndsWith(".dll", StringComparison.Ordinal) ? "dotnet" : program) { UseShellExecute = false };
            if (program.EndsWith(".dll", StringComparison.Ordinal)) start.ArgumentList.Add(program);
            foreach (var argument in step.Arguments) start.ArgumentList.Add(argument);
            start.ArgumentList.Add("--figures");
            start.ArgumentList.Add(file);
            using var process = Process.Start(start)!;
            await process.WaitForExitAsync().ConfigureAwait(false);
            if (File.Exists(file))
            {
                figures.AddRange(await Figures.ReadAsync(file).ConfigureAwait(false));
                File.Delete(file);
            }
            if (process.ExitCode != 0) failed.Add($"{string.Join(' ', step.Arguments)} (exit {process.ExitCode})");
        }

        var date = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var machine = Machine();
        var resultsPath = Path.Combine(repo, "bench", "results", $"{date}.json");
        if (only is not null && File.Exists(resultsPath))
        {
            var measured = figures.Select(f => (f.Bench, f.Name)).ToHashSet();
            var earlier = JsonNode.Parse(await File.ReadAllTextAsync(resultsPath).ConfigureAwait(false))?["figures"]?.Deserialize<List<Figure>>(Figures.Json) ?? [];
            figures = [.. earlier.Where(f => !measured.Contains((f.Bench, f.Name))), .. figures];
        }
        var results = new JsonObject
        {
            ["date"] = date,
            ["commit"] = await GitAsync(repo, "rev-parse", "--short", "HEAD").ConfigureAwait(false),
            ["machine"] = machine,
            ["quick"] = quick,
            ["minutes"] = Math.Round(clock.Elapsed.TotalMinutes, 1),
            ["failed"] = new JsonArray([.. failed.Select(f => (JsonNode)f)]),
            ["figures"] = JsonNode.Parse(JsonSerializer.Serialize(figures, Figures.Json)),
        };
        Directory.CreateDirectory(Path.GetDirectoryName(resultsPath)!);
        await File.WriteAllTextAsync(resultsPath, results.ToJsonString(new JsonSerializerOptions { WriteIndented = true })).ConfigureAwait(false);
        RewriteTable(Path.Combine(repo, "BENCHMARKS.md"), Table(figures, date, machine, resultsPath[(repo.Length + 1)..]));
        Console.WriteLine($"{figures.Count} figures in {resultsPath}; BENCHMARKS.md rewritten; {clock.Elapsed.TotalMinutes:0.0} min");
        foreach (var step in failed) Console.WriteLine($"FAILED: {step}");
        return failed.Count == 0 ? 0 : 1;
    }

    private static string Table(IReadOnlyList<Figure> figures, string date, JsonObject machine, string resultsFile)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Measured {date} ({resultsFile}) on {machine["cores"]} cores, {machine["memoryGiB"]} GiB, {machine["os"]}, {machine["cpu"]}, .NET {machine["dotnet"]}.");
        text.AppendLine();
        text.AppendLine("| Benchmark | Figure | Value | Target | |");
        text.AppendLine("|---|---|---:|---:|---|");
        foreach (var figure in figures)
        {
            var met = figure.Met switch { true => "met", false => "**not met**", null => "" };
            var value = figure.Value.ToString(figure.Value >= 100 ? "N0" : "0.###", CultureInfo.InvariantCulture);
            var target = figure.Target is { } t ? $"≤ {t.ToString("0.###", CultureInfo.InvariantCulture)}" : "";
            var name = figure.Name + (figure.Simulated ? " (simulated)" : "") + (figure.Note is { } note ? $"<br><sub>{note.Replace("|", "\\|", StringComparison.Ordinal)}</sub>" : "");
            text.AppendLine(CultureInfo.InvariantCulture, $"| {figure.Bench} | {name} | {value} {figure.Unit} | {target} | {met} |");
        }
        return text.ToString();
    }

    private static void RewriteTable(string path, string table)
    {
        var text = File.Exists(path) ? File.ReadAllText(path) : $"# Benchmarks\n\n{TableStart}\n{TableEnd}\n";
        var start = text.IndexOf(TableStart, StringComparison.Ordinal);
        var end = text.IndexOf(TableEnd, StringComparison.Ordinal);
        if (start < 0 || end < start) throw new InvalidDataException($"{path}: expected the markers {TableStart} and {TableEnd}");
        File.WriteAllText(path, text[..(start + TableStart.Length)] + "\n" + table + text[end..]);
    }

    private static JsonObject Machine()
    {
        var memory = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        var kib = double.Parse(memory.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        var os = File.Exists("/etc/os-release")
            ? File.ReadLines("/etc/os-release").FirstOrDefault(l => l.StartsWith("PRETTY_NAME=", StringComparison.Ordinal))?.Split('=', 2)[1].Trim('"') ?? RuntimeInformation.OSDescription
            : RuntimeInformation.OSDescription;
        return new JsonObject
        {
            ["cores"] = Environment.ProcessorCount,
            ["memoryGiB"] = Math.Round(kib / 1024 / 1024, 1),
            ["os"] = $"{os} ({RuntimeInformation.OSDescription.Split(' ').Skip(1).FirstOrDefault()})",
            ["cpu"] = LedgerBench.CpuModel(),
            // Usable, not just present: a /dev/kvm can refuse (QemuHost probes it with QEMU).
            ["kvm"] = QemuHost.HostArch is { } arch && QemuHost.KvmFor(arch).Usable,
            ["dotnet"] = Environment.Version.ToString(),
        };
    }

    private static string FindRepository()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
            if (File.Exists(Path.Combine(folder.FullName, "TestGrid.sln"))) return folder.FullName;
        throw new InvalidOperationException("the repository (TestGrid.sln) was not found above the benchmark program");
    }

    private static async Task<string> GitAsync(string repo, params string[] arguments)
    {
        var start = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = repo };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        try
        {
            using var process = Process.Start(start)!;
            var output = await process.StandardOutput.ReadToEndAsync().ConfigureAwait(false);
            await process.WaitForExitAsync().ConfigureAwait(false);
            return process.ExitCode == 0 ? output.Trim() : "unknown";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }
}
