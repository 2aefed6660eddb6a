using System.CommandLine;
using Microsoft.Extensions.Logging;
using TestGrid.Engine;
using TestGrid.Input;
using TestGrid.Matrix;

namespace TestGrid.Client.Commands;

/// <summary>
/// <c>testgrid watch RUN --cluster host:port</c>: follows a cluster's run from any machine (live grid or plain lines)
/// until it ends, then prints the verdict and exits with its code. Ctrl-C stops watching, not the run.
/// </summary>
internal static class WatchCommand
{
    public static Command Create(CliConsole console)
    {
        var runId = ResumeCommand.RunIdArgument();
        var target = new EngineTarget();
        var output = CommonOptions.Output();
        var outDir = new Option<string?>("--out") { Description = "Also write verdict.json, junit.xml and summary.md into this folder when the run ends." };
        var command = new Command("watch", "Follow a run until it ends and print its verdict. Exit code: the verdict's (0 PASS, 1 FAIL, 2 INCOMPLETE or stopped watching); 3 when the run is unknown.")
        {
            runId, output, outDir,
        };
        foreach (var option in target.Options) command.Options.Add(option);
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                // Embedded, a run progresses only in the process that runs it: watching its checkpoint would show nothing move.
                if (!target.IsCluster(parse))
                    throw new InputException(new InputError("(command line)", "--cluster", "watch follows a cluster's run: name its gateways with --cluster; for an embedded run use 'testgrid status' or 'testgrid resume'"));
                await using var engine = await target.OpenAsync(parse, MatrixLoader.DefaultFileName, autoResume: false, LogLevel.Warning, CancellationToken.None).ConfigureAwait(false);
                var run = engine.Grains.GetGrain<IRunGrain>(parse.GetValue(runId)!);
                var spec = await run.GetSpecAsync().ConfigureAwait(false) ?? throw ResumeCommand.Unknown(parse.GetValue(runId)!, engine);
                var folder = parse.GetValue(outDir) is { } path ? Path.GetFullPath(path) : null;
                return await RunFollower.FollowAsync(console, run, spec, parse.GetValue(output) == "json", folder, cancelOnInterrupt: false, cancellationToken).ConfigureAwait(false);
            }
            catch (InputException e)
            {
                return console.InvalidInput(e.Errors);
            }
        });
        return command;
    }
}
