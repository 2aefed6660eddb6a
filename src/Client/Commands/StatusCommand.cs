using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using TestGrid.Engine;
using TestGrid.Input;
using TestGrid.Matrix;
using TestGrid.Reports;
using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Client.Commands;

/// <summary>
/// <c>testgrid status RUN [--cell ID] [--cluster host:port | --data folder]</c>: where a run stands, read from a
/// cluster (any machine) or from an embedded run's checkpoint (without resuming it): counts by state, every cell with
/// its state, attempts and reason, and the verdict once there is one. With <c>--cell</c>, one cell's attempt history
/// (why each attempt ran, what it ran, where and how it ended) and each test's outcome in each attempt, classified
/// as the verdict classifies it.
/// </summary>
internal static class StatusCommand
{
    public static Command Create(CliConsole console)
    {
        var runId = ResumeCommand.RunIdArgument();
        var target = new EngineTarget();
        var output = CommonOptions.Output();
        var cellOption = new Option<string?>("--cell")
        {
            Description = "One cell (its id, or its name image/sku/region): each attempt (trigger, scope, machine, outcome, artefacts) and each test's outcome "
                + "in each attempt with its classification (json: the cell's report).",
        };
        var command = new Command("status", "Show where a run stands (json: the run's report so far). "
            + "Exit code: the verdict's once the run has ended (0 PASS, 1 FAIL, 2 INCOMPLETE); 2 while it runs; 3 when the run or the cell is unknown.")
        {
            runId, output, cellOption,
        };
        foreach (var option in target.Options) command.Options.Add(option);
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                await using var engine = await target.OpenAsync(parse, MatrixLoader.DefaultFileName, autoResume: false, LogLevel.Warning, cancellationToken).ConfigureAwait(false);
                var run = engine.Grains.GetGrain<IRunGrain>(parse.GetValue(runId)!);
                var spec = await run.GetSpecAsync().ConfigureAwait(false) ?? throw ResumeCommand.Unknown(parse.GetValue(runId)!, engine);
                var progress = await run.GetProgressAsync(IRunGrain.NoEvents).ConfigureAwait(false);
                var report = await run.GetReportAsync().ConfigureAwait(false);
                if (parse.GetValue(cellOption) is { } wanted)
                {
                    var cell = report.Cells.FirstOrDefault(c => c.Cell.Id == wanted) ?? report.Cells.FirstOrDefault(c => c.Cell.Name == wanted)
                        ?? throw UnknownCell(wanted, report);
                    if (parse.GetValue(output) == "json") console.Out.WriteLine(JsonSerializer.Serialize(cell, TestGridJsonContext.Default.CellReport));
                    else PrintCell(console.Out, report, cell, spec.OutputRoot);
                }
                else if (parse.GetValue(output) == "json")
                {
                    console.Out.WriteLine(JsonSerializer.Serialize(report, TestGridJsonContext.Default.RunReport));
                }
                else
                {
                    var writer = console.Out;
                    writer.WriteLine($"run {spec.RunId}: matrix {spec.Plan.Matrix} on {spec.Provider.Name}, started {spec.CreatedAt:u}, "
                        + (progress.Done ? $"ended {report.EndedAt:u}" : "not ended") + $" ({engine.Description})");
                    writer.WriteLine($"  {progress.Cells} cells: " + string.Join(", ", progress.Counts.Where(c => c.Value > 0).Select(c => $"{c.Value} {c.Key.ToString().ToLowerInvariant()}")));
                    var width = report.Cells.Max(c => c.Cell.Name.Length);
                    foreach (var cell in report.Cells)
                    {
                        var why = cell.Latest is { } latest ? Summary(latest) : cell.Reason;
                        writer.WriteLine($"  {cell.Cell.Name.PadRight(width)}  {cell.State,-13}  {cell.Attempts.Count} attempt(s)  {why}");
                    }
                    if (progress.Done) VerdictPrinter.Print(writer, report, null, spec.OutputRoot);
                }
                return progress.Done ? report.Verdict.ExitCode : ExitCodes.Incomplete;
            }
            catch (InputException e)
            {
                return console.InvalidInput(e.Errors);
            }
        });
        return command;
    }

    private static string Summary(AttemptResult attempt) => attempt.Outcome switch
    {
        AttemptOutcome.Completed => $"{attempt.Tests.Count(t => t.Outcome == TestOutcome.Passed)}/{attempt.Tests.Count} tests passed",
        AttemptOutcome.Cancelled => "cancelled",
        _ => $"{attempt.ErrorKind}: {attempt.Error}",
    };

    /// <summary>How many known cells an unknown <c>--cell</c> lists.</summary>
    private const int KnownCellsShown = 5;

    internal static InputException UnknownCell(string wanted, RunReport report)
    {
        var names = report.Cells.Select(c => c.Cell.Name).Take(KnownCellsShown).ToList();
        var more = report.Cells.Count > names.Count ? $" and {report.Cells.Count - names.Count} more" : "";
        return new InputException(new InputError("(command line)", "--cell",
            $"no cell '{wanted}' (by id or image/sku/region name) in run {report.RunId}; its cells include {string.Join(", ", names)}{more}"));
    }

    /// <summary>The cell's attempts, oldest first, then one row per test with its outcome in each attempt and its classification.</summary>
    internal static void PrintCell(TextWriter writer, RunReport report, CellReport cell, string outputRoot)
    {
        var c = cell.Cell;
        writer.WriteLine($"cell {c.Name} ({c.Id}) of run {report.RunId}: {cell.State}, {cell.Attempts.Count} attempt(s)");
        writer.WriteLine($"  image {c.Image.Id} ({c.Image.Family}, {c.Arch.Name()}), sku {c.Sku.Name}, region {c.Region}, provider {c.Provider}");
        if (cell.Attempts.Count == 0)
        {
            writer.WriteLine($"  no attempt: {cell.Reason ?? "none has started"}");
            return;
        }
        foreach (var attempt in cell.Attempts)
        {
            var trigger = attempt.Trigger ?? (attempt.Number == 1 ? "first run" : "trigger not recorded");
            var scope = attempt.Scope.Count == 0 ? "all tests" : $"scope {string.Join(", ", attempt.Scope)}";
            writer.WriteLine($"  attempt {attempt.Number}  {attempt.AttemptId}  {trigger}  {scope}  on {attempt.Machine ?? "(no machine)"}");
            var outcome = attempt.Outcome switch
            {
                AttemptOutcome.Completed => $"completed: {Counts(attempt)}",
                AttemptOutcome.Cancelled => "cancelled" + (attempt.Error is null ? "" : $": {attempt.Error}"),
                _ => $"infrastructure error {attempt.ErrorKind ?? "(no kind)"}: {attempt.Error}",
            };
            writer.WriteLine(Invariant($"    {outcome}; started {attempt.StartedAt.UtcDateTime:yyyy-MM-dd HH:mm:ss}Z, took {(attempt.EndedAt - attempt.StartedAt).TotalSeconds:0.0} s"));
            if (attempt.Kept is not null) writer.WriteLine($"    kept: {attempt.Kept}");
            if (attempt.Artifacts is not null) writer.WriteLine($"    artefacts: {Path.Combine(outputRoot, attempt.Artifacts)}");
        }

        var tests = new Classification(report.Verdict).Classify(cell);
        if (tests.Count == 0) return;
        List<string[]> rows = [["test", .. cell.Attempts.Select(a => $"attempt {a.Number}"), ""]];
        foreach (var test in tests)
        {
            var runs = cell.Attempts.Select(a => string.Join(",", a.Tests.Where(t => t.Id == test.Record.Id).OrderBy(t => t.Rerun).Select(t => Classification.Word(t.Outcome))));
            var standing = test.Standing is TestStanding.Passed or TestStanding.Skipped ? "" : test.Label;
            rows.Add([test.Record.Id, .. runs.Select(r => r.Length == 0 ? "-" : r), standing]);
        }
        var widths = Enumerable.Range(0, rows[0].Length).Select(i => rows.Max(r => r[i].Length)).ToArray();
        writer.WriteLine("  tests (each attempt's outcome; same-machine reruns after a comma):");
        foreach (var row in rows) writer.WriteLine("    " + string.Join("  ", row.Select((text, i) => text.PadRight(widths[i]))).TrimEnd());
    }

    /// <summary>A completed attempt's tests, each with its last run in the attempt.</summary>
    private static string Counts(AttemptResult attempt)
    {
        var tests = CellResults.Merge([attempt]).Select(t => t.Latest.Outcome).ToList();
        var reruns = attempt.Tests.Count(t => t.Rerun > 0);
        return $"{tests.Count} test(s): {tests.Count(o => o == TestOutcome.Passed)} passed, {tests.Count(o => o is TestOutcome.Failed or TestOutcome.TimedOut)} failed, "
            + $"{tests.Count(o => o == TestOutcome.Skipped)} skipped"
            + (tests.Count(o => o == TestOutcome.Error) is > 0 and var errors ? $", {errors} error(s)" : "")
            + (reruns > 0 ? $"; {reruns} same-machine rerun(s)" : "");
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
