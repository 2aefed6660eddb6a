// Ledger write and query latency for a 1,000-cell run (issue 5), printed (not a test):
//
//   dotnet run -c Release --project bench/TestGrid.Bench -- ledger [--writers 16] [--stores sqlite,azurite[,azurite-disk]]
//       [--azurite "<connection string>"] [--history-runs 20] [--history-cells 50] [--reads 5] [--outputs full|runner] [--seed 1]
//
// About 4.5 min on the 2-core development machine when it is otherwise idle (SQLite ~10 s, Azurite the rest); the
// load average is printed because other work on the machine moves every figure (up to 2-3x).
// Stores: sqlite (a temp file, the embedded default); azurite (Azure Tables on Azurite started here from
// $TESTGRID_CACHE/azurite-3.35.0, installed by scripts/setup.sh, with --inMemoryPersistence on 127.0.0.1 and a free
// port, stopped at the end); azurite-disk (the same with --location in a temp folder: ~3.5 more minutes, figures like
// in memory, so not by default). --azurite uses a running Table service instead (tables with a unique suffix, deleted
// at the end).
// Outputs: full (default) = every test carries its captured output, a few KB, 2% of them the whole 64 KiB + 64 KiB
// capture (which the ledger shortens to an excerpt); runner = what SuiteRunner records today (no output for passed
// tests, a 2 KiB head + tail excerpt for the others).
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Data.Tables;
using Microsoft.Data.Sqlite;
using TestGrid.Attempts.Artifacts;
using TestGrid.History;
using TestGrid.Ledger;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Results;
using TestGrid.Testing;
using TestGrid.Verdict;

namespace TestGrid.Bench;

/// <summary>Options of the ledger benchmark.</summary>
internal sealed record LedgerBenchOptions
{
    public int Writers { get; init; } = 16;
    public IReadOnlyList<string> Stores { get; init; } = ["sqlite", "azurite"];
    public string? AzuriteConnection { get; init; }
    public int HistoryRuns { get; init; } = 20;
    public int HistoryCells { get; init; } = 50;
    public int Reads { get; init; } = 5;
    public bool FullOutputs { get; init; } = true;
    public int Seed { get; init; } = 1;

    public static LedgerBenchOptions Parse(IReadOnlyList<string> arguments)
    {
        string? Value(string name) => arguments.ToList().IndexOf(name) is >= 0 and var i && i + 1 < arguments.Count ? arguments[i + 1] : null;
        int Int(string name, int fallback) => Value(name) is { } v ? int.Parse(v, CultureInfo.InvariantCulture) : fallback;
        var options = new LedgerBenchOptions
        {
            Writers = Int("--writers", 16),
            AzuriteConnection = Value("--azurite"),
            HistoryRuns = Int("--history-runs", 20),
            HistoryCells = Int("--history-cells", 50),
            Reads = Int("--reads", 5),
            Seed = Int("--seed", 1),
            FullOutputs = (Value("--outputs") ?? "full") switch
            {
                "full" => true,
                "runner" => false,
                var other => throw new ArgumentException($"--outputs {other}: expected full or runner"),
            },
        };
        if (Value("--stores") is { } stores) options = options with { Stores = stores.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) };
        else if (options.AzuriteConnection is not null) options = options with { Stores = ["sqlite", "azurite"] };
        foreach (var store in options.Stores)
        {
            if (store is not ("sqlite" or "azurite" or "azurite-disk")) throw new ArgumentException($"--stores: unknown store '{store}' (sqlite, azurite, azurite-disk)");
        }
        if (options.AzuriteConnection is not null && options.Stores.Contains("azurite-disk"))
            throw new ArgumentException("--stores azurite-disk starts its own Azurite; with --azurite use --stores sqlite,azurite");
        if (options.Writers < 1 || options.Reads < 1 || options.HistoryRuns < 0 || options.HistoryCells < 1) throw new ArgumentException("counts must be positive");
        return options;
    }
}

/// <summary>
/// The results ledger under a release-sized run: a generated matrix (5 image families × x64 and arm64, the 10 SKUs of
/// <c>deploy/skus/azure.json</c>, 20 regions, the repository's boot, smoke and conformance suites) planned by the real
/// planner for the azure provider (1,000 cells, 26 tests each), with synthetic attempts (5% infrastructure errors retried
/// once, a few failures, skips and timeouts), written to each store the way a run does: the run's row at its start, then
/// per cell each attempt and the cell's final state, from N concurrent writers, then the run's row with its verdict.
/// Before it, N smaller runs of the same matrix (one family, 5 regions) build history. Then the reads: the whole run,
/// one test's history on one image family × SKU and on every one, one cell name's attempts, one family × SKU's metrics,
/// and the cost of writing an attempt again.
/// </summary>
internal static class LedgerBench
{

    private static readonly string[] Families = ["azurelinux", "acl", "debian", "ubuntu", "rhel"];

    private static readonly string[] Regions =
    [
        "eastus", "eastus2", "westus2", "westus3", "centralus", "southcentralus", "canadacentral", "brazilsouth", "northeurope", "westeurope",
        "uksouth", "francecentral", "germanywestcentral", "swedencentral", "japaneast", "koreacentral", "southeastasia", "centralindia",
        "australiaeast", "southafricanorth",
    ];

    private static readonly string[] Suites = ["boot", "smoke", "conformance"];

    /// <summary>The history query: this test on this image family × SKU.</summary>
    private const string HistorySuite = "conformance", HistoryTest = "ssh-root-login", HistoryFamily = "azurelinux", HistorySku = "Standard_D2s_v5";

