using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using TestGrid.Certification.Bundles;
using TestGrid.Certification.Keys;
using TestGrid.Input;
using TestGrid.Verdict;

namespace TestGrid.Client.Commands;

/// <summary>
/// <c>testgrid verify FILE --key PUBLIC_KEY [--signature FILE.sig]</c>: checks a bundle offline — its signature (by
/// which key, over which bytes) and its contents against its manifest — and names every problem, one line each.
/// </summary>
internal static class VerifyCommand
{
    /// <summary>A bundle that failed verification: the archive is not what was signed, or not what its manifest says.</summary>
    public const int BadBundle = 1;

    public static Command Create(CliConsole console)
    {
        var file = new Argument<string>("bundle") { Description = "The bundle archive (tar.gz) testgrid bundle wrote." };
        var key = new Option<string>("--key") { Description = "The signer's public key (the .pub file of testgrid keygen).", Required = true };
        var signature = new Option<string?>("--signature") { Description = "The detached signature. Default: the bundle's path with .sig appended." };
        var command = new Command("verify", "Verify a result bundle offline: signature and contents. "
            + "Exit code: 0 good, 1 bad (every problem listed), 3 when a file cannot be read or the command line is wrong.")
        {
            file, key, signature,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                using var publicKey = SigningKeys.LoadPublic(parse.GetValue(key)!);
                var archive = parse.GetValue(file)!;
                var watch = Stopwatch.StartNew();
                var result = await BundleVerifier.VerifyAsync(archive, parse.GetValue(signature) ?? archive + BundleSignature.Suffix, publicKey, cancellationToken)
                    .ConfigureAwait(false);
                var took = watch.Elapsed.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);
                if (result.Good)
                {
                    var manifest = result.Manifest!;
                    console.Out.WriteLine($"bundle {archive} is good: run {manifest.RunId}" + (manifest.Partner is null ? "" : $", partner {manifest.Partner}")
                        + $", verdict {manifest.Verdict.ToString().ToUpperInvariant()}, {manifest.Files.Count + 1} files, signed by key {result.SignedBy}");
                    console.Out.WriteLine($"  sha256 {result.ArchiveSha256}, {result.Size} bytes, verified in {took} s");
                    return ExitCodes.Pass;
                }
                foreach (var problem in result.Problems) console.Out.WriteLine($"problem: {problem}");
                console.Out.WriteLine($"bundle {archive} is BAD: {result.Problems.Count} problem(s) (sha256 {result.ArchiveSha256}, {result.Size} bytes)");
                return BadBundle;
            }
            catch (InputException e)
            {
                return console.InvalidInput(e.Errors);
            }
        });
        return command;
    }
}
