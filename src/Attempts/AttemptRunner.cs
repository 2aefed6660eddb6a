using System.Diagnostics;
using Microsoft.Extensions.Logging;
using TestGrid.Attempts.Artifacts;
using TestGrid.Attempts.Boot;
using TestGrid.Attempts.Certification;
using TestGrid.Attempts.Suites;
using TestGrid.Certification;
using TestGrid.Provision;
using TestGrid.Results;
using TestGrid.Ssh;
using TestGrid.Telemetry;

namespace TestGrid.Attempts;

/// <summary>
/// One attempt of a cell on a fresh machine: provision → boot (SSH banner, pinned login) → upload suites → run
/// tests → results → teardown. Teardown runs on pass, fail, error and cancel. Infrastructure failures end the
/// attempt in <see cref="AttemptOutcome.InfrastructureError"/> with a stable kind; they are never test outcomes.
/// Traced as a <c>testgrid.attempt</c> span with <c>testgrid.provision</c>, <c>testgrid.boot</c>, one
/// <c>testgrid.suite</c> per suite and <c>testgrid.teardown</c> as children; an infrastructure error marks the stage
/// it happened in and the attempt with its kind.
/// </summary>
public sealed class AttemptRunner(IMachineProvider provider, SshSessionOptions sshOptions, ILogger<AttemptRunner> logger) : IAttemptRunner
{
    /// <summary>How long teardown may take: a QEMU guest ends in seconds, an Azure VM delete takes minutes.</summary>
    private static readonly TimeSpan TeardownTimeout = TimeSpan.FromMinutes(10);

