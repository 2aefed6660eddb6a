using System.Globalization;
using Azure.Data.Tables;
using TestGrid.Engine;
using TestGrid.Ledger;
using TestGrid.Reports;
using TestGrid.Results;
using TestGrid.Simulation;
using TestGrid.Verdict;

namespace TestGrid.Testing.Soak;

/// <summary>What a soak runs: the workload's size, the cluster, how often a silo is killed, and how long it may take.</summary>
public sealed record SoakOptions
{
    public int Cells { get; init; } = 2000;
    public int Silos { get; init; } = 3;

    /// <summary>A silo is killed (<c>kill -9</c>) and started again this often during the disturbed run.</summary>
    public TimeSpan KillEvery { get; init; } = TimeSpan.FromSeconds(30);

    public int Seed { get; init; } = 1;

    /// <summary>Cloud seconds per real second. A cell takes ~6 min of cloud time (create 90 s, boot 35 s, 8 tests × 20 s, delete 60 s).</summary>
    public double TimeCompression { get; init; } = 12;

    /// <summary>Machines at once per region × VM family (each pool holds 10 cells).</summary>
    public int Quota { get; init; } = 4;

    /// <summary>The most each run may take before the soak fails, with the counts.</summary>
    public TimeSpan RunTimeout { get; init; } = TimeSpan.FromMinutes(20);

    /// <summary><c>testgrid-silo.dll</c>, built (src/Silo/bin/&lt;configuration&gt;/net10.0).</summary>
    public required string SiloProgram { get; init; }

    /// <summary>Keeps the soak's folder (silo logs, profile, matrix) instead of deleting it.</summary>
    public bool Keep { get; init; }
}

/// <summary>A finished run on a <see cref="SimulatedCluster"/>: its report, how long it took from start to done, and how many silos were killed meanwhile.</summary>
public sealed record SoakRun(string RunId, RunReport Report, TimeSpan Elapsed, int Kills);

/// <summary>
/// The counts a soak checks; each must be as expected (<see cref="Problems"/> empty). Double-counting is defined in
/// <see cref="SoakRunner.CheckLedger"/>.
/// </summary>
public sealed record SoakResult
{
    public required int Cells { get; init; }
    public required SoakRun Disturbed { get; init; }
    public required SoakRun Undisturbed { get; init; }

    /// <summary>Cells per final state in the disturbed run.</summary>
    public required IReadOnlyDictionary<CellState, int> States { get; init; }

    public required int CellsTerminal { get; init; }
    public required int LostResults { get; init; }
    public required int DoubleCounted { get; init; }
    public required int MachinesLeft { get; init; }
    public required bool VerdictsEqual { get; init; }

    /// <summary>Attempts of the disturbed run that died with their silo (recorded as lost and retried).</summary>
    public required int LostAttempts { get; init; }

    /// <summary>
    /// Of <see cref="LostAttempts"/>, those a silo that was not stopped handed over (recorded as "its silo … shut down"):
    /// the soak stops no silo gracefully, so each is a live silo's cell deactivated because another one died (what
    /// Orleans' default grain directory did; TestGrid's silos use the strongly consistent one).
    /// </summary>
    public required int HandedOverByLiveSilos { get; init; }

    /// <summary>Cells of the disturbed run whose suites ran to the end more than once (a completed attempt then a retry).</summary>
    public required int CellsCompletedTwice { get; init; }

    public required IReadOnlyList<string> Problems { get; init; }

    public bool Ok => Problems.Count == 0;

    public override string ToString()
    {
        var lines = new List<string>
        {
            $"cells: {Cells}; disturbed run {Disturbed.RunId}: {Disturbed.Elapsed.TotalSeconds:0} s, {Disturbed.Kills} silo kills, {LostAttempts} attempts lost with their silo ({HandedOverByLiveSilos} handed over by live silos), {Disturbed.Report.Cells.Sum(c => c.Attempts.Count)} attempts; undisturbed run {Undisturbed.RunId}: {Undisturbed.Elapsed.TotalSeconds:0} s, {Undisturbed.Report.Cells.Sum(c => c.Attempts.Count)} attempts",
            $"states (disturbed): {string.Join(", ", States.Where(s => s.Value > 0).Select(s => $"{s.Key} {s.Value}"))}",
            $"cells terminal: {CellsTerminal} of {Cells}",
            $"lost results: {LostResults}",
            $"double-counted results: {DoubleCounted}",
            $"machines left in the simulated cloud: {MachinesLeft}",
            $"verdicts equal: {(VerdictsEqual ? "yes" : "NO")} (disturbed {Disturbed.Report.Verdict.Status}, undisturbed {Undisturbed.Report.Verdict.Status})",
            $"cells whose suites completed twice (not an error: the verdict takes the latest): {CellsCompletedTwice}",
        };
        lines.AddRange(Problems.Take(40).Select(p => "PROBLEM: " + p));
        if (Problems.Count > 40) lines.Add($"... and {Problems.Count - 40} more problems");
        return string.Join('\n', lines);
    }
}

