using System.Diagnostics;
using System.Globalization;
using TestGrid.Results;
using TestGrid.Tests.Support;
using TestGrid.Verdict;

namespace TestGrid.Tests.Integration;

/// <summary>
/// A guest is untrusted: a test that prints 100 MB must not grow the runner. The CLI runs as its own process here
/// so that its peak resident memory (VmHWM) can be read and compared with a run whose tests print almost nothing.
/// </summary>
[TestFixture]
public sealed class OutputCapTests : IntegrationFixture
{
    private const long HundredMegabytes = 100L * 1024 * 1024;

    [Test]
    public async Task A_test_printing_100_MB_is_capped_and_the_runner_memory_stays_bounded()
    {
        using var quiet = new Scenario().Host(Hosts[0], "h1");
        quiet.Workspace.Suite("out", new TestScript("flood", "echo a little output"));
        quiet.WriteMatrix(["out"]);
        var (quietExit, quietPeak) = await RunProcessAsync(quiet);

        using var loud = new Scenario().Host(Hosts[0], "h1");
        loud.Workspace.Suite("out", new TestScript("flood", $"yes 'a line of output that goes on and on' | head -c {HundredMegabytes}", TimeoutSeconds: 120));
        loud.WriteMatrix(["out"]);
        var watch = Stopwatch.StartNew();
        var (loudExit, loudPeak) = await RunProcessAsync(loud);
        var elapsed = watch.Elapsed;

        TestContext.Out.WriteLine($"peak RSS: {quietPeak / 1024} MiB with a few bytes of output, {loudPeak / 1024} MiB with 100 MiB of output ({elapsed.TotalSeconds:0.0} s)");
        Assert.That((quietExit, loudExit), Is.EqualTo((ExitCodes.Pass, ExitCodes.Pass)));

        var test = loud.Report().Cells.Single().Latest!.Tests.Single();
        var log = Path.Combine(loud.Output, test.Log!);
        Assert.Multiple(() =>
        {
            Assert.That(test.Outcome, Is.EqualTo(TestOutcome.Passed));
            Assert.That(new FileInfo(log).Length, Is.LessThan(OutputCapture.DefaultHeadBytes + OutputCapture.DefaultTailBytes + 4096), "the log keeps head and tail only");
            Assert.That(File.ReadAllText(log), Does.Contain($"output {HundredMegabytes} bytes").And.Contain($"dropped {HundredMegabytes - OutputCapture.DefaultHeadBytes - OutputCapture.DefaultTailBytes}"));
            Assert.That(loudPeak - quietPeak, Is.LessThan(64 * 1024), "100 MiB of output may cost the runner at most 64 MiB more than none");
        });
    }

    /// <summary>
    /// Runs <c>testgrid run</c> as a child process under GNU time; returns its exit code and peak resident memory in
    /// KiB: the kernel's own count (the child's <c>ru_maxrss</c>, read when it is reaped), not samples of
    /// <c>/proc/&lt;pid&gt;/status</c>, which in a busy test run sometimes caught none and measured 0.
    /// </summary>
    private static async Task<(int Exit, long PeakKib)> RunProcessAsync(Scenario scenario)
    {
        var peakFile = scenario.Workspace.Path("peak-rss-kib");
        using var process = scenario.StartProcess("/usr/bin/time", "-o", peakFile, "-f", "%M");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        TestContext.Out.WriteLine(await stdout);
        TestContext.Out.WriteLine(await stderr);
        // The last line: GNU time puts "Command exited with non-zero status N" before it when the command failed.
        var peak = long.Parse(File.ReadAllLines(peakFile)[^1], CultureInfo.InvariantCulture);
        Assert.That(peak, Is.GreaterThan(16 * 1024), "a .NET process holds more than 16 MiB: the measurement is not empty");
        return (process.ExitCode, peak);
    }
}
