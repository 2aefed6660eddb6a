using System.CommandLine;
using System.Text.Json;
using TestGrid.Certification;
using TestGrid.Input;
using TestGrid.Verdict;

namespace TestGrid.Client.Commands;

/// <summary><c>testgrid submissions --partner NAME [--data DIR] [--output text|json]</c>: the partner's submissions, newest first; no one else's.</summary>
internal static class SubmissionsCommand
{
    public static Command Create(CliConsole console)
    {
        var partner = new Option<string>("--partner") { Description = "Whose submissions to list.", Required = true };
        var data = SubmitCommand.DataOption();
        var output = CommonOptions.Output();
        var command = new Command("submissions", "List a partner's submitted bundles, newest first (id, run, submitted at, size, verdict, status). "
            + "Exit code: 0, also when there are none; 3 on invalid input.")
        {
            partner, data, output,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                var name = parse.GetValue(partner)!;
                var submissions = await SubmitCommand.Store(parse.GetValue(data)).ListAsync(name, cancellationToken).ConfigureAwait(false);
                if (parse.GetValue(output) == "json")
                {
                    console.Out.WriteLine(JsonSerializer.Serialize(submissions, CertificationJsonContext.Default.IReadOnlyListLedgerSubmission));
                    return ExitCodes.Pass;
                }
                if (submissions.Count == 0)
                {
                    console.Out.WriteLine($"no submissions of partner {name}");
                    return ExitCodes.Pass;
                }
                console.Out.WriteLine($"{submissions.Count} submission(s) of partner {name}, newest first:");
                foreach (var s in submissions)
                {
                    console.Out.WriteLine($"  {s.Id}  run {s.RunId}  {s.SubmittedAt:u}  {s.Size} bytes  verdict {s.Verdict?.ToString().ToUpperInvariant() ?? "-"}  "
                        + (s.Status == Ledger.SubmissionStatus.Verified ? "verified" : "received"));
                }
                return ExitCodes.Pass;
            }
            catch (InputException e)
            {
                return console.InvalidInput(e.Errors);
            }
        });
        return command;
    }
}
