using System.CommandLine;
using Microsoft.Extensions.Logging;
using TestGrid.Certification.Bundles;
using TestGrid.Certification.Keys;
using TestGrid.Engine;
using TestGrid.Input;
using TestGrid.Matrix;
using TestGrid.Verdict;

namespace TestGrid.Client.Commands;

/// <summary>
/// <c>testgrid bundle RUN --out FILE --key PRIVATE_KEY [--data DIR | --cluster …] [--results DIR]</c>: an ended run's
/// result bundle — one deterministic tar.gz with manifest.json and every file of the run's output folder — and its
/// detached signature FILE.sig. The run is read as <c>status</c> reads it, without resuming it.
/// </summary>
internal static class BundleCommand
{
    public static Command Create(CliConsole console)
    {
        var runId = ResumeCommand.RunIdArgument();
        var target = new EngineTarget();
        var output = new Option<string>("--out") { Description = "The bundle archive to write (tar.gz); its signature goes to FILE.sig.", Required = true };
        var key = new Option<string>("--key") { Description = "The private signing key (testgrid keygen).", Required = true };
        var results = new Option<string?>("--results")
        {
            Description = "The run's output folder, when it is not where the run wrote it (e.g. a cluster's run, copied here). Default: the run's own.",
        };
        var command = new Command("bundle", "Write an ended run's signed result bundle: FILE (tar.gz: manifest.json and the run's outputs) and FILE.sig. "
            + "Exit code: 0 written, 2 when TestGrid fails, 3 on invalid input (unknown or unended run, missing output folder, key).")
        {
            runId, output, key, results,
        };
        foreach (var option in target.Options) command.Options.Add(option);
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                using var signingKey = SigningKeys.LoadPrivate(parse.GetValue(key)!);
                var source = await ReadRunAsync(target, parse, parse.GetValue(runId)!, parse.GetValue(results), cancellationToken).ConfigureAwait(false);
                var bundle = await BundleWriter.WriteAsync(source, parse.GetValue(output)!, signingKey, cancellationToken).ConfigureAwait(false);
                console.Out.WriteLine($"bundle {bundle.ArchiveFile}: run {source.RunId}" + (source.Partner is null ? "" : $", partner {source.Partner}")
                    + $", verdict {source.Verdict.ToString().ToUpperInvariant()}");
                console.Out.WriteLine($"  sha256 {bundle.Sha256}");
                console.Out.WriteLine($"  {bundle.Size} bytes, {bundle.Files} files");
                console.Out.WriteLine($"  signature {bundle.SignatureFile} (key {bundle.KeyId})");
                return ExitCodes.Pass;
            }
            catch (InputException e)
            {
                return console.InvalidInput(e.Errors);
            }
        });
        return command;
    }

    private static async Task<BundleSource> ReadRunAsync(EngineTarget target, ParseResult parse, string runId, string? results, CancellationToken cancellationToken)
    {
        await using var engine = await target.OpenAsync(parse, MatrixLoader.DefaultFileName, autoResume: false, LogLevel.Warning, cancellationToken).ConfigureAwait(false);
        var run = engine.Grains.GetGrain<IRunGrain>(runId);
        var spec = await run.GetSpecAsync().ConfigureAwait(false) ?? throw ResumeCommand.Unknown(runId, engine);
        var progress = await run.GetProgressAsync(IRunGrain.NoEvents).ConfigureAwait(false);
        var report = await run.GetReportAsync().ConfigureAwait(false);
        if (!progress.Done || report.EndedAt is not { } endedAt)
        {
            throw new InputException(new InputError("(command line)", "run",
                $"run {runId} has not ended: a bundle holds a run's final results (see testgrid status {runId}; testgrid resume {runId} finishes it)"));
        }
        var folder = Path.GetFullPath(results ?? spec.OutputRoot);
        if (!Directory.Exists(folder))
        {
            throw new InputException(new InputError(folder, results is null ? "run" : "--results",
                $"expected the output folder of run {runId} (verdict.json, cells/…), but it does not exist" + (results is null ? "; name where it is with --results" : "")));
        }
        return new BundleSource(runId, spec.Certification?.Partner, endedAt, report.Verdict.Status,
            [.. report.Cells.Select(c => new BundleCell(c.Cell.Id, c.Cell.Name, c.State))],
            spec.Suites.ToDictionary(s => s.Suite.Name, s => s.Suite.ContentHash, StringComparer.Ordinal),
            folder);
    }
}
