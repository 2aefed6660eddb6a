// The cost of rerunning one cell of a finished run (the issue's figure: "time to rerun one cell of a 100-cell finished
// run, from command to new verdict, excluding the attempt itself"), printed (not a test):
//
//   dotnet run -c Release --project bench/TestGrid.Bench -- rerun [--cells 100] [--repeat 5] [--parallel 16]
//
// One real sshd container (SshdContainer of src/Testing, as the integration tests start it, from the local image
// testgrid/debian12-sshd:HASH that deploy/images/docker-image.sh prints), a workspace with a matrix of 1 image (static
// source) × 1 SKU label × N regions r001… (N cells), one suite with one test (`true`), and an inventory of that one host
// (no region: it serves every cell, one attempt at a time). The real CLI (Cli.InvokeAsync) runs in this process:
// `testgrid run … --parallel 16` once, then --repeat times `testgrid rerun RUN --cell ID --data DIR`, a different cell
// each time. Each rerun is timed from the call to its return (engine start from the data folder, the run's report,
// dispatch, the attempt, the verdict over every cell, ledger writes, verdict.json and junit.xml, engine stop); the new
// attempt's StartedAt–EndedAt (verdict.json) is subtracted. Then one more rerun traced (TestGrid's spans and Orleans'
// grain calls, listened to in this process) to say where the overhead goes; the same reruns as their own process
// (`dotnet testgrid.dll`, as a user runs it: process start and JIT included); and `rerun RUN --failed` with nothing
// failed. The container and the workspace are removed at the end, also on Ctrl-C (a second Ctrl-C quits at once; the
// container is then removed by the tests' sweep once its 2-hour label expires, or by `docker rm -f`).
// About 1 min on the 2-core development machine, most of it the first run (~40 s).
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging.Abstractions;
using TestGrid.Client;
using TestGrid.Plan;
using TestGrid.Reports;
using TestGrid.Testing;

// Docker with host networking, Unix file modes: Linux only, like the tests.
[assembly: SupportedOSPlatform("linux")]

namespace TestGrid.Bench;

/// <summary>Options of the rerun benchmark.</summary>
internal sealed record RerunBenchOptions
{
    public int Cells { get; init; } = 100;
    public int Repeat { get; init; } = 5;
    public int Parallel { get; init; } = 16;

    public static RerunBenchOptions Parse(IReadOnlyList<string> arguments)
    {
        var list = arguments.ToList();
        foreach (var argument in list.Where(a => a.StartsWith("--", StringComparison.Ordinal)))
        {
            if (argument is not ("--cells" or "--repeat" or "--parallel")) throw new ArgumentException($"unknown option {argument} (--cells, --repeat, --parallel)");
        }
        int Int(string name, int fallback) => list.IndexOf(name) is >= 0 and var i
            ? i + 1 < list.Count ? int.Parse(list[i + 1], CultureInfo.InvariantCulture) : throw new ArgumentException($"{name} needs a number")
            : fallback;
        var options = new RerunBenchOptions { Cells = Int("--cells", 100), Repeat = Int("--repeat", 5), Parallel = Int("--parallel", 16) };
        if (options.Cells is < 1 or > 9999 || options.Repeat < 1 || options.Parallel < 1) throw new ArgumentException("--cells 1–9999, --repeat and --parallel at least 1");
        return options;
    }
}

/// <summary>Rerunning one cell of a finished run through the real CLI, against a real sshd host: command to new verdict, less the attempt.</summary>
internal static partial class RerunBench
{
    private const string Sku = "bench";

    /// <summary>One timed <c>testgrid rerun --cell</c>: seconds from the command to its return, the new attempt's own duration, and the command's printed request-to-verdict figure.</summary>
    private sealed record Sample(Cell Cell, double Total, double Attempt, double? Printed)
    {
        public double Overhead => Total - Attempt;
    }

    private sealed record Invocation(int Exit, string Out, string Error, double Seconds);

    /// <summary>Where the workspace is and how to call the CLI.</summary>
    private sealed record Bench(string Root, string RunId, string Data, string Output, string Program, CancellationToken Cancel)
    {
        public string Matrix => Path.Combine(Root, "matrix.json");
        public string Inventory => Path.Combine(Root, "hosts.json");
    }

