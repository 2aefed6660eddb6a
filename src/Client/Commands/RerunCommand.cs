using System.Collections.Immutable;
using System.CommandLine;
using Microsoft.Extensions.Logging;
using TestGrid.Engine;
using TestGrid.Input;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Reports;
using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Client.Commands;

/// <summary>
/// <c>testgrid rerun RUN --cell ID… | --failed | --test SUITE/TEST</c>: new attempts of cells of an ended run with
/// identical inputs (the run's own plan and suites), appended to the same run; the verdict is decided again when they
/// end. With <c>--matrix</c> the matrix as it is now must still make the same cells (else the rerun is refused, saying
/// what changed) and its policy replaces the run's: with nothing to rerun, only the verdict is decided again.
/// </summary>
internal static class RerunCommand
{
    public static Command Create(CliConsole console)
    {
        var runId = ResumeCommand.RunIdArgument();
        var cells = new Option<string[]>("--cell") { Description = "Rerun this cell (its id or its name image/sku/region); repeatable.", AllowMultipleArgumentsPerToken = true };
        var failed = new Option<bool>("--failed") { Description = "Rerun the cells that failed, errored or were cancelled, or whose latest attempt got no result." };
        var test = new Option<string?>("--test") { Description = "Rerun only this test (suite/test), on the cells where its latest run failed (with --cell: on those cells)." };
        var matrix = new Option<string?>("--matrix") { Description = "Check that this matrix still makes the same cells (refused, saying what changed, when not) and use its policy for the verdict." };
        var outDir = new Option<string?>("--out") { Description = "Where verdict.json, junit.xml and summary.md go. Default: the run's output folder (embedded); none (cluster)." };
        var output = CommonOptions.Output();
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log the engine's work to stderr." };
        var target = new EngineTarget();
        var command = new Command("rerun", "Rerun cells or one test of an ended run with identical inputs, appended to the run, and decide its verdict again. "
            + "Exit code: the new verdict's (0 PASS, 1 FAIL, 2 INCOMPLETE); 3 on invalid input (unknown run or cell, a run not ended, a matrix that no longer makes the run's cells).")
        {
            runId, cells, failed, test, matrix, outDir, output, verbose,
        };
        foreach (var option in target.Options) command.Options.Add(option);
        command.Validators.Add(result =>
        {
            if ((result.GetValue(cells) is not { Length: > 0 }) && !result.GetValue(failed) && result.GetValue(test) is null && result.GetValue(matrix) is null)
                result.AddError("say what to rerun: --cell ID, --failed or --test SUITE/TEST (or --matrix alone to decide the verdict again with its policy)");
            if (result.GetValue(test) is { } id && id.Split('/') is not [{ Length: > 0 }, { Length: > 0 }])
                result.AddError($"--test takes a test id suite/test, got '{id}'");
        });
        command.SetAction(async (parse, cancellationToken) =>
        {
            var json = parse.GetValue(output) == "json";
            var log = json ? console.Error : console.Out;
            try
            {
                await using var engine = await target.OpenAsync(parse, parse.GetValue(matrix) ?? MatrixLoader.DefaultFileName, autoResume: true,
                    parse.GetValue(verbose) ? LogLevel.Information : LogLevel.Warning, CancellationToken.None).ConfigureAwait(false);
                var run = engine.Grains.GetGrain<IRunGrain>(parse.GetValue(runId)!);
                var spec = await run.GetSpecAsync().ConfigureAwait(false) ?? throw ResumeCommand.Unknown(parse.GetValue(runId)!, engine);
                var report = await run.GetReportAsync().ConfigureAwait(false);
                var selection = Select(report, parse.GetValue(cells) ?? [], parse.GetValue(failed), parse.GetValue(test));
                var planned = report.Cells.ToDictionary(c => c.Cell.Id, c => c.Cell, StringComparer.Ordinal);
                PolicyDefinition? policy = null;
                if (parse.GetValue(matrix) is { } matrixPath)
                    policy = await CheckInputsAsync(matrixPath, spec, selection.Select(s => planned[s.CellId]), log, cancellationToken).ConfigureAwait(false);
                if (selection.Length == 0 && policy is null)
                {
                    log.WriteLine($"run {spec.RunId}: nothing to rerun (no cell matches); its verdict stands: {report.Verdict.Status.ToString().ToUpperInvariant()}");
                    return report.Verdict.ExitCode;
                }
                var trigger = Trigger(parse.GetValue(cells) ?? [], parse.GetValue(failed), parse.GetValue(test));
                var started = DateTimeOffset.UtcNow;
                var reply = await run.RerunAsync(new RerunRequest { Cells = selection, Trigger = trigger, Policy = policy }).ConfigureAwait(false);
                if (!reply.Accepted) throw new InputException(new InputError("(command line)", "run", $"run {spec.RunId} cannot be rerun: {reply.Refusal}"));
                log.WriteLine(selection.Length == 0
                    ? $"run {spec.RunId}: deciding the verdict again with the policy of {parse.GetValue(matrix)}"
                    : $"run {spec.RunId}: rerun {reply.Round} ({trigger}) of {selection.Length} cell(s): "
                      + string.Join(", ", selection.Select(s => planned[s.CellId].Name + (s.Tests.IsEmpty ? "" : $" [{string.Join(", ", s.Tests)}]"))));
                var reports = parse.GetValue(outDir) ?? (target.IsCluster(parse) ? null : spec.OutputRoot);
                var code = await RunFollower.FollowAsync(console, run, spec, json, reports, cancelOnInterrupt: true, cancellationToken, reply.AfterEvent).ConfigureAwait(false);
                log.WriteLine($"rerun {reply.Round}: {(DateTimeOffset.UtcNow - started).TotalSeconds:0.0} s from the request to the new verdict");
                return code;
            }
            catch (InputException e)
            {
                return console.InvalidInput(e.Errors);
            }
        });
        return command;
    }

