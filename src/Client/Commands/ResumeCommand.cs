using System.CommandLine;
using Microsoft.Extensions.Logging;
using TestGrid.Engine;
using TestGrid.Input;
using TestGrid.Matrix;
using TestGrid.Verdict;

namespace TestGrid.Client.Commands;

/// <summary>
/// <c>testgrid resume RUN</c>: finishes a run whose embedded engine died (the CLI was killed, the machine rebooted)
/// from its checkpoint in the data folder: attempts that were in flight are torn down and retried on fresh machines,
/// cells that had ended keep their results. With <c>--cluster</c> it nudges a cluster's run (clusters resume by themselves).
/// </summary>
internal static class ResumeCommand
{
    public static Command Create(CliConsole console)
    {
        var runId = RunIdArgument();
        var target = new EngineTarget();
        var output = CommonOptions.Output();
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log the engine's work to stderr." };
        var command = new Command("resume", "Finish a run whose process died, from its checkpoint (.testgrid beside the matrix, or --data). "
            + "Exit code: the verdict's (0 PASS, 1 FAIL, 2 INCOMPLETE); 3 when the run is unknown.")
        {
            runId, output, verbose,
        };
        foreach (var option in target.Options) command.Options.Add(option);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var json = parse.GetValue(output) == "json";
            try
            {
                await using var engine = await target.OpenAsync(parse, MatrixLoader.DefaultFileName, autoResume: true,
                    parse.GetValue(verbose) ? LogLevel.Information : LogLevel.Warning, CancellationToken.None).ConfigureAwait(false);
                var run = engine.Grains.GetGrain<IRunGrain>(parse.GetValue(runId)!);
                var spec = await run.GetSpecAsync().ConfigureAwait(false) ?? throw Unknown(parse.GetValue(runId)!, engine);
                (json ? console.Error : console.Out).WriteLine($"resuming run {spec.RunId} ({spec.Plan.Cells.Count} cells of {spec.Plan.Matrix} on {spec.Provider.Name}); {engine.Description}");
                await run.ResumeAsync().ConfigureAwait(false);
                return await RunFollower.FollowAsync(console, run, spec, json, spec.OutputRoot, cancelOnInterrupt: true, cancellationToken).ConfigureAwait(false);
            }
            catch (InputException e)
            {
                return console.InvalidInput(e.Errors);
            }
        });
        return command;
    }

    public static Argument<string> RunIdArgument() => new("run") { Description = "The run's id (printed when it started)." };

    public static InputException Unknown(string runId, Hosting.EngineHost engine) =>
        new(new InputError("(command line)", "run", $"no run '{runId}' in the {engine.Description}"));
}