/// <summary>
/// The soak: Azurite, <see cref="SoakOptions.Silos"/> real silo processes clustered over it, each hosting the same
/// simulated cloud (one profile file, one cloud folder); a run of the simulated workload during which a silo is killed
/// with SIGKILL and started again every <see cref="SoakOptions.KillEvery"/>; then the same workload undisturbed. Checks
/// that every cell ended, every result is in the ledger once, no machine is left, and both runs decide the same.
/// Everything it starts is stopped when it returns, throws or is cancelled.
/// </summary>
public static class SoakRunner
{
    public static async Task<SoakResult> RunAsync(SoakOptions options, Action<string> log, CancellationToken cancellationToken)
    {
        var folder = Path.Combine(Path.GetTempPath(), $"testgrid-soak-{Guid.NewGuid():N}"[..24]);
        Directory.CreateDirectory(folder);
        SimulatedCluster? cluster = null;
        try
        {
            var profile = new SimulationProfile
            {
                Seed = options.Seed,
                TimeCompression = options.TimeCompression,
                DefaultQuota = options.Quota,
                Failures = new FailureRates { ProvisionFailure = 0.20, SshDrop = 0.05 },
            };
            var workload = SimulatedWorkload.Create(Path.Combine(folder, "workload"), options.Cells, profile);
            var cloud = new SimulatedCloud(Path.Combine(folder, "cloud"));
            log($"soak: {workload}; {options.Silos} silos, one killed every {options.KillEvery.TotalSeconds:0} s; folder {folder}");

            cluster = await SimulatedCluster.StartAsync(new SimulatedClusterOptions
            {
                Name = "soak",
                Silos = options.Silos,
                SiloProgram = options.SiloProgram,
                ProfilePath = workload.ProfilePath,
                Cloud = cloud.Folder,
                Folder = folder,
                Settings = new Dictionary<string, string>(StringComparer.Ordinal)
                {
                    // A cell whose silo died is found soon after the cluster declares the silo dead.
                    ["WatchdogPeriod"] = "00:00:03",
                    // A silo killed and not restarted is declared dead within seconds (a restarted one at once: same endpoint, newer generation).
                    ["Membership:ProbeTimeout"] = "00:00:03",
                    ["Membership:NumMissedProbesLimit"] = "3",
                    // A silo killed every few seconds loses a third of the cells in flight each time: a cell may be caught
                    // more often than the engine's default of 3 lost attempts (meant for a cell that crashes its silo).
                    ["MaxLostAttempts"] = "50",
                },
            }, log, cancellationToken).ConfigureAwait(false);

            var parallelism = workload.Plan.Cells.Count;
            var disturbed = await cluster.RunAsync(workload.Spec($"soak-{options.Seed}-disturbed", parallelism), options.RunTimeout, log, cancellationToken, options.KillEvery, options.Seed).ConfigureAwait(false);
            var undisturbed = await cluster.RunAsync(workload.Spec($"soak-{options.Seed}-undisturbed", parallelism), options.RunTimeout, log, cancellationToken).ConfigureAwait(false);

            var ledger = new TableLedger(new TableServiceClient(cluster.Azurite.ConnectionString));
            var problems = new List<string>();
            var (lostResults, doubleCounted) = await CheckLedger(ledger, disturbed, workload, problems, cancellationToken).ConfigureAwait(false);
            var (lostCalm, doubleCalm) = await CheckLedger(ledger, undisturbed, workload, problems, cancellationToken).ConfigureAwait(false);
            lostResults += lostCalm;
            doubleCounted += doubleCalm;

            var report = disturbed.Report;
            var states = Enum.GetValues<CellState>().ToDictionary(s => s, s => report.Cells.Count(c => c.State == s));
            var terminal = report.Cells.Count(c => c.State.IsTerminal());
            if (report.Cells.Count != workload.Plan.Cells.Count) problems.Add($"the disturbed run reports {report.Cells.Count} cells of {workload.Plan.Cells.Count}");
            if (terminal != workload.Plan.Cells.Count) problems.Add($"{workload.Plan.Cells.Count - terminal} cells of the disturbed run did not end");
            foreach (var run in new[] { disturbed, undisturbed })
            {
                foreach (var cell in run.Report.Cells.Where(c => c.State is CellState.Error or CellState.Cancelled))
                    problems.Add($"{run.RunId}: {cell.Cell.Name} ended {cell.State} ({cell.Reason ?? cell.Latest?.Error}) although retries are {workload.Matrix.Definition.Policy.InfrastructureRetries}");
            }

            // Machines: none in the cloud once both runs ended, and none reported left over.
            var machines = cloud.Machines();
            foreach (var machine in machines.Take(20)) problems.Add($"machine left in the simulated cloud: {machine.Id} (run {machine.Run})");
            var leftOvers = disturbed.Report.LeftOvers.Count + undisturbed.Report.LeftOvers.Count;
            if (leftOvers > 0) problems.Add($"the runs' leak reports list {leftOvers} machines: {string.Join(", ", disturbed.Report.LeftOvers.Concat(undisturbed.Report.LeftOvers).Take(10).Select(l => l.Id))}");

            var verdictsEqual = CompareVerdicts(disturbed.Report, undisturbed.Report, problems);
            var lost = report.Cells.SelectMany(c => c.Attempts).Where(a => a.ErrorKind == "lost").ToList();
            var completedTwice = report.Cells.Count(c => c.Attempts.Count(a => a.Outcome == AttemptOutcome.Completed) > 1);
            if (machines.Count > 0 && problems.Count == 0) problems.Add($"{machines.Count} machines left");
            return new SoakResult
            {
                Cells = workload.Plan.Cells.Count,
                Disturbed = disturbed,
                Undisturbed = undisturbed,
                States = states,
                CellsTerminal = terminal,
                LostResults = lostResults,
                DoubleCounted = doubleCounted,
                MachinesLeft = machines.Count,
                VerdictsEqual = verdictsEqual,
                LostAttempts = lost.Count,
                HandedOverByLiveSilos = lost.Count(a => a.Error?.Contains("shut down", StringComparison.Ordinal) == true),
                CellsCompletedTwice = completedTwice,
                Problems = problems,
            };
        }
        finally
        {
            if (cluster is not null) await cluster.DisposeAsync().ConfigureAwait(false);
            if (options.Keep) log($"soak: kept {folder}");
            else
            {
                try
                {
                    Directory.Delete(folder, recursive: true);
                }
                catch (IOException e)
                {
                    log($"soak: could not delete {folder}: {e.Message}");
                }
            }
        }
    }

