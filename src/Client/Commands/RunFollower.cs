using System.Text.Json;
using TestGrid.Client.Progress;
using TestGrid.Engine;
using TestGrid.Reports;

namespace TestGrid.Client.Commands;

/// <summary>Follows a run to its end (live grid or plain lines), then writes its reports and prints its verdict: what run, resume and watch share.</summary>
internal static class RunFollower
{
    /// <param name="reportsFolder">Where verdict.json, junit.xml and summary.md go; null writes none.</param>
    /// <param name="cancelOnInterrupt">Ctrl-C cancels the run (its machines are torn down), as for the command that started it; else Ctrl-C only stops watching.</param>
    /// <param name="afterEvent">Show the run's events after this one (a rerun shows its own).</param>
    /// <returns>The verdict's exit code; <see cref="Verdict.ExitCodes.Incomplete"/> when watching stopped before the end.</returns>
    public static async Task<int> FollowAsync(CliConsole console, IRunGrain run, RunSpec spec, bool json, string? reportsFolder, bool cancelOnInterrupt,
        CancellationToken cancellationToken, long afterEvent = 0)
    {
        var log = json ? console.Error : console.Out;
        IProgressView view = console.Interactive && !json ? new LiveGridView(console.Ansi) : new PlainProgressView(log);
        var ended = false;
        await view.ShowAsync(spec, async update => ended = await PollAsync(run, update, afterEvent, cancelOnInterrupt, cancellationToken).ConfigureAwait(false)).ConfigureAwait(false);
        if (!ended)
        {
            log.WriteLine($"stopped watching run {spec.RunId}; it goes on in the cluster (testgrid watch {spec.RunId} --cluster ...)");
            return Verdict.ExitCodes.Incomplete;
        }

        var report = await run.GetReportAsync().ConfigureAwait(false);
        if (reportsFolder is not null) await WriteReportsAsync(report, reportsFolder).ConfigureAwait(false);
        if (json) console.Out.WriteLine(JsonSerializer.Serialize(report.Verdict, TestGridJsonContext.Default.RunVerdict));
        VerdictPrinter.Print(log, report, reportsFolder, spec.OutputRoot);
        return report.Verdict.ExitCode;
    }

    /// <summary>
    /// Polls the run's events until it ends (true). On Ctrl-C either asks the run to cancel and waits for its teardown,
    /// or stops (false). Calls that fail while the run moves to another silo are retried.
    /// </summary>
    private static async Task<bool> PollAsync(IRunGrain run, Action<RunProgress> update, long afterEvent, bool cancelOnInterrupt, CancellationToken cancellationToken)
    {
        var seen = afterEvent;
        var cancelled = false;
        while (true)
        {
            RunProgress progress;
            try
            {
                progress = await run.GetProgressAsync(seen).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or SiloUnavailableException or OrleansMessageRejectionException)
            {
                // The silo holding the run died: the next call reaches it on another one once the cluster has noticed.
                await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None).ConfigureAwait(false);
                continue;
            }
            if (progress.Events.Length > 0) seen = progress.Events[^1].Sequence;
            update(progress);
            if (progress.Done) return true;
            if (cancellationToken.IsCancellationRequested)
            {
                if (!cancelOnInterrupt) return false;
                if (!cancelled)
                {
                    cancelled = true;
                    await run.CancelAsync("interrupted").ConfigureAwait(false);
                }
            }
            await Task.Delay(TimeSpan.FromMilliseconds(250), CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static async Task WriteReportsAsync(RunReport report, string outputRoot)
    {
        Directory.CreateDirectory(outputRoot);
        await using (var file = File.Create(Path.Combine(outputRoot, "verdict.json")))
            await JsonSerializer.SerializeAsync(file, report, TestGridJsonContext.Default.RunReport).ConfigureAwait(false);
        await using (var file = File.Create(Path.Combine(outputRoot, "junit.xml")))
            JUnitReport.Write(report, file);
        await using (var file = File.Create(Path.Combine(outputRoot, MarkdownSummary.FileName)))
            MarkdownSummary.Write(report, file);
    }
}