    public static async Task RunAsync(LedgerBenchOptions options)
    {
        var repo = FindRepository();
        var temp = Path.Combine(Path.GetTempPath(), $"testgrid-ledger-bench-{Environment.ProcessId}");
        Directory.CreateDirectory(temp);
        var total = Stopwatch.StartNew();
        try
        {
            var generate = Stopwatch.StartNew();
            var loaded = MatrixLoader.Load(WriteMatrix(repo, temp));
            var plan = Planner.Expand(loaded, "azure");
            var synthesis = new Synthesis(loaded, options.FullOutputs, options.Seed);
            var start = new DateTimeOffset(2026, 6, 1, 2, 0, 0, TimeSpan.Zero);
            var main = synthesis.Run("bench-main", plan.Cells, start);
            var historyCells = plan.Cells.Where(c => c.Image.Family == HistoryFamily && Regions.AsSpan(0, 5).Contains(c.Region)).Take(options.HistoryCells).ToList();
            var history = Enumerable.Range(1, options.HistoryRuns)
                .Select(i => synthesis.Run($"bench-history-{i:D2}", historyCells, start.AddDays(i - options.HistoryRuns - 1)))
                .ToList();
            var serialCells = plan.Cells.Where((_, i) => i % 10 == 5).ToList();
            var serial = synthesis.Run("bench-serial", serialCells, start.AddHours(6));
            generate.Stop();

            var tests = main.Cells.Sum(c => c.Attempts.Sum(a => a.Tests.Count));
            var attempts = main.Cells.Sum(c => c.Attempts.Count);
            var outputs = main.Cells.SelectMany(c => c.Attempts).SelectMany(a => a.Tests).Select(t => t.Output).ToList();
            var json = main.Cells.SelectMany(c => c.Attempts).Sum(a => (long)JsonSerializer.Serialize(a, TestGridJsonContext.Default.AttemptResult).Length);
            var expectedHistory = CountHistory(main) + history.Sum(CountHistory);
            // LedgerPayload.MaxChars: a test whose JSON is longer is stored with an excerpt of its output.
            var excerpted = main.Cells.SelectMany(c => c.Attempts).SelectMany(a => a.Tests)
                .Count(t => JsonSerializer.Serialize(t, TestGridJsonContext.Default.TestResult).Length > 30_000);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
                ledger write and query latency: a {plan.Cells.Count:N0}-cell run ({loaded.Definition.Images.Count} images of {Families.Length} families × {loaded.Skus.Count} SKUs × {Regions.Length} regions, {plan.ArchMismatches:N0} arch mismatches left out by the planner; provider azure)
                  {attempts:N0} attempts ({attempts - plan.Cells.Count} infrastructure retries), {tests:N0} test results ({Suites.Length} suites, {main.Cells.Select(c => c.Attempts[^1].Tests.Count).Max()} in a completed attempt), verdict {main.Verdict}
                  outputs: {(options.FullOutputs ? "full (every test keeps its capture)" : "runner (passed: none; others: 2 KiB head + tail)")}: {outputs.Count(o => o is not null):N0} outputs, {outputs.Count(o => o is { DroppedBytes: > 0 }):N0} capped, {excerpted:N0} over the ledger's 30,000-character payload (it keeps an excerpt); {json / 1e6:0.0} M characters of attempt JSON
                  history: {options.HistoryRuns} earlier runs of {historyCells.Count} cells ({HistoryFamily}, {historyCells.Select(c => c.Sku.Name).Distinct().Count()} SKUs, 5 regions), one a day, written before the run; the query is {HistorySuite}/{HistoryTest} on {HistoryFamily} × {HistorySku}: {expectedHistory} entries
                  {options.Writers} concurrent writers (a cell's attempts and final state in order, like --parallel {options.Writers}); reads repeated {options.Reads}×; generated in {generate.Elapsed.TotalSeconds:0.0} s
                machine: {Environment.ProcessorCount} cores ({CpuModel()}), {Environment.OSVersion}, .NET {Environment.Version}, SQLite {SqliteVersion()}, Azurite {AzuriteVersionText(options)}, Node {NodeVersion()}; load average {LoadAverage()}

                """));

            var results = new List<StoreResult>();
            foreach (var store in options.Stores)
            {
                Console.Error.WriteLine($"ledger bench: {store}…");
                var result = await MeasureStoreAsync(store, options, temp, main, history, serial, expectedHistory);
                results.Add(result);
                Print(result, options);
            }
            PrintSummary(results, options, main);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"\nwhole benchmark: {total.Elapsed.TotalSeconds:0} s; load average at the end {LoadAverage()}"));
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }

    private static int CountHistory(SynthRun run) => run.Cells
        .Where(c => c.Cell.Image.Family == HistoryFamily && c.Cell.Sku.Name == HistorySku)
        .Sum(c => c.Attempts.Count(a => a.Tests.Any(t => t.Suite == HistorySuite && t.Test == HistoryTest)));

    // ---------------------------------------------------------------- measuring one store

    private sealed class StoreResult
    {
        public required string Name { get; init; }
        public required string Description { get; init; }
        public TimeSpan? ServerStart { get; set; }
        public Latencies HistoryWrites { get; } = new();
        public TimeSpan HistoryWall { get; set; }
        public Latencies Writes { get; } = new();
        public TimeSpan WriteWall { get; set; }
        public double FirstRead { get; set; }
        public List<double> Reads { get; } = [];
        public string ReadShape { get; set; } = "";
        public double HistoryFirst50 { get; set; }
        public List<double> History50 { get; } = [];
        public List<double> HistoryAll { get; } = [];
        public int HistoryReturned50 { get; set; }
        public int HistoryReturnedAll { get; set; }
        public List<double> SerialFirst { get; } = [];
        public List<double> SerialRewrite { get; } = [];
        public List<double> Rewrite { get; } = [];
        public string StoredAfterRewrite { get; set; } = "";
        public string Size { get; set; } = "";
        public List<(string Label, List<double> Values)> Probes { get; } = [];

        /// <summary>The other history reads, repeated: label (with what they returned) and latencies.</summary>
        public List<(string Label, List<double> Values)> OtherHistory { get; } = [];
    }

    /// <summary>Per-call latencies in milliseconds, by operation, from concurrent writers.</summary>
    private sealed class Latencies
    {
        private readonly ConcurrentDictionary<string, List<double>> _byOperation = new(StringComparer.Ordinal);

        public void Add(string operation, long startTimestamp)
        {
            var ms = Stopwatch.GetElapsedTime(startTimestamp).TotalMilliseconds;
            var list = _byOperation.GetOrAdd(operation, _ => []);
            lock (list) list.Add(ms);
        }

        public IReadOnlyList<double> this[string operation] => _byOperation.TryGetValue(operation, out var list) ? list : [];
    }

    private static async Task<StoreResult> MeasureStoreAsync(string store, LedgerBenchOptions options, string temp, SynthRun main,
        IReadOnlyList<SynthRun> history, SynthRun serial, int expectedHistory)
    {
        var folder = Path.Combine(temp, store);
        Directory.CreateDirectory(folder);
        AzuriteProcess? azurite = null;
        string? connection = null;
        var suffix = Guid.NewGuid().ToString("N")[..10];
        StoreResult result;
        Func<IResultLedger> open;
        if (store == "sqlite")
        {
            var path = Path.Combine(folder, "ledger.db");
            result = new StoreResult { Name = "SQLite", Description = $"a SQLite file (WAL) in {Path.GetTempPath()}; SqliteLedger runs one write at a time, so concurrent writers queue" };
            open = () => new SqliteLedger(path);
        }
        else
        {
            if (options.AzuriteConnection is { } given)
            {
                connection = given;
                result = new StoreResult { Name = "Azure Tables", Description = "Azure Tables at the given connection string" };
            }
            else
            {
                var disk = store == "azurite-disk";
                var started = Stopwatch.StartNew();
                azurite = await AzuriteProcess.StartAsync(disk ? Path.Combine(folder, "azurite") : null);
                connection = azurite.ConnectionString;
                result = new StoreResult
                {
                    Name = disk ? "Azurite disk" : "Azurite memory",
                    Description = $"Azure Tables on Azurite {AzuriteProcess.Version} ({(disk ? "--location in a temp folder" : "--inMemoryPersistence")}), 127.0.0.1:{azurite.TablePort}",
                    ServerStart = started.Elapsed,
                };
            }
            var conn = connection;
            open = () => new TableLedger(new TableServiceClient(conn), $"benchruns{suffix}", $"benchhistory{suffix}");
        }

        try
        {
            var ledger = open();

            // History first: the ledger holds earlier runs when the release-sized run is written.
            var watch = Stopwatch.StartNew();
            foreach (var run in history) await WriteRunAsync(ledger, run, options.Writers, result.HistoryWrites);
            result.HistoryWall = watch.Elapsed;

            watch.Restart();
            await WriteRunAsync(ledger, main, options.Writers, result.Writes);
            result.WriteWall = watch.Elapsed;

            // The whole run: first from a new ledger instance (SQLite: a new connection pool), then repeated.
            if (store == "sqlite") SqliteConnection.ClearAllPools();
            var reader = open();
            var begin = Stopwatch.GetTimestamp();
            var record = await reader.GetRunAsync(main.RunId, CancellationToken.None) ?? throw new InvalidOperationException("the run is not in the ledger");
            result.FirstRead = Stopwatch.GetElapsedTime(begin).TotalMilliseconds;
            result.ReadShape = Shape(record);
            var expected = Shape(main);
            if (result.ReadShape != expected) throw new InvalidOperationException($"{store} gave back {result.ReadShape}, not {expected}");
            for (var i = 0; i < options.Reads; i++)
            {
                begin = Stopwatch.GetTimestamp();
                await reader.GetRunAsync(main.RunId, CancellationToken.None);
                result.Reads.Add(Stopwatch.GetElapsedTime(begin).TotalMilliseconds);
            }

            // One test's history on one family × SKU: the last 50 (a triage view), and all of it.
            begin = Stopwatch.GetTimestamp();
            var entries = await reader.GetTestHistoryAsync(new TestHistoryQuery(HistorySuite, HistoryTest, HistoryFamily, HistorySku, Limit: 50), CancellationToken.None);
            result.HistoryFirst50 = Stopwatch.GetElapsedTime(begin).TotalMilliseconds;
            result.HistoryReturned50 = entries.Count;
            for (var i = 0; i < Math.Max(20, options.Reads); i++)
            {
                begin = Stopwatch.GetTimestamp();
                await reader.GetTestHistoryAsync(new TestHistoryQuery(HistorySuite, HistoryTest, HistoryFamily, HistorySku, Limit: 50), CancellationToken.None);
                result.History50.Add(Stopwatch.GetElapsedTime(begin).TotalMilliseconds);
                begin = Stopwatch.GetTimestamp();
                entries = await reader.GetTestHistoryAsync(new TestHistoryQuery(HistorySuite, HistoryTest, HistoryFamily, HistorySku, Limit: 10_000), CancellationToken.None);
                result.HistoryAll.Add(Stopwatch.GetElapsedTime(begin).TotalMilliseconds);
            }
            result.HistoryReturnedAll = entries.Count;
            if (entries.Count != expectedHistory) throw new InvalidOperationException($"{store}: history has {entries.Count} entries, expected {expectedHistory}");

            // The other history reads: the test on every family × SKU (the default limit), one cell name's attempts, the metrics baselines read.
            var named = history[0].Cells[0].Cell.Name;
            await MeasureReadsAsync(result, options, $"GetTestHistoryAsync {HistorySuite}/{HistoryTest}, every family × SKU, limit {TestHistoryQuery.DefaultLimit}",
                () => reader.GetTestHistoryAsync(new TestHistoryQuery(HistorySuite, HistoryTest), CancellationToken.None));
            await MeasureReadsAsync(result, options, $"GetCellHistoryAsync {named}, limit 50",
                () => reader.GetCellHistoryAsync(named, null, 50, CancellationToken.None));
            await MeasureReadsAsync(result, options, $"GetMetricHistoryAsync {HistoryFamily} × {HistorySku}, limit 50",
                () => reader.GetMetricHistoryAsync(HistoryFamily, HistorySku, main.RunId, 50, CancellationToken.None));

            // Idempotence, one call at a time: attempts written for the first time (a new run), the same written again,
            // and attempts of the 1,000-cell run written again in place.
            await ledger.RecordRunAsync(serial.Start, CancellationToken.None);
            foreach (var cell in serial.Cells)
            {
                var attempt = cell.Attempts[^1];
                begin = Stopwatch.GetTimestamp();
                await ledger.RecordAttemptAsync(serial.RunId, cell.Cell, attempt, CancellationToken.None);
                result.SerialFirst.Add(Stopwatch.GetElapsedTime(begin).TotalMilliseconds);
            }
            foreach (var cell in serial.Cells)
            {
                var attempt = cell.Attempts[^1];
                begin = Stopwatch.GetTimestamp();
                await ledger.RecordAttemptAsync(serial.RunId, cell.Cell, attempt, CancellationToken.None);
                result.SerialRewrite.Add(Stopwatch.GetElapsedTime(begin).TotalMilliseconds);
            }
            foreach (var cell in main.Cells.Where((_, i) => i % 50 == 25))
            {
                var attempt = cell.Attempts[^1];
                begin = Stopwatch.GetTimestamp();
                await ledger.RecordAttemptAsync(main.RunId, cell.Cell, attempt, CancellationToken.None);
                result.Rewrite.Add(Stopwatch.GetElapsedTime(begin).TotalMilliseconds);
            }
            var again = await reader.GetRunAsync(main.RunId, CancellationToken.None);
            var serialAgain = await reader.GetRunAsync(serial.RunId, CancellationToken.None);
            result.StoredAfterRewrite = $"the run still reads back as {Shape(again!)}; the serial run as {Shape(serialAgain!)}";

            if (connection is not null) await ProbeTablesAsync(new TableServiceClient(connection).GetTableClient($"benchruns{suffix}"), main, serial, result);

            result.Size = store switch
            {
                "sqlite" => $"{Megabytes(Directory.EnumerateFiles(folder).Sum(f => new FileInfo(f).Length))} on disk (database + WAL)",
                "azurite-disk" => $"{Megabytes(Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length))} in Azurite's folder",
                _ => azurite is not null ? $"Azurite's resident memory {Megabytes(azurite.ResidentBytes())}" : "",
            };

            if (azurite is null && connection is not null)
            {
                var service = new TableServiceClient(connection);
                await service.DeleteTableAsync($"benchruns{suffix}");
                await service.DeleteTableAsync($"benchhistory{suffix}");
            }
            return result;
        }
        finally
        {
            if (azurite is not null) await azurite.DisposeAsync();
        }
    }

    /// <summary>One read, timed first and then repeated (as the one-test history is), with how many rows it returned.</summary>
    private static async Task MeasureReadsAsync<T>(StoreResult result, LedgerBenchOptions options, string label, Func<Task<IReadOnlyList<T>>> read)
    {
        var times = new List<double>();
        var count = 0;
        for (var i = 0; i < Math.Max(20, options.Reads); i++)
        {
            var begin = Stopwatch.GetTimestamp();
            count = (await read()).Count;
            times.Add(Stopwatch.GetElapsedTime(begin).TotalMilliseconds);
        }
        result.OtherHistory.Add(($"{label} ({count} returned)", times));
    }

    /// <summary>A run written as a run writes it: its row, then per cell its attempts in order and its final state, from concurrent writers, then its row with the verdict.</summary>
    private static async Task WriteRunAsync(IResultLedger ledger, SynthRun run, int writers, Latencies latencies)
    {
        var begin = Stopwatch.GetTimestamp();
        await ledger.RecordRunAsync(run.Start, CancellationToken.None);
        latencies.Add("RecordRunAsync (start)", begin);
        var next = -1;
        var workers = Enumerable.Range(0, writers).Select(_ => Task.Run(async () =>
        {
            while (Interlocked.Increment(ref next) is var i && i < run.Cells.Count)
            {
                var cell = run.Cells[i];
                foreach (var attempt in cell.Attempts)
                {
                    var t = Stopwatch.GetTimestamp();
                    await ledger.RecordAttemptAsync(run.RunId, cell.Cell, attempt, CancellationToken.None);
                    latencies.Add(attempt.Outcome == AttemptOutcome.Completed ? "RecordAttemptAsync" : "RecordAttemptAsync (infra error)", t);
                }
                var c = Stopwatch.GetTimestamp();
                await ledger.RecordCellAsync(run.RunId, cell.Cell, cell.Attempts[^1].CellState, cell.Detail, CancellationToken.None);
                latencies.Add("RecordCellAsync", c);
            }
        })).ToList();
        await Task.WhenAll(workers);
        begin = Stopwatch.GetTimestamp();
        await ledger.RecordRunAsync(run.End, CancellationToken.None);
        latencies.Add("RecordRunAsync (end)", begin);
    }

    /// <summary>
    /// Where an Azure Tables write spends its time: the range query RecordAttemptAsync makes for an attempt's earlier
    /// test rows, and a point read of one row (an upsert looks its row up so), in the 1,000-cell run's partition and in the
    /// 100-cell run's: Azurite finds a row by scanning its partition, Azure Tables by its key. Row keys
    /// as TableLedger documents them (<c>test|cell|nnn|suite:test</c>; the ids here need no escaping).
    /// </summary>
    private static async Task ProbeTablesAsync(TableClient runs, SynthRun main, SynthRun serial, StoreResult result)
    {
        async Task<List<double>> TimeAsync(Func<Task> call)
        {
            var values = new List<double>();
            for (var i = 0; i < 20; i++)
            {
                var begin = Stopwatch.GetTimestamp();
                await call();
                values.Add(Stopwatch.GetElapsedTime(begin).TotalMilliseconds);
            }
            return values;
        }
        async Task<int> RangeAsync(SynthRun run)
        {
            var cell = run.Cells[run.Cells.Count / 2];
            var prefix = $"test|{cell.Cell.Id}|{cell.Attempts[^1].Number:D3}|";
            var count = 0;
            await foreach (var _ in runs.QueryAsync<TableEntity>(
                               $"PartitionKey eq '{run.RunId}' and RowKey ge '{prefix}' and RowKey lt '{prefix[..^1]}}}'", select: ["PartitionKey", "RowKey"]))
            {
                count++;
            }
            return count;
        }
        var rows = await RangeAsync(main);
        result.Probes.Add(($"range query ({rows} rows), {main.Cells.Count:N0}-cell run's partition", await TimeAsync(() => RangeAsync(main))));
        result.Probes.Add(($"range query ({rows} rows), {serial.Cells.Count:N0}-cell run's partition", await TimeAsync(() => RangeAsync(serial))));
        foreach (var run in (SynthRun[])[main, serial])
        {
            var cell = run.Cells[run.Cells.Count / 2];
            result.Probes.Add(($"point read of one row, {run.Cells.Count:N0}-cell run's partition",
                await TimeAsync(() => runs.GetEntityAsync<TableEntity>(run.RunId, $"cell|{cell.Cell.Id}"))));
        }
    }

    private static string Shape(LedgerRunRecord record) =>
        $"{record.Cells.Count:N0} cells / {record.Cells.Sum(c => c.Attempts.Count):N0} attempts / {record.Cells.Sum(c => c.Attempts.Sum(a => a.Tests.Count)):N0} tests";

    private static string Shape(SynthRun run) =>
        $"{run.Cells.Count:N0} cells / {run.Cells.Sum(c => c.Attempts.Count):N0} attempts / {run.Cells.Sum(c => c.Attempts.Sum(a => a.Tests.Count)):N0} tests";

    // ---------------------------------------------------------------- printing

    private static readonly string[] WriteOperations = ["RecordRunAsync (start)", "RecordAttemptAsync", "RecordAttemptAsync (infra error)", "RecordCellAsync", "RecordRunAsync (end)"];

    private static void Print(StoreResult r, LedgerBenchOptions options)
    {
        var lines = new List<string> { $"== {r.Name}: {r.Description}" };
        if (r.ServerStart is { } s) lines.Add(string.Create(CultureInfo.InvariantCulture, $"   Azurite started (port answers) in {s.TotalSeconds:0.00} s"));
        lines.Add(string.Create(CultureInfo.InvariantCulture, $"   {"latency (ms)",-52} {"calls",7} {"p50",9} {"p95",9} {"p99",9} {"max",9} {"mean",9}"));
        var attempts = r.Writes["RecordAttemptAsync"].Count + r.Writes["RecordAttemptAsync (infra error)"].Count;
        lines.Add($"   write the {r.Writes["RecordCellAsync"].Count:N0}-cell run, {options.Writers} writers:");
        foreach (var op in WriteOperations) lines.Add(Row("  " + op, r.Writes[op]));
        var inOrder = r.Writes["RecordAttemptAsync"];
        var tenth = Math.Max(1, inOrder.Count / 10);
        lines.Add(Row($"    the first {tenth} to end", [.. inOrder.Take(tenth)]));
        lines.Add(Row($"    the last {tenth} to end", [.. inOrder.Skip(inOrder.Count - tenth)]));
        lines.Add(string.Create(CultureInfo.InvariantCulture,
            $"     wall {r.WriteWall.TotalSeconds:0.0} s: {r.Writes["RecordCellAsync"].Count / r.WriteWall.TotalSeconds:0} cells/s, {attempts / r.WriteWall.TotalSeconds:0} attempts/s"));
        var historyCalls = r.HistoryWrites["RecordAttemptAsync"].Count + r.HistoryWrites["RecordAttemptAsync (infra error)"].Count;
        if (historyCalls > 0)
        {
            lines.Add($"   before it, {options.HistoryRuns} history runs of {options.HistoryCells} cells, {options.Writers} writers:");
            lines.Add(Row("  RecordAttemptAsync", [.. r.HistoryWrites["RecordAttemptAsync"], .. r.HistoryWrites["RecordAttemptAsync (infra error)"]]));
            lines.Add(string.Create(CultureInfo.InvariantCulture, $"     wall {r.HistoryWall.TotalSeconds:0.0} s: {historyCalls / r.HistoryWall.TotalSeconds:0} attempts/s"));
        }
        lines.Add($"   GetRunAsync, the whole run ({r.ReadShape}):");
        lines.Add(Row("  first (new ledger instance)", [r.FirstRead]));
        lines.Add(Row($"  repeated ×{r.Reads.Count}", r.Reads));
        lines.Add($"   GetTestHistoryAsync {HistorySuite}/{HistoryTest} on {HistoryFamily} × {HistorySku}:");
        lines.Add(Row($"  limit 50, first ({r.HistoryReturned50} entries)", [r.HistoryFirst50]));
        lines.Add(Row($"  limit 50, repeated", r.History50));
        lines.Add(Row($"  all ({r.HistoryReturnedAll} entries), repeated", r.HistoryAll));
        foreach (var (label, values) in r.OtherHistory)
        {
            lines.Add($"   {label}:");
            lines.Add(Row("  first, then repeated", values));
        }
        lines.Add("   RecordAttemptAsync one call at a time (idempotence):");
        lines.Add(Row("  first write (a new run)", r.SerialFirst));
        lines.Add(Row("  the same attempts written again", r.SerialRewrite));
        lines.Add(Row("  attempts of the 1,000-cell run again", r.Rewrite));
        lines.Add($"     {r.StoredAfterRewrite}");
        if (r.Probes.Count > 0)
        {
            lines.Add("   the calls RecordAttemptAsync makes, alone (TableClient on the runs table, 20 each):");
            foreach (var (label, values) in r.Probes) lines.Add(Row("  " + label, values));
        }
        if (r.Size.Length > 0) lines.Add($"   size: {r.Size}");
        Console.WriteLine(string.Join('\n', lines) + "\n");
    }

    private static string Row(string label, IReadOnlyList<double> values)
    {
        if (values.Count == 0) return $"   {label,-52} {0,7}";
        var sorted = values.Order().ToList();
        return string.Create(CultureInfo.InvariantCulture,
            $"   {label,-52} {values.Count,7:N0} {Ms(Percentile(sorted, 50)),9} {Ms(Percentile(sorted, 95)),9} {Ms(Percentile(sorted, 99)),9} {Ms(sorted[^1]),9} {Ms(sorted.Average()),9}");
    }

    private static void PrintSummary(List<StoreResult> results, LedgerBenchOptions options, SynthRun main)
    {
        if (results.Count == 0) return;
        var tests = main.Cells.Sum(c => c.Attempts.Sum(a => a.Tests.Count));
        var rows = new List<(string Label, Func<StoreResult, string> Value)>
        {
            ($"write the run ({options.Writers} writers), wall", r => $"{r.WriteWall.TotalSeconds:0.0} s"),
            ("  throughput (test results/s)", r => $"{tests / r.WriteWall.TotalSeconds:N0}"),
            ("  RecordAttemptAsync p50 / p99", r => PairOf(r.Writes["RecordAttemptAsync"], 50, 99)),
            ("  RecordCellAsync p50 / p99", r => PairOf(r.Writes["RecordCellAsync"], 50, 99)),
            ("RecordAttemptAsync alone: first / again p50", r => $"{Ms(Percentile(r.SerialFirst.Order().ToList(), 50))} / {Ms(Percentile(r.SerialRewrite.Order().ToList(), 50))} ms"),
            ("GetRunAsync whole run: first", r => $"{Ms(r.FirstRead)} ms"),
            ("  repeated p50 (min–max)", r => $"{Ms(Percentile(r.Reads.Order().ToList(), 50))} ({Ms(r.Reads.Min())}–{Ms(r.Reads.Max())}) ms"),
            ("GetTestHistoryAsync limit 50 p50", r => $"{Ms(Percentile(r.History50.Order().ToList(), 50))} ms"),
            ($"  all entries p50", r => $"{Ms(Percentile(r.HistoryAll.Order().ToList(), 50))} ms"),
        };
        const int width = 18;
        var lines = new List<string> { "== summary (ms unless stated; per-call latencies include waiting for the store under concurrency)" };
        lines.Add($"   {"",-44}" + string.Concat(results.Select(r => $" {r.Name,width}")));
        foreach (var (label, value) in rows)
            lines.Add($"   {label,-44}" + string.Concat(results.Select(r => $" {string.Create(CultureInfo.InvariantCulture, $"{value(r)}"),width}")));
        Console.WriteLine(string.Join('\n', lines));
    }

    private static string PairOf(IReadOnlyList<double> values, int a, int b)
    {
        var sorted = values.Order().ToList();
        return $"{Ms(Percentile(sorted, a))} / {Ms(Percentile(sorted, b))} ms";
    }

    /// <summary>Nearest rank.</summary>
    private static double Percentile(IReadOnlyList<double> sorted, int p) =>
        sorted.Count == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p / 100.0 * sorted.Count) - 1, 0, sorted.Count - 1)];

    private static string Ms(double ms) => ms switch
    {
        double.NaN => "-",
        < 10 => ms.ToString("0.00", CultureInfo.InvariantCulture),
        < 100 => ms.ToString("0.0", CultureInfo.InvariantCulture),
        _ => ms.ToString("N0", CultureInfo.InvariantCulture),
    };

    private static string Megabytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:0.0} MB");

    // ---------------------------------------------------------------- the matrix and the synthetic run

    private static string WriteMatrix(string repo, string temp)
    {
        var images = new JsonArray();
        foreach (var family in Families)
        {
            foreach (var arch in (string[])["x64", "arm64"])
            {
                var version = $"{(family == "azurelinux" ? "3.0" : "1.0")}.20260601";
                images.Add(new JsonObject
                {
                    ["id"] = $"{family}-{arch}", ["family"] = family, ["arch"] = arch, ["version"] = version,
                    ["sources"] = new JsonObject
                    {
                        ["azure"] = new JsonObject
                        {
                            ["galleryImageVersionId"] = $"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/images/providers/Microsoft.Compute/galleries/candidates/images/{family}-{arch}/versions/{version}",
                        },
                    },
                });
            }
        }
        var catalog = Path.Combine(repo, "deploy", "skus", "azure.json");
        var skus = new JsonArray([.. JsonNode.Parse(File.ReadAllText(catalog))!["skus"]!.AsArray().Select(s => (JsonNode)s!["name"]!.GetValue<string>())]);
        var matrix = new JsonObject
        {
            ["name"] = "ledger-bench",
            ["images"] = images,
            ["skuCatalog"] = catalog,
            ["skus"] = skus,
            ["regions"] = new JsonArray([.. Regions.Select(r => (JsonNode)r)]),
            ["suites"] = new JsonArray([.. Suites.Select(s => (JsonNode)s)]),
            ["suitesPath"] = Path.Combine(repo, "suites"),
            ["policy"] = new JsonObject { ["infrastructureRetries"] = 2 },
        };
        var path = Path.Combine(temp, "matrix.json");
        File.WriteAllText(path, matrix.ToJsonString());
        return path;
    }

    private sealed record SynthCell(Cell Cell, IReadOnlyList<AttemptResult> Attempts, string? Detail);

    private sealed record SynthRun(string RunId, LedgerRun Start, LedgerRun End, IReadOnlyList<SynthCell> Cells, VerdictStatus Verdict);

    /// <summary>Attempts and test results as the runner makes them, from a seeded random source.</summary>
    private sealed class Synthesis
    {
        private static readonly string[] InfraKinds = ["allocation", "unreachable", "boot-timeout", "ssh-dropped"];
        private readonly LoadedMatrix _matrix;
        private readonly bool _fullOutputs;
        private readonly Random _random;
        private readonly string _corpus;
        private readonly CapturedOutput[] _large;

        public Synthesis(LoadedMatrix matrix, bool fullOutputs, int seed)
        {
            _matrix = matrix;
            _fullOutputs = fullOutputs;
            _random = new Random(seed);
            _corpus = Corpus(_random, 512 * 1024);
            // Captures of tests that printed a lot (a journal, a package list): 64 KiB of head and tail kept, the middle dropped.
            _large = [.. Enumerable.Range(0, 16).Select(_ =>
            {
                var capture = new OutputCapture();
                var bytes = Encoding.UTF8.GetBytes(_corpus);
                var total = 150_000 + _random.Next(400_000);
                for (var written = 0; written < total; written += 8192) capture.Append(bytes.AsSpan(_random.Next(bytes.Length - 8192), Math.Min(8192, total - written)));
                return capture.ToCaptured();
            })];
        }

        public SynthRun Run(string runId, IReadOnlyList<Cell> cells, DateTimeOffset start)
        {
            var synthCells = new List<SynthCell>(cells.Count);
            var clock = start.AddMinutes(2);
            foreach (var cell in cells)
            {
                var attempts = new List<AttemptResult>();
                var retried = _random.NextDouble() < 0.05;
                var begin = clock.AddSeconds(_random.Next(0, 3600));
                if (retried)
                {
                    var failed = Attempt(runId, cell, 1, begin, infrastructure: true);
                    attempts.Add(failed);
                    begin = failed.EndedAt.AddSeconds(5);
                }
                attempts.Add(Attempt(runId, cell, attempts.Count + 1, begin, infrastructure: false));
                synthCells.Add(new SynthCell(cell, attempts, null));
            }
            var verdict = VerdictCalculator.Decide([.. synthCells.Select(c => new CellReport(c.Cell, c.Attempts[^1].CellState, c.Attempts))], VerdictInputs.Default(DateTimeOffset.UtcNow));
            var end = synthCells.Max(c => c.Attempts[^1].EndedAt).AddSeconds(10);
            return new SynthRun(runId, new LedgerRun(runId, _matrix.Definition.Name, "azure", start),
                new LedgerRun(runId, _matrix.Definition.Name, "azure", start, end, verdict.Status), synthCells, verdict.Status);
        }

        private AttemptResult Attempt(string runId, Cell cell, int number, DateTimeOffset begin, bool infrastructure)
        {
            var folder = ArtifactLayout.AttemptFolder(cell, number);
            var provisioned = 45 + _random.NextDouble() * 60;
            var banner = provisioned + 20 + _random.NextDouble() * 25;
            var metrics = new Dictionary<string, double>
            {
                ["azure.provisioned"] = Math.Round(provisioned, 3),
                ["azure.calls"] = 13 + (_random.NextDouble() < 0.1 ? _random.Next(1, 8) : 0),
                ["azure.retries"] = _random.NextDouble() < 0.1 ? 1 : 0,
                ["boot.first_console_byte"] = Math.Round(provisioned + 2 + _random.NextDouble() * 3, 3),
                ["boot.kernel_start"] = Math.Round(provisioned + 5 + _random.NextDouble() * 5, 3),
            };
            var attempt = new AttemptResult
            {
                Number = number,
                AttemptId = $"{runId}-{cell.Id}-{number}",
                Outcome = AttemptOutcome.Completed,
                Machine = $"tg-{cell.Id}-{number}",
                StartedAt = begin,
                EndedAt = begin,
                Artifacts = folder,
            };
            if (infrastructure)
            {
                var kind = InfraKinds[_random.Next(InfraKinds.Length)];
                var tests = kind == "ssh-dropped" ? Tests(cell, folder, _random.Next(3, 15), dropped: true) : [];
                var error = kind switch
                {
                    "allocation" => $"AllocationFailed: Allocation failed. We do not have sufficient capacity for the requested VM size {cell.Sku.Name} in region {cell.Region}. Read more about improving likelihood of allocation success at https://aka.ms/allocation-guidance (zones 1, 2, 3 tried)",
                    "unreachable" => $"the machine never answered SSH on its public address within 900 s; last probe: connection refused; serial console: {_corpus.Substring(_random.Next(_corpus.Length - 400), 300)}",
                    "boot-timeout" => "no SSH banner within 900 s of the create request; the serial console stopped at: " + _corpus.Substring(_random.Next(_corpus.Length - 600), 500),
                    _ => "the SSH connection dropped during conformance/journald: Renci.SshNet.Common.SshConnectionException: An established connection was aborted by the server.",
                };
                var seconds = kind == "allocation" ? 20 + _random.Next(60) : 900 + _random.Next(60);
                if (kind != "allocation") metrics.Remove("azure.provisioned");
                return attempt with
                {
                    Outcome = AttemptOutcome.InfrastructureError, ErrorKind = kind, Error = error, Tests = tests,
                    EndedAt = begin.AddSeconds(seconds + tests.Sum(t => t.Duration.TotalSeconds)), Metrics = metrics,
                };
            }
            metrics["boot.ssh_banner"] = Math.Round(banner, 3);
            metrics["boot.ssh_login"] = Math.Round(banner + 0.8 + _random.NextDouble(), 3);
            metrics["suites.first_command"] = Math.Round(banner + 1.5 + _random.NextDouble() * 1.5, 3);
            metrics["boot.userspace"] = Math.Round(4 + _random.NextDouble() * 8, 3);
            metrics["boot.kernel"] = Math.Round(1 + _random.NextDouble() * 2, 3);
            metrics["boot.initrd"] = Math.Round(1 + _random.NextDouble() * 3, 3);
            var all = Tests(cell, folder, int.MaxValue, dropped: false);
            return attempt with { Tests = all, EndedAt = begin.AddSeconds(banner + 30 + all.Sum(t => t.Duration.TotalSeconds)), Metrics = metrics };
        }

        private List<TestResult> Tests(Cell cell, string folder, int count, bool dropped)
        {
            var results = new List<TestResult>();
            foreach (var suiteRef in cell.Suites)
            {
                var suite = _matrix.Suites[suiteRef.Name].Suite;
                foreach (var test in suite.Tests)
                {
                    if (results.Count == count) return results;
                    var blocking = _matrix.Definition.Policy.IsBlocking(suite.Name, test.Id, test.Blocking);
                    var log = ArtifactLayout.TestLog(folder, suite.Name, test.Id);
                    var unmet = test.Requires.Unmet(cell.Arch, cell.Image.Family, cell.Provider, cell.Sku.Vcpus);
                    var roll = _random.NextDouble();
                    (TestOutcome Outcome, int? Exit, string? Reason) picked = (dropped && results.Count == count - 1) ? (TestOutcome.Error, null, "the SSH connection dropped")
                        : unmet is not null ? (TestOutcome.Skipped, null, unmet)
                        : roll < 0.004 ? (TestOutcome.Failed, 1, $"exit code 1: {test.Id}: unexpected result on {cell.Image.Id}")
                        : roll < 0.005 ? (TestOutcome.TimedOut, null, $"timed out after {test.TimeoutSeconds} s; its process group was killed")
                        : roll < 0.03 ? (TestOutcome.Skipped, 77, $"{test.Id}: not applicable to {cell.Image.Family} ({cell.Sku.Name})")
                        : (TestOutcome.Passed, 0, null);
                    var (outcome, exit, reason) = picked;
                    var duration = TimeSpan.FromMilliseconds(outcome == TestOutcome.TimedOut ? test.TimeoutSeconds * 1000 : Math.Exp(4 + _random.NextDouble() * 6));
                    results.Add(new TestResult
                    {
                        Suite = suite.Name,
                        Test = test.Id,
                        Outcome = outcome,
                        Blocking = blocking,
                        ExitCode = exit,
                        Duration = duration,
                        Reason = reason,
                        Output = Output(outcome),
                        Log = log,
                        Metrics = suite.Name == "boot" && test.Id == "stages"
                            ? new Dictionary<string, double> { ["boot.kernel"] = 1.2, ["boot.initrd"] = 2.1, ["boot.userspace"] = Math.Round(5 + _random.NextDouble() * 5, 3) }
                            : new Dictionary<string, double>(),
                    });
                }
            }
            return results;
        }

        /// <summary>Full: every test keeps its capture (a few KB; 2% printed a lot and were capped). Runner: as SuiteRunner records (passed: none; others: an excerpt of 2 KiB head and tail).</summary>
        private CapturedOutput? Output(TestOutcome outcome)
        {
            var capture = _random.NextDouble() < 0.02 ? _large[_random.Next(_large.Length)] : Small();
            if (_fullOutputs) return capture;
            return outcome == TestOutcome.Passed ? null : capture.Excerpt(2048);
        }

        private CapturedOutput Small()
        {
            var length = 200 + (int)Math.Exp(_random.NextDouble() * Math.Log(8000)); // 0.2–8 KB, most near 1–3 KB
            var at = _random.Next(_corpus.Length - length);
            var text = _corpus.Substring(at, length);
            return new CapturedOutput(text, "", length, 0);
        }

        /// <summary>Lines like a guest prints: kernel, systemd, package and network tool output.</summary>
        private static string Corpus(Random random, int chars)
        {
            string[] units = ["systemd-networkd.service", "ssh.socket", "chronyd.service", "waagent.service", "cloud-init.service", "systemd-resolved.service", "tdnf-makecache.timer"];
            string[] templates =
            [
                "[{0,10:0.000000}] systemd[1]: Started {1} - {2}.",
                "[{0,10:0.000000}] hv_netvsc 000d3a{3:x6} eth0: VF slot 1 added",
                "[{0,10:0.000000}] EXT4-fs (sda1): mounted filesystem {3:x8}-{4:x4} r/w with ordered data mode. Quota mode: none.",
                "{1}: {2} active (running) since Mon 2026-06-01 02:{5:00}:{6:00} UTC; pid {3}",
                "tcp   LISTEN 0  128  0.0.0.0:22  0.0.0.0:*  users:((\"sshd\",pid={3},fd=3))",
                "  {1,-32} loaded active running   {2}",
                "kernel-{4}.{5}.{6}-1.azl3.x86_64  installed  {3} bytes",
                "ok {5} - {2} ({0:0.000} s)",
            ];
            var builder = new StringBuilder(chars + 200);
            while (builder.Length < chars)
            {
                var unit = units[random.Next(units.Length)];
                builder.AppendFormat(CultureInfo.InvariantCulture, templates[random.Next(templates.Length)],
                    random.NextDouble() * 60, unit, unit.Split('.')[0].Replace('-', ' '), random.Next(1, 1 << 24), random.Next(1, 65535), random.Next(60), random.Next(60));
                builder.Append('\n');
            }
            return builder.ToString();
        }
    }

    // ---------------------------------------------------------------- facts and Azurite

    private static string FindRepository()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "deploy", "skus", "azure.json")) && File.Exists(Path.Combine(dir.FullName, "suites", "conformance", "suite.json")))
                return dir.FullName;
        }
        throw new InvalidOperationException("no deploy/skus/azure.json and suites/ above the benchmark");
    }

    internal static string CpuModel()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        }
        catch (IOException)
        {
            return "unknown CPU";
        }
    }

    /// <summary>1, 5 and 15 minute load averages: on a shared machine, other work skews every figure.</summary>
    internal static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static string SqliteVersion()
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT sqlite_version()";
        return (string)command.ExecuteScalar()!;
    }

    private static string AzuriteVersionText(LedgerBenchOptions options)
    {
        if (!options.Stores.Any(s => s.StartsWith("azurite", StringComparison.Ordinal))) return "not used";
        if (options.AzuriteConnection is not null) return "given (--azurite)";
        var package = Path.Combine(AzuriteProcess.Folder, "node_modules", "azurite", "package.json");
        return File.Exists(package) ? JsonNode.Parse(File.ReadAllText(package))!["version"]!.GetValue<string>() : $"{AzuriteProcess.Version} (missing)";
    }

    private static string NodeVersion()
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("node", ["--version"]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var version = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            return version;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "not found";
        }
    }
}