    /// <summary>The cells to rerun, each with the tests to run (empty: all).</summary>
    internal static ImmutableArray<CellRerun> Select(RunReport report, IReadOnlyList<string> cellArguments, bool failed, string? test)
    {
        var chosen = new List<CellReport>();
        foreach (var argument in cellArguments)
        {
            var cell = report.Cells.FirstOrDefault(c => c.Cell.Id == argument || c.Cell.Name == argument)
                ?? throw new InputException(new InputError("(command line)", "--cell",
                    $"run {report.RunId} has no cell '{argument}': expected a cell id or name, such as {string.Join(", ", report.Cells.Take(3).Select(c => $"{c.Cell.Id} ({c.Cell.Name})"))}"));
            if (!chosen.Contains(cell)) chosen.Add(cell);
        }
        if (failed)
        {
            var failing = report.Cells.Where(c => c.State is CellState.Failed or CellState.Error or CellState.Cancelled
                || c.Latest is { Outcome: not AttemptOutcome.Completed });
            chosen = cellArguments.Count > 0 ? [.. chosen.Intersect(failing)] : [.. failing];
        }
        if (test is null) return [.. chosen.Select(c => new CellRerun(c.Cell.Id, []))];

        var known = report.Cells.Any(c => CellResults.Merge(c.Attempts).Any(t => t.Id == test))
            || report.Cells.Any(c => c.Cell.Suites.Any(s => test.StartsWith(s.Name + "/", StringComparison.Ordinal)));
        if (!known)
            throw new InputException(new InputError("(command line)", "--test", $"no cell of run {report.RunId} runs a test '{test}': expected suite/test of its suites"));
        var candidates = cellArguments.Count > 0 || failed ? chosen : [.. report.Cells];
        return [.. candidates.Where(c => CellResults.Merge(c.Attempts).Any(t => t.Id == test && t.Latest.IsFailure)).Select(c => new CellRerun(c.Cell.Id, [test]))];
    }

    /// <summary>
    /// Plans the matrix again for the run's provider and checks that every cell to rerun is still the same cell (same
    /// id): its image, SKU and suites unchanged. Returns the matrix's policy.
    /// </summary>
    private static async Task<PolicyDefinition> CheckInputsAsync(string matrixPath, RunSpec spec, IEnumerable<Cell> cells, TextWriter log, CancellationToken cancellationToken)
    {
        // QEMU recipes are hashed from the deploy/images folder beside the matrix (or above the program), as for run.
        var (matrix, plan, _, _) = await CommonOptions.LoadPlanAsync(matrixPath, spec.Provider.Name, null, azure: null, build: false, log.WriteLine, cancellationToken).ConfigureAwait(false);
        var now = plan.Cells.ToDictionary(c => c.Name, StringComparer.Ordinal);
        var errors = new List<InputError>();
        foreach (var cell in cells)
        {
            if (!now.TryGetValue(cell.Name, out var current))
                errors.Add(new InputError(matrixPath, JsonPaths.Root, $"cell {cell.Name} ({cell.Id}) of run {spec.RunId} is no longer in the matrix: a rerun needs identical inputs; start a new run instead"));
            else if (current.Id != cell.Id)
                errors.Add(new InputError(matrixPath, JsonPaths.Root, $"cell {cell.Name} is no longer what run {spec.RunId} tested (id {cell.Id}, now {current.Id}): "
                    + string.Join("; ", CellIdentity.Differences(cell, current)) + ". A rerun needs identical inputs: start a new run for the changed cell"));
        }
        if (errors.Count > 0) throw new InputException(errors);
        return matrix.Definition.Policy;
    }

    private static string Trigger(IReadOnlyList<string> cells, bool failed, string? test) =>
        "rerun " + string.Join(" ", new[] { failed ? "--failed" : null, test is null ? null : $"--test {test}", cells.Count > 0 ? $"--cell {string.Join(" ", cells)}" : null }.Where(p => p is not null));
}