    public static async Task<int> RunAsync(RerunBenchOptions options)
    {
        using var interrupt = new CancellationTokenSource();
        var signals = 0;
        void OnSignal(PosixSignalContext context)
        {
            // The first Ctrl-C (or SIGTERM) cancels the command under way and lets the cleanup run; a second one quits.
            if (Interlocked.Increment(ref signals) > 1) return;
            context.Cancel = true;
            Console.Error.WriteLine("rerun bench: interrupted; cancelling, then removing the container and the workspace (Ctrl-C again to quit at once)");
            interrupt.Cancel();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

        var repo = FindRepository();
        var root = Path.Combine(Path.GetTempPath(), $"testgrid-rerun-bench-{Environment.ProcessId}");
        var bench = new Bench(root, $"bench-{Guid.NewGuid().ToString("N")[..8]}", Path.Combine(root, ".testgrid"), Path.Combine(root, "out"), ClientProgram(repo), interrupt.Token);
        var whole = Stopwatch.StartNew();
        SshdContainer? host = null;
        try
        {
            TestContainers.ConfigureLocalEngine();
            await TestContainers.SweepExpiredAsync();
            var image = await SshdContainer.ImageAsync(repo);
            bench.Cancel.ThrowIfCancellationRequested();
            var containerStart = Stopwatch.StartNew();
            host = await SshdContainer.StartAsync(repo, image, "bench", Path.Combine(root, "host"), logger: NullLogger.Instance);
            containerStart.Stop();
            bench.Cancel.ThrowIfCancellationRequested();
            WriteWorkspace(bench, options.Cells, host);

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
                rerun one cell of a finished {options.Cells}-cell run, from the command to the new verdict (the real CLI; embedded engine, data folder .testgrid beside the matrix)
                  matrix: 1 image (static source) × 1 SKU label × {options.Cells} regions = {options.Cells} cells; one suite with one test (true)
                  inventory: one sshd container ({image}, 127.0.0.1:{host.Port}, started in {containerStart.Elapsed.TotalSeconds:0.0} s), no region: it serves every cell, one attempt at a time
                machine: {Environment.ProcessorCount} cores ({LedgerBench.CpuModel()}), {RuntimeInformation.OSDescription}, .NET {Environment.Version}; load average {LedgerBench.LoadAverage()}

                """));

            // The first run: every cell, one attempt at a time on the one host.
            var first = await InvokeAsync(bench, inProcess: true, "run", bench.Matrix, "--inventory", bench.Inventory, "--out", bench.Output, "--run-id", bench.RunId,
                "--parallel", options.Parallel.ToString(CultureInfo.InvariantCulture));
            var report = ReadReport(bench);
            if (first.Exit != 0 || report.Cells.Count != options.Cells || report.Cells.Any(c => c.Attempts.Count != 1))
                throw new InvalidOperationException($"the first run did not pass with one attempt per cell (exit {first.Exit}):\n{first.Out}\n{first.Error}");
            var attempts = report.Cells.Select(c => (c.Attempts[0].EndedAt - c.Attempts[0].StartedAt).TotalSeconds).ToList();
            var busy = report.Cells.Max(c => c.Attempts[0].EndedAt) - report.Cells.Min(c => c.Attempts[0].StartedAt);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
                == testgrid run MATRIX --inventory hosts.json --out DIR --run-id ID --parallel {options.Parallel}: {first.Seconds:0.0} s from the command to the verdict (PASS, {options.Cells} cells)
                   attempts {Median(attempts):0.00} s median ({attempts.Min():0.00}–{attempts.Max():0.00} s), {attempts.Sum():0.0} s in all, one at a time; first attempt's start to last attempt's end {busy.TotalSeconds:0.0} s

                """));

            // A different cell each time, spread over the run: in this process, one traced, then as their own process.
            var cells = Spread(report, 2 * options.Repeat + 1);
            var inProcess = new List<Sample>();
            for (var i = 0; i < options.Repeat; i++) inProcess.Add(await RerunAsync(bench, cells[i], inProcess: true, $"{i + 1} of {options.Repeat}, in this process"));
            Print($"testgrid rerun RUN --cell ID --data DIR, in this process (Cli.InvokeAsync), one cell of {options.Cells}, ×{options.Repeat}", inProcess);

            Timeline.Phases phases;
            using (var timeline = new Timeline())
            {
                var begin = DateTime.UtcNow;
                var traced = await RerunAsync(bench, cells[options.Repeat], inProcess: true, "traced, in this process");
                phases = timeline.Split(begin, traced.Total);
            }
            Console.WriteLine(phases.Format(options.Cells) + "\n");

            var ownProcess = new List<Sample>();
            for (var i = 0; i < options.Repeat; i++) ownProcess.Add(await RerunAsync(bench, cells[options.Repeat + 1 + i], inProcess: false, $"{i + 1} of {options.Repeat}, own process"));
            Print($"the same as its own process, as a user runs it (dotnet testgrid.dll rerun …: process start and JIT included), ×{options.Repeat}", ownProcess);

            // Nothing failed: --failed finds nothing to rerun and returns.
            var lines = new List<string> { "== testgrid rerun RUN --failed --data DIR, nothing failed" };
            foreach (var own in (bool[])[true, false])
            {
                var failed = await InvokeAsync(bench, own, "rerun", bench.RunId, "--failed", "--data", bench.Data);
                var said = failed.Out.Split('\n').FirstOrDefault(l => l.Contains("nothing to rerun", StringComparison.Ordinal))?.Trim();
                if (failed.Exit != 0 || said is null)
                    throw new InvalidOperationException($"rerun --failed on a passing run did not say nothing to rerun (exit {failed.Exit}):\n{failed.Out}\n{failed.Error}");
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"   {(own ? "in this process" : "own process"),-16} {failed.Seconds,6:0.000} s  (exit {failed.Exit}: \"{said}\")"));
            }
            Console.WriteLine(string.Join('\n', lines) + "\n");

            var final = ReadReport(bench);
            Console.WriteLine($"== data folder after {final.Cells.Sum(c => c.Attempts.Count)} attempts of {final.Cells.Count} cells: {Size(bench.Data, "ledger.db")}; {Size(bench.Data, "engine.db")}");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"\nwhole benchmark: {whole.Elapsed.TotalSeconds:0} s; load average at the end {LedgerBench.LoadAverage()}"));
            return 0;
        }
        catch (OperationCanceledException) when (bench.Cancel.IsCancellationRequested)
        {
            Console.Error.WriteLine("rerun bench: interrupted");
            return 130;
        }
        finally
        {
            if (host is not null) await host.DisposeAsync();
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    /// <summary><c>testgrid rerun RUN --cell ID --data DIR</c>, checked (a passing verdict, one more attempt of that cell, triggered by this rerun) and timed.</summary>
    private static async Task<Sample> RerunAsync(Bench bench, Cell cell, bool inProcess, string what)
    {
        Console.Error.WriteLine($"rerun bench: rerun {what}: --cell {cell.Id} ({cell.Name})");
        var before = ReadReport(bench).Cells.Single(c => c.Cell.Id == cell.Id).Attempts.Count;
        var rerun = await InvokeAsync(bench, inProcess, "rerun", bench.RunId, "--cell", cell.Id, "--data", bench.Data);
        var after = ReadReport(bench).Cells.Single(c => c.Cell.Id == cell.Id);
        var attempt = after.Attempts[^1];
        if (rerun.Exit != 0 || after.Attempts.Count != before + 1 || attempt.Trigger != $"rerun --cell {cell.Id}")
            throw new InvalidOperationException($"rerun --cell {cell.Id} did not add one attempt to a passing run (exit {rerun.Exit}, {before} → {after.Attempts.Count} attempts, trigger {attempt.Trigger}):\n{rerun.Out}\n{rerun.Error}");
        var printed = PrintedLine().Match(rerun.Out);
        return new Sample(cell, rerun.Seconds, (attempt.EndedAt - attempt.StartedAt).TotalSeconds,
            printed.Success ? double.Parse(printed.Groups["seconds"].Value, CultureInfo.InvariantCulture) : null);
    }

    /// <summary>The real CLI, in this process or as its own (<c>dotnet testgrid.dll</c>), timed from the call (or the process start) to its return (or exit).</summary>
    private static async Task<Invocation> InvokeAsync(Bench bench, bool inProcess, params string[] args)
    {
        bench.Cancel.ThrowIfCancellationRequested();
        if (inProcess)
        {
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            var begin = Stopwatch.GetTimestamp();
            var exit = await Cli.InvokeAsync(args, TextWriter.Synchronized(stdout), TextWriter.Synchronized(stderr), cancellationToken: bench.Cancel);
            var seconds = Stopwatch.GetElapsedTime(begin).TotalSeconds;
            bench.Cancel.ThrowIfCancellationRequested();
            return new Invocation(exit, stdout.ToString(), stderr.ToString(), seconds);
        }
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in (string[])[bench.Program, .. args]) start.ArgumentList.Add(arg);
        var watch = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start dotnet");
        var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var error = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            await process.WaitForExitAsync(bench.Cancel);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }
        watch.Stop();
        return new Invocation(process.ExitCode, await output, await error, watch.Elapsed.TotalSeconds);
    }

    /// <summary>The line RerunCommand prints once the verdict is decided.</summary>
    [GeneratedRegex(@"^rerun \d+: (?<seconds>[0-9]+(\.[0-9]+)?) s from the request to the new verdict", RegexOptions.Multiline)]
    private static partial Regex PrintedLine();

    private static RunReport ReadReport(Bench bench) =>
        JsonSerializer.Deserialize(File.ReadAllBytes(Path.Combine(bench.Output, "verdict.json")), TestGridJsonContext.Default.RunReport)
        ?? throw new InvalidOperationException("verdict.json is empty");

    /// <summary><paramref name="count"/> cells spread evenly over the run (repeating when it has fewer).</summary>
    private static List<Cell> Spread(RunReport report, int count) =>
        [.. Enumerable.Range(0, count).Select(i => report.Cells[(int)((long)(i + 1) * report.Cells.Count / (count + 1) % report.Cells.Count)].Cell)];

    private static void Print(string title, IReadOnlyList<Sample> samples)
    {
        var lines = new List<string>
        {
            $"== {title} (s)",
            $"   {"",-22} {"total",11} {"attempt",11} {"overhead",11} {"printed",11}",
        };
        foreach (var s in samples)
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"   {$"{s.Cell.Region} ({s.Cell.Id})",-22} {s.Total,11:0.000} {s.Attempt,11:0.000} {s.Overhead,11:0.000} {(s.Printed is { } p ? p.ToString("0.0", CultureInfo.InvariantCulture) : "-"),11}"));
        var printed = samples.Where(s => s.Printed is not null).Select(s => s.Printed!.Value).ToList();
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"   {"median",-22} {Median(samples.Select(s => s.Total)),11:0.000} {Median(samples.Select(s => s.Attempt)),11:0.000} {Median(samples.Select(s => s.Overhead)),11:0.000} {(printed.Count > 0 ? Median(printed).ToString("0.00", CultureInfo.InvariantCulture) : "-"),11}"));
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"   {"min–max",-22} {Range(samples.Select(s => s.Total)),11} {Range(samples.Select(s => s.Attempt)),11} {Range(samples.Select(s => s.Overhead)),11} {Range(printed, "0.0"),11}"));
        lines.Add("   total: the command to its return; attempt: the new attempt's StartedAt–EndedAt in verdict.json; overhead = total − attempt;");
        lines.Add("   printed: the command's own \"rerun N: X s from the request to the new verdict\" (attempt included, engine start not; 0.1 s steps)");
        Console.WriteLine(string.Join('\n', lines) + "\n");
    }

    /// <summary>The workspace: suite <c>bench</c> with one test, the matrix (regions r001…), the inventory of the one host.</summary>
    private static void WriteWorkspace(Bench bench, int cells, SshdContainer host)
    {
        var options = new JsonSerializerOptions { WriteIndented = true };
        var suite = Path.Combine(bench.Root, "suites", "bench");
        Directory.CreateDirectory(suite);
        File.WriteAllText(Path.Combine(suite, "suite.json"), new JsonObject
        {
            ["tests"] = new JsonArray(new JsonObject { ["id"] = "true", ["script"] = "true.sh", ["timeoutSeconds"] = 30 }),
        }.ToJsonString(options));
        var script = Path.Combine(suite, "true.sh");
        File.WriteAllText(script, "#!/bin/sh\ntrue\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);

        var width = Math.Max(3, cells.ToString(CultureInfo.InvariantCulture).Length);
        var matrix = new JsonObject
        {
            ["name"] = "rerun-bench",
            ["images"] = new JsonArray(new JsonObject
            {
                ["id"] = "debian12", ["family"] = "debian", ["arch"] = "x64", ["version"] = "12",
                ["sources"] = new JsonObject { ["static"] = new JsonObject() },
            }),
            ["skuDefinitions"] = new JsonArray(new JsonObject { ["name"] = Sku, ["arch"] = "x64", ["vcpus"] = 1, ["memoryGiB"] = 1 }),
            ["skus"] = new JsonArray(Sku),
            ["regions"] = new JsonArray([.. Enumerable.Range(1, cells).Select(i => (JsonNode)("r" + i.ToString(CultureInfo.InvariantCulture).PadLeft(width, '0')))]),
            ["suites"] = new JsonArray("bench"),
        };
        File.WriteAllText(bench.Inventory, new JsonObject { ["hosts"] = new JsonArray(host.Entry(Sku)) }.ToJsonString(options));
        File.WriteAllText(bench.Matrix, matrix.ToJsonString(options));
    }

    /// <summary>
    /// The spans that end while it listens (TestGrid's: attempt, provision, boot, suite, teardown; Orleans': grain calls
    /// and storage), to split one rerun into phases by their boundaries.
    /// </summary>
    private sealed class Timeline : IDisposable
    {
        private readonly ActivityListener _listener;
        private readonly List<Span> _spans = [];

        public Timeline()
        {
            _listener = new ActivityListener
            {
                ShouldListenTo = source => source.Name.StartsWith("Microsoft.Orleans", StringComparison.Ordinal) || source.Name == Telemetry.TestGridTelemetry.Name,
                Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
                ActivityStopped = a => { lock (_spans) _spans.Add(new Span(a.DisplayName, a.StartTimeUtc, a.StartTimeUtc + a.Duration)); },
            };
            ActivitySource.AddActivityListener(_listener);
        }

        public void Dispose() => _listener.Dispose();

        private sealed record Span(string Name, DateTime Start, DateTime End);

        /// <summary>A rerun that began at <paramref name="begin"/> and took <paramref name="total"/> s, split at the spans' boundaries (null where a span is missing).</summary>
        public Phases Split(DateTime begin, double total)
        {
            List<Span> spans;
            lock (_spans) spans = [.. _spans.OrderBy(s => s.Start)];
            double? At(DateTime? t) => t is { } value ? (value - begin).TotalSeconds : null;
            Span? First(string name) => spans.FirstOrDefault(s => s.Name == name);
            // Grain calls show twice (caller and callee); the outer one starts first and ends last.
            var spec = First("IRunGrain/GetSpecAsync");
            var accepted = spans.Where(s => s.Name == "IRunGrain/RerunAsync").Select(s => (DateTime?)s.End).Max();
            var attempt = First("testgrid.attempt");
            var lastReport = spans.LastOrDefault(s => s.Name == "IRunGrain/GetReportAsync");
            var donePoll = lastReport is null ? null : spans.LastOrDefault(s => s.Name == "IRunGrain/GetProgressAsync" && s.Start <= lastReport.Start);
            var decided = donePoll is null ? null : spans.Where(s => s.Name == "write storage" && s.End <= donePoll.Start).Select(s => (DateTime?)s.End).Max();
            var boot = First("testgrid.boot");
            var suite = First("testgrid.suite");
            return new Phases(total, At(spec?.Start), At(accepted), At(attempt?.Start), At(attempt?.End), At(decided), At(donePoll?.Start),
                At(First("testgrid.provision")?.Start), At(boot?.Start), At(boot?.End), At(suite?.Start), At(suite?.End), At(First("testgrid.teardown")?.Start));
        }

        /// <summary>Seconds from the command's start at which each phase ends.</summary>
        public sealed record Phases(double Total, double? EngineStarted, double? Accepted, double? AttemptStarted, double? AttemptEnded, double? VerdictStored, double? VerdictSeen,
            double? Provision, double? BootStart, double? BootEnd, double? SuiteStart, double? SuiteEnd, double? Teardown)
        {
            public string Format(int cells)
            {
                static string D(double? from, double? to) => from is { } a && to is { } b ? string.Create(CultureInfo.InvariantCulture, $"{b - a,6:0.000}") : $"{"-",6}";
                var rows = new (string Label, double? From, double? To)[]
                {
                    ("engine start on the data folder (embedded silo, SQLite grain storage and ledger)", 0, EngineStarted),
                    ("the run's spec and report read, the rerun accepted (IRunGrain GetSpec, GetReport, Rerun)", EngineStarted, Accepted),
                    ("dispatch: cell grain started, the host's capacity granted", Accepted, AttemptStarted),
                    ("the attempt (excluded from the overhead)", AttemptStarted, AttemptEnded),
                    ($"attempt recorded (grain state, ledger), cell final, verdict over {cells} cells, run state written", AttemptEnded, VerdictStored),
                    ("until the command's next poll of the run (every 250 ms)", VerdictStored, VerdictSeen),
                    ("report read, verdict.json and junit.xml written, verdict printed, engine stopped", VerdictSeen, Total),
                };
                var lines = new List<string> { "== where a rerun's time goes: one more rerun, traced (TestGrid's spans and Orleans' grain calls, listened to in this process; s)" };
                foreach (var (label, from, to) in rows) lines.Add($"   {D(from, to)}  {label}");
                lines.Add(string.Create(CultureInfo.InvariantCulture, $"   {Total,6:0.000}  total; overhead {(AttemptStarted is { } s && AttemptEnded is { } e ? (Total - (e - s)).ToString("0.000", CultureInfo.InvariantCulture) : "-")}"));
                lines.Add($"   the attempt: provision {D(AttemptStarted, BootStart)}, SSH reached {D(BootStart, BootEnd)}, before the suite (stale-folder sweep, upload) {D(BootEnd, SuiteStart)}, suite {D(SuiteStart, SuiteEnd)}, teardown {D(Teardown, AttemptEnded)}");
                return string.Join('\n', lines);
            }
        }
    }

    private static string Size(string folder, string file)
    {
        long Length(string name) => File.Exists(Path.Combine(folder, name)) ? new FileInfo(Path.Combine(folder, name)).Length : 0;
        var wal = Length(file + "-wal");
        var main = string.Create(CultureInfo.InvariantCulture, $"{file} {Length(file) / 1e6:0.00} MB");
        return wal > 0 ? main + string.Create(CultureInfo.InvariantCulture, $" (+ WAL {wal / 1e6:0.00} MB)") : main;
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static string Range(IEnumerable<double> values, string format = "0.000")
    {
        var list = values.ToList();
        return list.Count == 0 ? "-" : $"{list.Min().ToString(format, CultureInfo.InvariantCulture)}–{list.Max().ToString(format, CultureInfo.InvariantCulture)}";
    }

    private static string FindRepository()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "deploy", "images", "docker-image.sh")) && File.Exists(Path.Combine(dir.FullName, "deploy", "local-hosts", "sshd_config.in")))
                return dir.FullName;
        }
        throw new InvalidOperationException("no deploy/images/docker-image.sh and deploy/local-hosts/sshd_config.in above the benchmark");
    }

    /// <summary>The CLI in its own build output (src/Client/bin/CONFIGURATION/net10.0/testgrid.dll, built with the benchmark), as the tests run it.</summary>
    private static string ClientProgram(string repo)
    {
        var configuration = BuildOutput.Configuration;
        var path = Path.Combine(repo, "src", "Client", "bin", configuration, "net10.0", "testgrid.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path} is not built: build the benchmark (dotnet build -c {configuration} bench/TestGrid.Bench)", path);
    }
}
