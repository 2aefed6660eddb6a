using System.Text.Json;
using BenchmarkDotNet.Attributes;
using TestGrid.Ledger;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Bench.Micro;

/// <summary>Planning: the 10,000-cell matrix of PlanBench, loaded and validated, then expanded into cells with their ids.</summary>
[BenchmarkCategory("plan")]
public class PlanBenchmarks
{
    private string _folder = "";
    private string _path = "";
    private LoadedMatrix _matrix = null!;

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), $"testgrid-bench-micro-{Environment.ProcessId}");
        _path = Workload.WriteMatrix(_folder);
        _matrix = MatrixLoader.Load(_path);
        var cells = Planner.Expand(_matrix, "static").Cells.Count;
        if (cells != 9_999) throw new InvalidOperationException($"expected 9,999 cells, planned {cells}");
    }

    [GlobalCleanup]
    public void Cleanup() => Directory.Delete(_folder, recursive: true);

    [Benchmark(Description = "plan 10,000 cells: expand + cell ids"), FigureUnit("ms")]
    public RunPlan Expand() => Planner.Expand(_matrix, "static");

    [Benchmark(Description = "plan 10,000 cells: load + validate matrix"), FigureUnit("ms")]
    public LoadedMatrix Load() => MatrixLoader.Load(_path);
}

/// <summary>A cell's id: SHA-256 over the canonical JSON of its image (nested Azure source), SKU (with features), region, provider and two suites.</summary>
[BenchmarkCategory("cell-id")]
public class CellIdBenchmarks
{
    private Cell _cell = null!;

    [GlobalSetup]
    public void Setup() => _cell = Workload.Cell(7);

    [Benchmark(Description = "cell id: compute one"), FigureUnit("µs")]
    [FigureNote("rebuilds the canonical JSON of the image and SKU for every cell (the same for all its regions); its buffer is now reused per thread (was 7.3 KB allocated per id)")]
    public string Compute() => CellIdentity.Compute(_cell.Image, _cell.Sku, _cell.Region, _cell.Provider, _cell.Suites);
}

/// <summary>
/// What happens per attempt result: the cell grain merges the cell's attempts and derives its state, both ledger
/// stores build their JSON payloads (cell, attempt without tests, one per test), and result.json is written and read.
/// The cell is a flaky one: attempt 1 ran 12 tests (one failed, 3 KB of output), attempt 2 reran it.
/// </summary>
[BenchmarkCategory("ingest")]
public class IngestBenchmarks
{
    private Cell _cell = null!;
    private IReadOnlyList<AttemptResult> _attempts = null!;
    private AttemptResult _first = null!;
    private string _json = "";

    [GlobalSetup]
    public void Setup()
    {
        _cell = Workload.Cell(3);
        _attempts = Workload.Attempts(_cell, 3);
        _first = _attempts[0];
        _json = JsonSerializer.Serialize(_first, TestGridJsonContext.Default.AttemptResult);
    }

    [Benchmark(Description = "ingest: merge 2 attempts (13 test runs)"), FigureUnit("µs")]
    public IReadOnlyList<TestRecord> Merge() => CellResults.Merge(_attempts);

    [Benchmark(Description = "ingest: cell state of 2 attempts"), FigureUnit("µs")]
    [FigureNote("a whole Merge; the cell grain merges, then calls StateOf (a second Merge) per attempt result")]
    public CellState State() => CellResults.StateOf(_attempts);

    [Benchmark(Description = "ingest: ledger payloads of an attempt (cell + attempt + 12 tests)"), FigureUnit("µs")]
    [FigureNote("the attempt payload drops the tests, so its computed cellState is Passed even for a failed attempt")]
    public int LedgerPayloads()
    {
        var chars = LedgerPayload.Cell(_cell).Length + LedgerPayload.Attempt(_first).Length;
        foreach (var test in _first.Tests) chars += LedgerPayload.Test(test).Length;
        return chars;
    }

    [Benchmark(Description = "ingest: serialize AttemptResult (12 tests)"), FigureUnit("µs")]
    [FigureNote("includes the computed cellState, a Merge per serialisation")]
    public string Serialize() => JsonSerializer.Serialize(_first, TestGridJsonContext.Default.AttemptResult);

    [Benchmark(Description = "ingest: deserialize AttemptResult (12 tests)"), FigureUnit("µs")]
    public AttemptResult? Deserialize() => JsonSerializer.Deserialize(_json, TestGridJsonContext.Default.AttemptResult);
}

/// <summary>
/// The verdict over a run's cells (12 tests each; flaky, failed, advisory, quarantined, waived, retried and
/// result-less cells mixed in; see <see cref="Workload.Attempts"/>) under a policy with boot-time limits,
/// exemptions and baselines from 50 earlier samples per family × SKU.
/// </summary>
[BenchmarkCategory("verdict")]
public class VerdictBenchmarks
{
    private IReadOnlyList<CellReport> _cells = null!;
    private VerdictInputs _inputs = null!;

    [Params(1_000, 10_000)]
    public int Cells { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _cells = Workload.Cells(Cells);
        _inputs = Workload.Inputs();
    }

    [Benchmark(Description = "verdict {Cells} cells: decide"), FigureUnit("ms")]
    public RunVerdict Decide() => VerdictCalculator.Decide(_cells, _inputs);
}
