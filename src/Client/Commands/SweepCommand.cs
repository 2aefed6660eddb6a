using System.CommandLine;
using TestGrid.Qemu;
using TestGrid.Verdict;

namespace TestGrid.Client.Commands;

/// <summary>
/// <c>testgrid sweep</c>: ends local QEMU machines nobody will tear down — those whose runner died, and kept ones whose
/// time is up. Every <c>run</c> on the QEMU provider does the same first.
/// </summary>
internal static class SweepCommand
{
    public static Command Create(CliConsole console)
    {
        var command = new Command("sweep", "End local QEMU machines left by a runner that died, and kept machines past their time.");
        command.SetAction(_ =>
        {
            var swept = QemuJanitor.Sweep(DateTimeOffset.UtcNow);
            foreach (var line in swept) console.Out.WriteLine(line);
            console.Out.WriteLine($"{swept.Count} swept");
            return ExitCodes.Pass;
        });
        return command;
    }
}
