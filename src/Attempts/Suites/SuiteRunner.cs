using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using TestGrid.Attempts.Artifacts;
using TestGrid.Attempts.Certification;
using TestGrid.Certification;
using TestGrid.Results;
using TestGrid.Ssh;
using TestGrid.Suites;
using TestGrid.Telemetry;

namespace TestGrid.Attempts.Suites;

/// <summary>
/// Runs a cell's suites over one SSH session: uploads every suite once to the attempt's own folder, then runs each
/// test under its timeout, its output captured with a cap, its exit code turned into an outcome (0 pass, 77 skip
/// with the last output line as reason, anything else fail). The policy orders suites in tiers (a tier runs only when
/// the earlier ones had no blocking failure) and may run a failed test again on the same machine; an attempt with a
/// scope runs only the tests it names.
/// </summary>
/// <param name="sinceStart">Time since the machine started: when the first test command went out is measured with it.</param>
/// <param name="hardware">What a certification attempt found the machine to be (the hardware check compares it with the declaration).</param>
public sealed partial class SuiteRunner(SshSession session, AttemptRequest request, Provision.Machine machine, Dictionary<string, double> metrics,
    Func<TimeSpan> sinceStart, AttemptLog log, SshSessionOptions sshOptions, HardwareFacts? hardware = null)
{
    /// <summary>The session the suites ended on: the reboot cycles replace the one they were given.</summary>
    public SshSession Session => session;

    private readonly string _remoteRoot = RemoteRoot(request);

    /// <summary>The attempt's folder on the machine; teardown removes it.</summary>
    public static string RemoteRoot(AttemptRequest request) => Provision.Machine.RemoteFolder(request.AttemptId);

    /// <summary>How much of a test's output travels in its result (head and tail each); the log keeps the whole capped output.</summary>
    public const int ExcerptChars = 2048;

    public const int SkipExitCode = 77;

    /// <summary>How the reason of a test skipped because an earlier tier failed begins: the policy's reruns run such tests again.</summary>
    public const string TierSkipPrefix = "not run: tier";

    /// <summary>Suites are at most 8 MiB: a machine that takes longer than this to take them is not healthy.</summary>
    public static readonly TimeSpan UploadTimeout = TimeSpan.FromMinutes(5);

    /// <summary>An attempt folder untouched this long (25 h: a test's longest timeout is 24 h) belongs to no live attempt.</summary>
    public const int StaleFolderMinutes = 25 * 60;

    /// <summary>Appends each test's result to <paramref name="results"/> as it ends, so that an attempt that breaks midway keeps what ran.</summary>
    public async Task RunAsync(StageCallback stage, List<TestResult> results, CancellationToken cancellationToken)
    {
        var scope = request.Scope is { Count: > 0 } tests ? tests.ToHashSet(StringComparer.Ordinal) : null;
        var policy = request.Policy;
        var suites = request.Suites.Where(p => scope is null || p.Suite.Tests.Any(t => scope.Contains($"{p.Suite.Name}/{t.Id}")))
            .OrderBy(p => policy.TierOf(p.Suite.Name)).ToList();
        var files = suites.SelectMany(p => p.Files.Select(f => ($"{p.Suite.Name}/{f.Path}", f.Content))).ToList();
        // One command: folders of attempts whose runner died stay behind (their processes end at their timeout's
        // backstop), and any older than the longest a test may run, plus a margin, is swept; then the attempt's folder
        // is made and the suites unpacked into it from a tar stream on the command's input.
        using (var archive = SshSession.Archive(files))
        {
            await session.ExecAsync(
                $"find /tmp -maxdepth 1 -type d \\( -name 'testgrid-*' -o -name '.testgrid-*' \\) -mmin +{StaleFolderMinutes} -exec rm -rf {{}} + 2>/dev/null; " +
                $"rm -rf {_remoteRoot} && mkdir -m 700 {_remoteRoot} {_remoteRoot}/.metrics && tar -x -f - -C {_remoteRoot}",
                UploadTimeout, cancellationToken, archive).ConfigureAwait(false);
            log.Write($"uploaded {files.Count} files of {suites.Count} suites to {_remoteRoot} ({archive.Length} bytes of tar)" +
                      (scope is null ? "" : $"; running only {string.Join(", ", scope.Order(StringComparer.Ordinal))}"));
        }

        string? stoppedBy = null;
        foreach (var tier in suites.GroupBy(p => policy.TierOf(p.Suite.Name)))
        {
            foreach (var package in tier)
            {
                if (stoppedBy is not null)
                {
                    foreach (var test in Selected(package, scope))
                        results.Add(new TestResult { Suite = package.Suite.Name, Test = test.Id, Outcome = TestOutcome.Skipped, Blocking = Blocking(package, test), Reason = stoppedBy });
                    continue;
                }
                using var span = TestGridTelemetry.StartStage("suite", package.Suite.Name);
                try
                {
                    await RunSuiteAsync(package, Selected(package, scope), stage, results, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (InfrastructureError.Of(e) is { } error)
                {
                    TestGridTelemetry.Failed(span, error.Kind, error.Summary);
                    throw;
                }
            }
            if (stoppedBy is null && policy.Tiers.Count > 0 && TierFailures(tier, results) is { Count: > 0 } failures)
            {
                stoppedBy = $"{TierSkipPrefix} '{policy.TierName(tier.Key)}' had blocking failures ({string.Join(", ", failures)})";
                log.Write($"later tiers not run: {stoppedBy}");
            }
        }
    }

    /// <summary>The tests of a suite this attempt runs.</summary>
    private static List<TestDefinition> Selected(SuitePackage package, HashSet<string>? scope) =>
        [.. package.Suite.Tests.Where(t => scope is null || scope.Contains($"{package.Suite.Name}/{t.Id}"))];

    private bool Blocking(SuitePackage package, TestDefinition test) => request.Policy.IsBlocking(package.Suite.Name, test.Id, test.Blocking);

    /// <summary>Blocking tests of the tier whose last run failed.</summary>
    private static List<string> TierFailures(IEnumerable<SuitePackage> tier, List<TestResult> results)
    {
        var names = tier.Select(p => p.Suite.Name).ToHashSet(StringComparer.Ordinal);
        return [.. results.Where(r => names.Contains(r.Suite)).GroupBy(r => r.Id).Select(g => g.Last()).Where(r => r.Blocking && r.IsFailure).Select(r => r.Id)];
    }

    private async Task RunSuiteAsync(SuitePackage package, IReadOnlyList<TestDefinition> tests, StageCallback stage, List<TestResult> results, CancellationToken cancellationToken)
    {
        var cell = request.Cell;
        var flakes = request.Policy.Flakes;
        foreach (var test in tests)
        {
            var blocking = Blocking(package, test);
            var unmet = test.Requires.Unmet(cell.Arch, cell.Image.Family, cell.Provider, cell.Sku.Vcpus);
            if (unmet is not null)
            {
                log.Write($"{package.Suite.Name}/{test.Id}: skipped: {unmet}");
                results.Add(new TestResult { Suite = package.Suite.Name, Test = test.Id, Outcome = TestOutcome.Skipped, Blocking = blocking, Reason = unmet });
                continue;
            }
            await stage(CellState.RunningSuites, $"{package.Suite.Name}/{test.Id}").ConfigureAwait(false);
            if (test.Check is { } check)
            {
                results.Add(await RunCheckAsync(package.Suite, test, check, blocking, cancellationToken).ConfigureAwait(false));
                continue;
            }
            var result = await RunTestAsync(package.Suite, test, blocking, 0, cancellationToken).ConfigureAwait(false);
            results.Add(result);
            // The policy's reruns on this machine: until it passes, at most Reruns times. Runner checks judge evidence that does not change.
            for (var rerun = 1; flakes.Machine == Matrix.RerunMachine.Same && rerun <= flakes.Reruns && result.IsFailure; rerun++)
            {
                await stage(CellState.RunningSuites, $"{package.Suite.Name}/{test.Id} (rerun {rerun} of {flakes.Reruns})").ConfigureAwait(false);
                result = await RunTestAsync(package.Suite, test, blocking, rerun, cancellationToken).ConfigureAwait(false);
                results.Add(result);
            }
        }
    }

    private async Task<TestResult> RunCheckAsync(SuiteDefinition suite, TestDefinition test, string check, bool blocking, CancellationToken cancellationToken)
    {
        log.Write($"{suite.Name}/{test.Id}: runner check {check}");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        RunnerChecks.Outcome outcome;
        var reported = new Dictionary<string, double>(StringComparer.Ordinal);
        if (check == Checks.RebootCycles)
        {
            var folder = Path.Combine(request.OutputRoot, ArtifactLayout.AttemptFolder(request.Cell, request.Number));
            var cycles = await new RebootCycles(machine, sshOptions, request.Policy.Certification, log, folder).RunAsync(session, cancellationToken).ConfigureAwait(false);
            session = cycles.Session;
            outcome = new RunnerChecks.Outcome(cycles.Result, cycles.Reason, cycles.Output);
            foreach (var (name, value) in cycles.Metrics) reported[name] = value;
        }
        else
        {
            outcome = RunnerChecks.Run(check, request, machine, metrics, hardware);
        }
        var output = new OutputCapture();
        output.Append(Encoding.UTF8.GetBytes(outcome.Output));
        return await RecordAsync(suite, test, blocking, 0, outcome.Result, outcome.Reason, null, watch.Elapsed, output.ToCaptured(), reported).ConfigureAwait(false);
    }

    private async Task<TestResult> RunTestAsync(SuiteDefinition suite, TestDefinition test, bool blocking, int rerun, CancellationToken cancellationToken)
    {
        var capture = new OutputCapture();
        log.Write($"{suite.Name}/{test.Id}: running {test.Script} (timeout {test.TimeoutSeconds} s)" + (rerun == 0 ? "" : $", rerun {rerun} after a failure"));
        // The runner's overhead after the machine is up: from the SSH banner to the first test command.
        metrics.TryAdd("suites.first_command", sinceStart().TotalSeconds);
        // Its metrics file comes back on the same channel once it has ended: no round trip of its own.
        var result = await session.RunAsync(Command(suite, test), test.Timeout, capture, cancellationToken, resultFile: MetricsFile(suite, test)).ConfigureAwait(false);
        var output = capture.ToCaptured();

        var (outcome, reason) = result switch
        {
            { TimedOut: true } => (TestOutcome.TimedOut, $"timed out after {test.TimeoutSeconds} s; its process group was killed"),
            { ExitCode: 0 } => (TestOutcome.Passed, null),
            { ExitCode: SkipExitCode } => (TestOutcome.Skipped, output.LastLine() ?? "skipped (exit 77) without a reason"),
            { ExitCode: int code } => (TestOutcome.Failed, $"exit code {code}"),
            _ => (TestOutcome.Failed, $"ended without an exit code (signal {result.ExitSignal ?? "unknown"})"),
        };
        if (outcome == TestOutcome.Failed && output.LastLine() is { } last) reason += $": {Truncate(last, 200)}";
        var reported = ParseMetrics(result.ResultFile);
        return await RecordAsync(suite, test, blocking, rerun, outcome, reason, result, result.Duration, output, reported).ConfigureAwait(false);
    }

    /// <summary>Writes the test's log and makes its result; metrics it reported join the attempt's.</summary>
    private async Task<TestResult> RecordAsync(SuiteDefinition suite, TestDefinition test, bool blocking, int rerun, TestOutcome outcome, string? reason,
        CommandResult? command, TimeSpan duration, CapturedOutput output, Dictionary<string, double> reported)
    {
        var logPath = ArtifactLayout.TestLog(ArtifactLayout.AttemptFolder(request.Cell, request.Number), suite.Name, test.Id, rerun);
        await WriteTestLogAsync(logPath, suite, test, command?.ExitCode, duration, outcome, output).ConfigureAwait(false);
        foreach (var (name, value) in reported) metrics[name] = value;
        log.Write($"{suite.Name}/{test.Id}: {outcome.ToString().ToLowerInvariant()} in {duration.TotalSeconds:0.00} s" +
                  (reason is null ? "" : $": {reason}") + (output.DroppedBytes > 0 ? $" ({output.DroppedBytes} of {output.TotalBytes} output bytes dropped)" : "") +
                  (reported.Count > 0 ? $"; metrics {string.Join(", ", reported.Select(m => string.Create(CultureInfo.InvariantCulture, $"{m.Key}={m.Value}")))}" : ""));
        return new TestResult
        {
            Suite = suite.Name,
            Test = test.Id,
            Outcome = outcome,
            Blocking = blocking,
            ExitCode = command?.ExitCode,
            Duration = duration,
            Reason = reason,
            Output = outcome == TestOutcome.Passed ? null : output.Excerpt(ExcerptChars),
            Log = logPath,
            Metrics = reported,
            Rerun = rerun,
        };
    }

    /// <summary>
    /// Metrics a test wrote to <c>$TESTGRID_METRICS</c>: one <c>name value</c> (or <c>name=value</c>) a line, names
    /// of lowercase letters, digits, '_' and '.'; other lines are ignored. Read capped, like all guest output
    /// (<see cref="SshSession.ResultFileBytes"/>); a test killed at its timeout reports none.
    /// </summary>
    private static Dictionary<string, double> ParseMetrics(string? text)
    {
        var reported = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in (text ?? "").Split('\n'))
        {
            var match = MetricLine().Match(line.Trim());
            if (match.Success && double.TryParse(match.Groups["value"].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
                reported[match.Groups["name"].Value] = value;
        }
        return reported;
    }

    private string MetricsFile(SuiteDefinition suite, TestDefinition test) => MetricsFile(_remoteRoot, suite.Name, test.Id);

    private static string MetricsFile(string remoteRoot, string suite, string test) => $"{remoteRoot}/.metrics/{suite}.{test}";

    [GeneratedRegex(@"^(?<name>[a-z0-9_]+(\.[a-z0-9_]+)*)[ =](?<value>[-+0-9.eE]+)$")]
    private static partial Regex MetricLine();

    /// <summary>Runs the script from its suite folder with the cell described in <c>TESTGRID_*</c> variables.</summary>
    private string Command(SuiteDefinition suite, TestDefinition test) =>
        TestCommand(_remoteRoot, request.RunId, request.Cell, request.Number, suite.Name, test.Id, test.Script!);

    /// <summary>
    /// The command that runs one test on the machine: from its suite's folder under <paramref name="remoteRoot"/>, the
    /// cell in <c>TESTGRID_*</c> variables, the script exec'd (so that its exit code and signals are its own).
    /// </summary>
    public static string TestCommand(string remoteRoot, string runId, Plan.Cell cell, int attempt, string suite, string test, string script)
    {
        var environment = new (string Name, string Value)[]
        {
            ("TESTGRID_RUN_ID", runId),
            ("TESTGRID_CELL_ID", cell.Id),
            ("TESTGRID_CELL", cell.Name),
            ("TESTGRID_ATTEMPT", attempt.ToString(CultureInfo.InvariantCulture)),
            ("TESTGRID_IMAGE", cell.Image.Id),
            ("TESTGRID_FAMILY", cell.Image.Family),
            ("TESTGRID_ARCH", cell.Arch.ToString().ToLowerInvariant()),
            ("TESTGRID_SKU", cell.Sku.Name),
            ("TESTGRID_VCPUS", cell.Sku.Vcpus.ToString(CultureInfo.InvariantCulture)),
            ("TESTGRID_MEMORY_GIB", cell.Sku.MemoryGiB.ToString(CultureInfo.InvariantCulture)),
            ("TESTGRID_SKU_FEATURES", string.Join(' ', cell.Sku.Features)),
            ("TESTGRID_REGION", cell.Region),
            ("TESTGRID_PROVIDER", cell.Provider),
            ("TESTGRID_SUITE", suite),
            ("TESTGRID_TEST", test),
            ("TESTGRID_RUNNER_EPOCH", DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)),
            ("TESTGRID_METRICS", MetricsFile(remoteRoot, suite, test)),
        };
        var exports = string.Join(" ", environment.Select(e => $"{e.Name}={SshSession.ShellQuote(e.Value)}"));
        return $"cd {SshSession.ShellQuote($"{remoteRoot}/{suite}")} && export {exports} && exec ./{SshSession.ShellQuote(script)}";
    }

    private async Task WriteTestLogAsync(string relativePath, SuiteDefinition suite, TestDefinition test, int? exitCode, TimeSpan duration, TestOutcome outcome, CapturedOutput output)
    {
        var path = Path.Combine(request.OutputRoot, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var header = new StringBuilder()
            .AppendLine(CultureInfo.InvariantCulture, $"# {request.Cell.Name} ({request.Cell.Id}) attempt {request.Number}: {suite.Name}/{test.Id}")
            .AppendLine(CultureInfo.InvariantCulture, $"# outcome {outcome.ToString().ToLowerInvariant()}, exit {exitCode?.ToString(CultureInfo.InvariantCulture) ?? "none"}, {duration.TotalSeconds:0.000} s")
            .AppendLine(CultureInfo.InvariantCulture, $"# output {output.TotalBytes} bytes; kept the first {OutputCapture.DefaultHeadBytes} and last {OutputCapture.DefaultTailBytes}, dropped {output.DroppedBytes}")
            .AppendLine("# ---");
        await File.WriteAllTextAsync(path, header + output.Text, CancellationToken.None).ConfigureAwait(false);
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length] + "…";
}
