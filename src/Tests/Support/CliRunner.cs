using System.Diagnostics;
using TestGrid.Client;

namespace TestGrid.Tests.Support;

public sealed record CliResult(int ExitCode, string Out, string Error, TimeSpan Elapsed)
{
    public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalSeconds:0.0} s\n--- stdout\n{Out}\n--- stderr\n{Error}";
}

/// <summary>Runs the real CLI in this process (embedded silo and all), capturing its streams.</summary>
public static class CliRunner
{
    public static async Task<CliResult> RunAsync(params string[] args) => await RunAsync(CancellationToken.None, args);

    public static async Task<CliResult> RunAsync(CancellationToken cancellationToken, params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        var watch = Stopwatch.StartNew();
        var exit = await Cli.InvokeAsync(args, TextWriter.Synchronized(stdout), TextWriter.Synchronized(stderr), cancellationToken: cancellationToken);
        var result = new CliResult(exit, stdout.ToString(), stderr.ToString(), watch.Elapsed);
        TestContext.Out.WriteLine($"testgrid {string.Join(' ', args)}\n{result}");
        return result;
    }
}
