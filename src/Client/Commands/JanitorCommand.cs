using System.CommandLine;
using System.Text.Json;
using TestGrid.Azure;
using TestGrid.Input;
using TestGrid.Plan;
using TestGrid.Qemu;
using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Client.Commands;

/// <summary>
/// <c>testgrid janitor [--azure azure.json] [--dry-run]</c>: the reaper by hand. Ends local QEMU machines nobody will
/// tear down (their runner died, or a kept machine's time is up) and, with an Azure configuration, deletes every
/// TestGrid-tagged resource group and resource whose <c>expires-at</c> has passed — the same sweep the silo's
/// reminder makes. Every <c>run</c> on QEMU sweeps QEMU first.
/// </summary>
internal static class JanitorCommand
{
    public static Command Create(CliConsole console)
    {
        var azure = CommonOptions.Azure();
        var dryRun = new Option<bool>("--dry-run") { Description = "List what would be deleted; delete nothing." };
        var output = CommonOptions.Output();
        var command = new Command("janitor", "Delete what TestGrid made and nobody will clean up: local QEMU machines of dead runners, "
            + "and (with --azure) expired TestGrid-tagged Azure resources. Exit code: 0 done, 1 something could not be deleted, 3 invalid input.")
        {
            azure, dryRun, output,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var now = DateTimeOffset.UtcNow;
            var swept = new List<LeftOver>(QemuJanitor.Sweep(now, parse.GetValue(dryRun)));
            try
            {
                if (parse.GetValue(azure) is { } path)
                {
                    var provider = CommonOptions.Providers.Create(new ProviderSpec { Name = AzureProvider.ProviderName, Azure = AzureSettingsLoader.Load(path) });
                    swept.AddRange(await provider.SweepAsync(now, parse.GetValue(dryRun), cancellationToken).ConfigureAwait(false));
                }
            }
            catch (InputException e)
            {
                return console.InvalidInput(e.Errors);
            }
            catch (global::Azure.RequestFailedException e)
            {
                console.Error.WriteLine($"Azure: {AzureFaults.Describe(e)}");
                return ExitCodes.Fail;
            }
            if (parse.GetValue(output) == "json")
            {
                console.Out.WriteLine(JsonSerializer.Serialize(swept, TestGridJsonContext.Default.IReadOnlyListLeftOver));
            }
            else
            {
                foreach (var item in swept) console.Out.WriteLine(Describe(item));
                console.Out.WriteLine($"{swept.Count} swept{(parse.GetValue(dryRun) ? " (dry run: nothing deleted)" : "")}");
            }
            return swept.Any(s => s.State.StartsWith("delete failed", StringComparison.Ordinal)) ? ExitCodes.Fail : ExitCodes.Pass;
        });
        return command;
    }

    public static string Describe(LeftOver item) =>
        $"{item.Kind} {item.Id}{(item.Run is null ? "" : $" (run {item.Run})")}{(item.ExpiresAt is { } at ? $", expires {at:u}" : "")}: {item.State}";
}
