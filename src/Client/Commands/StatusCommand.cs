using System.CommandLine;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using TestGrid.Engine;
using TestGrid.Input;
using TestGrid.Matrix;
using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Client.Commands;

/// <summary>
/// <c>testgrid status RUN [--cluster host:port | --data folder]</c>: where a run stands, read from a cluster (any
/// machine) or from an embedded run's checkpoint (without resuming it): counts by state, every cell with its state,
/// attempts and reason, and the verdict once there is one.
/// </summary>
internal static class StatusCommand
{
    public static Command Create(CliConsole console)
    {
        var runId = ResumeCommand.RunIdArgument();
        var target = new EngineTarget();
        var output = CommonOptions.Output();
        var command = new Command("status", "Show where a run stands (json: the run's report so far). "
            + "Exit code: the verdict's once the run has ended (0 PASS, 1 FAIL, 2 INCOMPLETE); 2 while it runs; 3 when the run is unknown.")
        {
            runId, output,
        };
        foreach (var option in target.Options) command.Options.Add(option);
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                await using var engine = await target.OpenAsync(parse, MatrixLoader.DefaultFileName, autoResume: false, LogLevel.Warning, cancellationToken).ConfigureAwait(false);
                var run = engine.Grains.GetGrain<IRunGrain>(parse.GetValue(runId)!);
                var spec = await run.GetSpecAsync().ConfigureAwait(false) ?? throw ResumeCommand.Unknown(parse.GetValue(runId)!, engine);
                var progress = await run.GetProgressAsync(int.MaxValue).ConfigureAwait(false);
                var report = await run.GetReportAsync().ConfigureAwait(false);
                if (parse.GetValue(output) == "json")
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
}
