using System.CommandLine;
using TestGrid.Certification.Bundles;
using TestGrid.Certification.Keys;
using TestGrid.Certification.Submissions;
using TestGrid.Input;
using TestGrid.Ledger;
using TestGrid.Verdict;

namespace TestGrid.Client.Commands;

/// <summary>
/// <c>testgrid submit FILE --partner NAME [--key PUBLIC_KEY] [--signature FILE.sig] [--data DIR]</c>: stores a partner's
/// bundle once, content-addressed by its SHA-256, and records it in the ledger; the same bundle again answers the same id.
/// </summary>
internal static class SubmitCommand
{
    public static Command Create(CliConsole console)
    {
        var file = new Argument<string>("bundle") { Description = "The bundle archive (tar.gz) testgrid bundle wrote." };
        var partner = new Option<string>("--partner") { Description = "Whose submission it is; a bundle naming another partner is refused.", Required = true };
        var key = new Option<string?>("--key") { Description = "The partner's public key: the bundle is verified first and refused when bad. Without: stored as received." };
        var signature = new Option<string?>("--signature") { Description = "The detached signature (stored beside the bundle). Default: the bundle's path with .sig appended." };
        var data = DataOption();
        var command = new Command("submit", "Submit a partner's result bundle: verified (with --key), stored once under its SHA-256, recorded in the ledger. "
            + "Exit code: 0 stored (or already), 1 a bad bundle (nothing stored), 2 when TestGrid fails, 3 on invalid input (files, --partner).")
        {
            file, partner, key, signature, data,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                var archive = parse.GetValue(file)!;
                var name = parse.GetValue(partner)!;
                SubmissionStore.CheckPartner(name);
                using var publicKey = parse.GetValue(key) is { } keyFile ? SigningKeys.LoadPublic(keyFile) : null;
                var signatureFile = parse.GetValue(signature) ?? archive + BundleSignature.Suffix;
                if (publicKey is not null && !File.Exists(signatureFile))
                    throw new InputException(new InputError(signatureFile, "--signature", "expected the bundle's detached signature (verifying with --key needs it), but there is no such file"));
                if (!File.Exists(archive))
                    throw new InputException(new InputError(archive, "$", "expected a bundle archive (tar.gz, as testgrid bundle writes it), but there is no such file"));
                var store = Store(parse.GetValue(data));
                var outcome = await store.SubmitAsync(archive, File.Exists(signatureFile) ? signatureFile : null, name, publicKey, cancellationToken).ConfigureAwait(false);
                if (outcome.Refused)
                {
                    foreach (var problem in outcome.Problems) console.Out.WriteLine($"problem: {problem}");
                    console.Out.WriteLine($"bundle {archive} is refused: {outcome.Problems.Count} problem(s); nothing was stored");
                    return VerifyCommand.BadBundle;
                }
                var submission = outcome.Submission!;
                console.Out.WriteLine((outcome.AlreadySubmitted ? "already submitted: " : "submitted: ") + submission.Id);
                console.Out.WriteLine($"  partner {submission.Partner}, run {submission.RunId}, {submission.Size} bytes, status {Status(submission)}, "
                    + $"first submitted {submission.SubmittedAt:u}; stored as {store.ArchivePath(submission.Id)}");
                return ExitCodes.Pass;
            }
            catch (InputException e)
            {
                return console.InvalidInput(e.Errors);
            }
        });
        return command;
    }

    /// <summary>The data folder of submissions and the ledger: --data, default <c>.testgrid</c> in the current folder.</summary>
    public static Option<string?> DataOption() => new("--data")
    {
        Description = "The folder holding the ledger (ledger.db) and submissions/. Default: .testgrid in the current folder.",
    };

    public static SubmissionStore Store(string? data)
    {
        var folder = Path.GetFullPath(data ?? ".testgrid");
        return new SubmissionStore(folder, new SqliteLedger(Path.Combine(folder, SqliteLedger.FileName)));
    }

    public static string Status(LedgerSubmission submission) =>
        submission.Status == SubmissionStatus.Verified ? $"verified (key {submission.KeyId})" : "received (not verified)";
}
