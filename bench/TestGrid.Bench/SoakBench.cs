using System.Globalization;
using TestGrid.Testing.Soak;

namespace TestGrid.Bench;

/// <summary>
/// The soak (src/Testing/Soak/SoakRunner.cs): a simulated run on real silo processes over Azurite, one silo killed
/// with SIGKILL and restarted every --kill-every seconds, then the same run undisturbed; prints and records the counts
/// (each must be as expected, else exit 1) and the times.
/// </summary>
internal static class SoakBench
{
    public static async Task<int> RunAsync(string[] args)
    {
        var options = new SoakOptions
        {
            Cells = Int(args, "--cells", 2000),
            Silos = Int(args, "--silos", 3),
            KillEvery = TimeSpan.FromSeconds(Int(args, "--kill-every", 30)),
            Seed = Int(args, "--seed", 1),
            TimeCompression = Double(args, "--compression", 12),
            Quota = Int(args, "--quota", 4),
            RunTimeout = TimeSpan.FromMinutes(Int(args, "--timeout-minutes", 20)),
            Keep = args.Contains("--keep"),
            SiloProgram = SiloProgram(),
        };
        if (options.Cells < 1 || options.Silos < 1 || options.KillEvery <= TimeSpan.Zero) throw new ArgumentException("--cells, --silos and --kill-every must be positive");
        // Ctrl-C or SIGTERM: stop the silos and Azurite and delete the folder, then exit.
        using var interruption = new Interruption("soak");
        try
        {
            var result = await SoakRunner.RunAsync(options, Console.WriteLine, interruption.Token);
            Console.WriteLine(result);
            const string bench = "soak";
            var note = string.Create(CultureInfo.InvariantCulture, $"{result.Cells} cells, {options.Silos} silos, kill -9 every {options.KillEvery.TotalSeconds:0} s, seed {options.Seed}, time ×{options.TimeCompression}, quota {options.Quota}");
            Figures.Add(new Figure(bench, "cells not terminal", result.Cells - result.CellsTerminal, "cells", 0, true, note));
            Figures.Add(new Figure(bench, "lost results", result.LostResults, "cells", 0, true, note));
            Figures.Add(new Figure(bench, "double-counted results", result.DoubleCounted, "cells", 0, true, note));
            Figures.Add(new Figure(bench, "machines left", result.MachinesLeft, "machines", 0, true, note));
            Figures.Add(new Figure(bench, "verdicts differ", result.VerdictsEqual ? 0 : 1, "runs", 0, true, note));
            Figures.Add(new Figure(bench, "silo kills", result.Disturbed.Kills, "kills", null, true, note));
            Figures.Add(new Figure(bench, "attempts lost with their silo", result.LostAttempts, "attempts", null, true, note));
            Figures.Add(new Figure(bench, "attempts handed over by live silos", result.HandedOverByLiveSilos, "attempts", null, true, note));
            Figures.Add(new Figure(bench, "disturbed run", result.Disturbed.Elapsed.TotalSeconds, "s", null, true, note));
            Figures.Add(new Figure(bench, "undisturbed run", result.Undisturbed.Elapsed.TotalSeconds, "s", null, true, note));
            return result.Ok ? 0 : 1;
        }
        catch (OperationCanceledException) when (interruption.Token.IsCancellationRequested)
        {
            return 130;
        }
        catch (TimeoutException e)
        {
            Console.Error.WriteLine($"soak: FAILED: {e.Message}");
            return 1;
        }
    }

    /// <summary>testgrid-silo.dll of this checkout, built in the bench's configuration.</summary>
    public static string SiloProgram()
    {
        var configuration = BuildOutput.Configuration;
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (!File.Exists(Path.Combine(dir.FullName, "TestGrid.sln"))) continue;
            var path = Path.Combine(dir.FullName, "src", "Silo", "bin", configuration, "net10.0", "testgrid-silo.dll");
            return File.Exists(path) ? path : throw new FileNotFoundException($"{path} is not built: dotnet build TestGrid.sln -c {configuration}", path);
        }
        throw new InvalidOperationException($"no TestGrid.sln above {AppContext.BaseDirectory}");
    }

    internal static int Int(string[] args, string name, int fallback) =>
        Array.IndexOf(args, name) is >= 0 and var i ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;

    internal static double Double(string[] args, string name, double fallback) =>
        Array.IndexOf(args, name) is >= 0 and var i ? double.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}