    /// <summary>
    /// Reads the run back from the ledger and counts, per cell of the plan:
    /// <list type="bullet">
    /// <item>a <b>lost result</b>: the ledger has no row for the cell, no final state for it, a final state other than the
    /// report's, or (for a Passed or Failed cell) no completed attempt whose tests decided it;</item>
    /// <item>a <b>double-counted result</b>: the ledger keys an attempt by (run, cell, attempt number) and a test by
    /// (run, cell, attempt number, suite, test, rerun), so a literal duplicate row cannot exist; what can is the same
    /// result recorded twice under different keys or two different results under one. So a cell counts as double-counted
    /// when its attempt numbers are not exactly 1..n for the n attempts the run reports, when one attempt id is
    /// recorded under two numbers, when an attempt recorded under a number differs from the run's attempt of that
    /// number (attempt id or outcome: the same (run, cell, attempt) recorded twice with different content), or when
    /// an attempt holds more test rows than the suites have tests (or a test twice without being a rerun).</item>
    /// </list>
    /// </summary>
    public static async Task<(int Lost, int DoubleCounted)> CheckLedger(IResultLedger ledger, SoakRun run, SimulatedWorkload workload, List<string> problems, CancellationToken cancellationToken)
    {
        var record = await ledger.GetRunAsync(run.RunId, cancellationToken).ConfigureAwait(false);
        if (record is null)
        {
            problems.Add($"{run.RunId}: not in the ledger");
            return (workload.Plan.Cells.Count, 0);
        }
        var tests = workload.Matrix.Definition.Suites.Sum(s => workload.Matrix.Suites[s].Suite.Tests.Count);
        var ledgerCells = record.Cells.GroupBy(c => c.Cell.Id).ToDictionary(g => g.Key, g => g.ToList());
        var reported = run.Report.Cells.ToDictionary(c => c.Cell.Id);
        int lost = 0, doubled = 0;
        foreach (var cell in workload.Plan.Cells)
        {
            var name = $"{run.RunId}: {cell.Name}";
            reported.TryGetValue(cell.Id, out var report);
            if (!ledgerCells.TryGetValue(cell.Id, out var rows))
            {
                lost++;
                problems.Add($"{name}: no result in the ledger (lost)");
                continue;
            }
            if (rows.Count > 1)
            {
                doubled++;
                problems.Add($"{name}: {rows.Count} cell rows in the ledger");
                continue;
            }
            var row = rows[0];
            if (row.State is null || !row.State.Value.IsTerminal() || row.State != report?.State)
            {
                lost++;
                problems.Add($"{name}: ledger final state {row.State?.ToString() ?? "none"}, report {report?.State.ToString() ?? "no cell"} (lost)");
                continue;
            }
            if (row.State is CellState.Passed or CellState.Failed && !row.Attempts.Any(a => a.Outcome == AttemptOutcome.Completed && a.Tests.Count == tests))
            {
                lost++;
                problems.Add($"{name}: {row.State} but no completed attempt with its {tests} tests in the ledger (lost)");
                continue;
            }
            var numbers = row.Attempts.Select(a => a.Number).ToList();
            var problem =
                !numbers.SequenceEqual(Enumerable.Range(1, report!.Attempts.Count)) ? $"attempt numbers [{string.Join(",", numbers)}] for the {report.Attempts.Count} attempts the run reports"
                : row.Attempts.GroupBy(a => a.AttemptId).FirstOrDefault(g => g.Count() > 1) is { } twice ? $"attempt id {twice.Key} recorded as attempts {string.Join(" and ", twice.Select(a => a.Number))}"
                : row.Attempts.Zip(report.Attempts).FirstOrDefault(p => p.First.AttemptId != p.Second.AttemptId || p.First.Outcome != p.Second.Outcome) is ({ } l, { } r) ? $"attempt {l.Number} is {l.AttemptId} {l.Outcome} in the ledger but {r.AttemptId} {r.Outcome} in the run"
                : row.Attempts.FirstOrDefault(a => a.Tests.Count > tests || a.Tests.GroupBy(t => (t.Suite, t.Test, t.Rerun)).Any(g => g.Count() > 1)) is { } many ? $"attempt {many.Number} holds {many.Tests.Count} test rows for {tests} tests"
                : null;
            if (problem is not null)
            {
                doubled++;
                problems.Add($"{name}: {problem} (double-counted)");
            }
        }
        foreach (var extra in ledgerCells.Keys.Except(workload.Plan.Cells.Select(c => c.Id)))
        {
            doubled++;
            problems.Add($"{run.RunId}: the ledger holds cell {extra}, which is not in the plan");
        }
        return (lost, doubled);
    }

