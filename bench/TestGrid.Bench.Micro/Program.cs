// Micro-benchmarks (BenchmarkDotNet) of TestGrid's hot paths, in this process (in-process emit toolchain: nothing is
// built or restored at run time), with a short job (3 warm-up and 6 measured iterations of ~250 ms) and the memory
// diagnoser, so the whole suite takes about two minutes on 2 cores:
//   - planning: the 10,000-cell matrix of bench/TestGrid.Bench (PlanBench) loaded + validated, and expanded into
//     9,999 cells with their ids (Planner.Expand);
//   - cell id hashing: CellIdentity.Compute of one cell (nested Azure source, SKU with features, two suites);
//   - result ingestion, per attempt result: CellResults.Merge and StateOf over a flaky cell's two attempts, the ledger
//     payloads both stores build (LedgerPayload: cell, attempt, 12 tests), AttemptResult to and from JSON
//     (TestGridJsonContext);
//   - policy evaluation: VerdictCalculator.Decide over 1,000 and 10,000 cells of 12 tests each, with flaky, failed,
//     advisory, quarantined, waived, retried and result-less cells, boot-time limits and baselines.
//
//   dotnet run -c Release --project bench/TestGrid.Bench.Micro -- [--figures FILE] [BenchmarkDotNet options]
//
// Without --filter every benchmark runs (--filter '*'); e.g. --filter '*Verdict*' runs one class, --list flat lists
// them, --job default replaces the short job with BenchmarkDotNet's default one. BenchmarkDotNet prints its summary
// table; then each figure is printed, and with --figures FILE they are written as a JSON array of
// {bench, name, value, unit, target?, simulated, note?} (the shape of bench/TestGrid.Bench/Figures.cs): per benchmark
// "<name>: mean" in its fixed unit and "<name>: allocated" in KB per operation. Reports go to
// $TMPDIR/testgrid-bench-micro (or --artifacts DIR).
using System.Globalization;
using System.Reflection;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Perfolizer.Horology;
using TestGrid.Bench.Micro;

var arguments = args.ToList();
string? figuresFile = null;
if (arguments.IndexOf("--figures") is >= 0 and var f)
{
    if (f + 1 >= arguments.Count)
    {
        Console.Error.WriteLine("--figures needs a file");
        return 3;
    }
    figuresFile = arguments[f + 1];
    arguments.RemoveRange(f, 2);
}
// Without a selection BenchmarkDotNet asks which benchmarks to run: run them all.
string[] selections = ["--filter", "-f", "--list", "--anyCategories", "--allCategories", "--help", "-h", "-?", "--version", "--info"];
if (!arguments.Any(a => selections.Contains(a, StringComparer.Ordinal))) arguments.AddRange(["--filter", "*"]);

var job = Job.ShortRun
    .WithToolchain(InProcessEmitToolchain.Instance)
    .WithIterationCount(6)
    .WithIterationTime(TimeInterval.FromMilliseconds(250))
    .WithId("ShortInProcess")
    .AsDefault();
var config = DefaultConfig.Instance
    .AddJob(job)
    .AddDiagnoser(MemoryDiagnoser.Default)
    .WithArtifactsPath(Path.Combine(Path.GetTempPath(), "testgrid-bench-micro"))
    .WithOptions(ConfigOptions.JoinSummary);

var summaries = BenchmarkSwitcher.FromAssembly(typeof(PlanBenchmarks).Assembly).Run([.. arguments], config).ToList();

var figures = new List<Figure>();
var failed = 0;
foreach (var report in summaries.SelectMany(s => s.Reports))
{
    var benchmark = report.BenchmarkCase;
    var method = benchmark.Descriptor.WorkloadMethod;
    var name = method.GetCustomAttribute<BenchmarkAttribute>()?.Description ?? method.Name;
    foreach (var parameter in benchmark.Parameters.Items)
        name = name.Replace($"{{{parameter.Name}}}", parameter.Value is int n ? n.ToString("N0", CultureInfo.InvariantCulture) : Convert.ToString(parameter.Value, CultureInfo.InvariantCulture), StringComparison.Ordinal);
    if (report.ResultStatistics is not { } statistics)
    {
        Console.Error.WriteLine($"{name}: no result (the benchmark failed; see the log above)");
        failed++;
        continue;
    }
    var unit = method.GetCustomAttribute<FigureUnitAttribute>()?.Unit ?? "µs";
    var note = method.GetCustomAttribute<FigureNoteAttribute>()?.Note;
    var scale = unit switch { "ns" => 1.0, "µs" => 1e3, "ms" => 1e6, "s" => 1e9, _ => throw new InvalidOperationException($"unknown unit {unit}") };
    figures.Add(new Figure("micro", $"{name}: mean", Math.Round(statistics.Mean / scale, 3), unit, Note: note));
    if (report.GcStats.GetBytesAllocatedPerOperation(benchmark) is { } bytes)
        figures.Add(new Figure("micro", $"{name}: allocated", Math.Round(bytes / 1024.0, 3), "KB", Note: note));
}

Console.WriteLine();
foreach (var figure in figures) Console.WriteLine($"FIGURE {figure}");
if (figuresFile is not null)
{
    await Figure.WriteAsync(figuresFile, figures);
    Console.WriteLine($"figures written to {figuresFile}");
}
return failed > 0 || summaries.Any(s => s.HasCriticalValidationErrors) ? 1 : 0;
