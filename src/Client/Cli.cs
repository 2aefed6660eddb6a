using System.CommandLine;
using TestGrid.Client.Commands;
using TestGrid.Verdict;

namespace TestGrid.Client;

/// <summary>
/// The <c>testgrid</c> command line. Exit codes: 0 PASS, 1 FAIL, 2 INCOMPLETE (also when TestGrid itself fails), 3 invalid input or usage
/// (<see cref="ExitCodes"/>). Data goes to stdout, diagnostics to stderr.
/// </summary>
public static class Cli
{
    /// <summary>After Ctrl-C, how long the run has to cancel its attempts and tear their machines down.</summary>
    public static readonly TimeSpan TeardownGrace = TimeSpan.FromMinutes(2);

    /// <param name="handleTermination">Turn Ctrl-C and SIGTERM into cancellation (the process does; in-process tests pass a token instead).</param>
    public static async Task<int> InvokeAsync(string[] args, TextWriter stdout, TextWriter stderr, bool handleTermination = false, CancellationToken cancellationToken = default)
    {
        var console = new CliConsole(stdout, stderr);
        var root = new RootCommand("TestGrid: runs a test matrix of Linux VM images (image × SKU × region) and turns the results into one release verdict.\n" +
                                   "Exit codes: 0 PASS, 1 FAIL, 2 INCOMPLETE (infrastructure kept a cell from a result), 3 invalid input or usage.")
        {
            ValidateCommand.Create(console),
            PlanCommand.Create(console),
            RunCommand.Create(console),
            ResumeCommand.Create(console),
            RerunCommand.Create(console),
            StatusCommand.Create(console),
            WatchCommand.Create(console),
            JanitorCommand.Create(console),
            HistoryCommand.Create(console),
            CertifyCommand.Create(console),
            KeygenCommand.Create(console),
            BundleCommand.Create(console),
            VerifyCommand.Create(console),
            SubmitCommand.Create(console),
            SubmissionsCommand.Create(console),
        };
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors) stderr.WriteLine($"error: {error.Message}");
            stderr.WriteLine("Run 'testgrid --help' for usage.");
            return ExitCodes.InvalidInput;
        }
        var invocation = new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            EnableDefaultExceptionHandler = false,
            ProcessTerminationTimeout = handleTermination ? TeardownGrace : null,
        };
        try
        {
            return await parse.InvokeAsync(invocation, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Not the input's fault (that is exit 3, with the file and path) and not a verdict: TestGrid itself or
            // its surroundings failed, so no result can be trusted. The details are for whoever debugs it.
            stderr.WriteLine($"error: testgrid failed: {e.Message}");
            stderr.WriteLine(e);
            return ExitCodes.Incomplete;
        }
    }
}