    public async Task<AttemptResult> RunAsync(AttemptRequest request, StageCallback stage, CancellationToken cancellationToken)
    {
        using var span = TestGridTelemetry.StartAttempt(request.RunId, request.Cell.Id, request.Number, request.AttemptId, provider.Name);
        var folder = ArtifactLayout.AttemptFolder(request.Cell, request.Number);
        var log = new AttemptLog(Path.Combine(request.OutputRoot, folder, "attempt.log"), request.AttemptId, logger);
        Redactor? redactor;
        AttemptResult result;
        try
        {
            (result, redactor) = await RunAsync(request, folder, log, stage, span, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            log.Dispose();
        }
        // A certification attempt: what was written before its hardware was known is redacted now, with the log closed.
        if (redactor is not null) result = await HardwareStage.RedactAsync(redactor, Path.Combine(request.OutputRoot, folder), result).ConfigureAwait(false);
        await using (var file = File.Create(Path.Combine(request.OutputRoot, folder, "result.json")))
            await System.Text.Json.JsonSerializer.SerializeAsync(file, result, TestGridJsonContext.Default.AttemptResult, CancellationToken.None).ConfigureAwait(false);
        return result;
    }

    private async Task<(AttemptResult Result, Redactor? Redactor)> RunAsync(AttemptRequest request, string folder, AttemptLog log, StageCallback stage, Activity? span,
        CancellationToken cancellationToken)
    {
        var started = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var tests = new List<TestResult>();
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        Machine? machine = null;
        SshSession? session = null;
        Redactor? redactor = null;
        log.Write($"attempt {request.Number} ({request.AttemptId}) of cell {request.Cell.Name} ({request.Cell.Id}), run {request.RunId}, provider {provider.Name}");

        AttemptResult Result(AttemptOutcome outcome, string? kind = null, string? error = null) =>
            request.Result(outcome, started, DateTimeOffset.UtcNow, machine?.Name, tests, metrics, folder, kind, error);

        AttemptResult? result = null;
        string? kept = null;
        try
        {
            using (var provisioning = TestGridTelemetry.StartStage("provision"))
            {
                try
                {
                    await stage(CellState.Provisioning, null).ConfigureAwait(false);
                    var provision = new ProvisionRequest(request.RunId, request.Cell, request.AttemptId, request.Resource, Path.Combine(request.OutputRoot, folder), log, metrics);
                    machine = await provider.ProvisionAsync(provision, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (InfrastructureError.Of(e) is { } error)
                {
                    TestGridTelemetry.Failed(provisioning, error.Kind, error.Summary);
                    throw;
                }
            }
            log.Write($"provisioned {machine.Name} in {clock.Elapsed.TotalSeconds:0.0} s");

            using (var booting = TestGridTelemetry.StartStage("boot", machine.Name))
            {
                try
                {
                    await stage(CellState.Booting, machine.Name).ConfigureAwait(false);
                    (session, machine) = await BootStage.ReachAsync(machine, sshOptions, log, clock, metrics, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (InfrastructureError.Of(e) is { } error)
                {
                    TestGridTelemetry.Failed(booting, error.Kind, error.Summary);
                    throw;
                }
            }

            await stage(CellState.RunningSuites, machine.Name).ConfigureAwait(false);
            HardwareFacts? hardware = null;
            if (request.Certification is { } certification)
                (hardware, redactor) = await HardwareStage.CollectAsync(session, machine, certification, log, Path.Combine(request.OutputRoot, folder), cancellationToken).ConfigureAwait(false);
            var reached = machine;
            var suites = new SuiteRunner(session, request, reached, metrics, () => reached.Console?.Elapsed ?? clock.Elapsed, log, sshOptions, hardware);
            try
            {
                await suites.RunAsync(stage, tests, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                // The reboot cycles end the session they started with: teardown uses the last one.
                session = suites.Session;
            }
            result = Result(AttemptOutcome.Completed);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            log.Write("cancelled");
            result = Result(AttemptOutcome.Cancelled);
        }
        catch (Exception e) when (InfrastructureError.Of(e) is { } error)
        {
            log.Write($"infrastructure error {error.Kind}: {e.Message}");
            TestGridTelemetry.Failed(span, error.Kind, error.Summary);
            result = Result(AttemptOutcome.InfrastructureError, error.Kind, e.Message);
        }
        finally
        {
            kept = await TeardownAsync(machine, session, result, request, log).ConfigureAwait(false);
        }

        result = result with { Kept = kept, EndedAt = DateTimeOffset.UtcNow };
        log.Write($"attempt ended {result.Outcome} ({result.CellState}) after {clock.Elapsed.TotalSeconds:0.0} s");
        span?.SetTag(TestGridTelemetry.AttemptOutcomeAttribute, TestGridTelemetry.OutcomeName(result.Outcome));
        span?.SetTag(TestGridTelemetry.CellStateAttribute, TestGridTelemetry.StateName(result.CellState));
        TestGridTelemetry.AttemptEnded(provider.Name, result.Outcome, result.ErrorKind, clock.Elapsed);
        return (result, redactor);
    }

    /// <summary>
    /// Removes the attempt's working folder and destroys the machine, bounded in time and deaf to the attempt's
    /// cancel; or, with <c>--keep failed</c> and a failed or errored attempt, keeps the machine and returns how to reach it.
    /// </summary>
    private async Task<string?> TeardownAsync(Machine? machine, SshSession? session, AttemptResult? result, AttemptRequest request, AttemptLog log)
    {
        using var span = TestGridTelemetry.StartStage("teardown", machine?.Name);
        using var limit = new CancellationTokenSource(TeardownTimeout);
        if (session is not null)
        {
            // One command removes the attempt's folder and the session's own files, then the session ends.
            if (await session.CloseAsync([SuiteRunner.RemoteRoot(request)], TimeSpan.FromSeconds(30), limit.Token).ConfigureAwait(false) is { } problem)
                log.Write($"teardown: could not remove {SuiteRunner.RemoteRoot(request)}: {problem}");
        }
        if (machine is null) return null;
        try
        {
            if (request.KeepFailedFor is { } keepFor && result?.CellState is CellState.Failed or CellState.Error
                && await provider.KeepAsync(machine, DateTimeOffset.UtcNow + keepFor, limit.Token).ConfigureAwait(false) is { } reach)
            {
                log.Write($"teardown: kept {machine.Name} (--keep failed): {reach}");
                return reach;
            }
            await provider.DestroyAsync(machine, limit.Token).ConfigureAwait(false);
            log.Write($"teardown: {machine.Name} released");
        }
        catch (Exception e) when (e is ProvisionException or OperationCanceledException or IOException or TimeoutException)
        {
            log.Write($"teardown: destroying {machine.Name} failed: {e.Message}");
        }
        return null;
    }
}