    /// <summary>Same verdict status, same blocking reasons as (cell id, test id), same final state per cell; attempt numbers may differ.</summary>
    public static bool CompareVerdicts(RunReport disturbed, RunReport undisturbed, List<string> problems)
    {
        var equal = true;
        if (disturbed.Verdict.Status != undisturbed.Verdict.Status)
        {
            equal = false;
            problems.Add($"verdict {disturbed.Verdict.Status} (disturbed) vs {undisturbed.Verdict.Status} (undisturbed)");
        }
        static HashSet<(string?, string?)> Blocking(RunReport r) => [.. r.Verdict.Reasons.Where(x => x.Kind == ReasonKind.BlockingFailure).Select(x => (x.CellId, x.Test))];
        var (a, b) = (Blocking(disturbed), Blocking(undisturbed));
        if (!a.SetEquals(b))
        {
            equal = false;
            problems.Add($"blocking reasons differ: only disturbed [{string.Join(", ", a.Except(b).Take(10))}], only undisturbed [{string.Join(", ", b.Except(a).Take(10))}]");
        }
        static string Kinds(RunReport r) => string.Join(",", r.Verdict.Reasons.Select(x => x.Kind).Distinct().Order());
        if (Kinds(disturbed) != Kinds(undisturbed))
        {
            equal = false;
            problems.Add($"verdict reason kinds differ: [{Kinds(disturbed)}] vs [{Kinds(undisturbed)}]");
        }
        var calm = undisturbed.Cells.ToDictionary(c => c.Cell.Id, c => c.State);
        var differing = disturbed.Cells.Where(c => !calm.TryGetValue(c.Cell.Id, out var s) || s != c.State).ToList();
        if (differing.Count > 0 || calm.Count != disturbed.Cells.Count)
        {
            equal = false;
            problems.Add($"{differing.Count} cells end differently: {string.Join(", ", differing.Take(10).Select(c => $"{c.Cell.Name} {c.State} vs {(calm.TryGetValue(c.Cell.Id, out var s) ? s.ToString() : "absent")}"))}");
        }
        return equal;
    }

    internal static string Text(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}
