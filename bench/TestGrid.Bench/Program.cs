using TestGrid.Bench;
using TestGrid.Matrix;

// Figures, printed (not tests):
//   dotnet run -c Release --project bench/TestGrid.Bench                      planning a 10,000-cell matrix
//   dotnet run -c Release --project bench/TestGrid.Bench -- boot [x64|arm64] [--runs N] [--accel auto|tcg]
//                                                                           boot to SSH on QEMU guests, median of N
//   dotnet run -c Release --project bench/TestGrid.Bench -- ledger [--writers 16] [--stores sqlite,azurite[,azurite-disk]]
//       [--azurite CONNECTION] [--history-runs 20] [--history-cells 50] [--reads 5] [--outputs full|runner] [--seed 1]
//                                                                           ledger write and query latency for a 1,000-cell run
//   dotnet run -c Release --project bench/TestGrid.Bench -- rerun [--cells 100] [--repeat 5] [--parallel 16]
//                                                                           rerunning one cell of a finished run: command to new verdict
var arguments = args.ToList();
if (arguments.Count == 0 || arguments[0] == "plan")
{
    PlanBench.Run();
    return;
}
if (arguments[0] == "ledger")
{
    await LedgerBench.RunAsync(Options(LedgerBenchOptions.Parse));
    return;
}
if (arguments[0] == "rerun")
{
    Environment.ExitCode = await RerunBench.RunAsync(Options(RerunBenchOptions.Parse));
    return;
}
if (arguments[0] != "boot")
{
    Console.Error.WriteLine("usage: TestGrid.Bench [plan] | boot [x64|arm64] [--runs N] [--accel auto|tcg] | ledger [--writers N] [--stores sqlite,azurite[,azurite-disk]] [--azurite CONNECTION] [--history-runs N] [--history-cells N] [--reads N] [--outputs full|runner] [--seed N] | rerun [--cells N] [--repeat N] [--parallel N]");
    Environment.Exit(3);
}
var runs = arguments.IndexOf("--runs") is >= 0 and var r ? int.Parse(arguments[r + 1], System.Globalization.CultureInfo.InvariantCulture) : 5;
var accel = arguments.IndexOf("--accel") is >= 0 and var a ? arguments[a + 1] : "auto";
var arches = arguments.Contains("arm64") && !arguments.Contains("x64") ? new[] { Arch.Arm64 }
    : arguments.Contains("x64") && !arguments.Contains("arm64") ? new[] { Arch.X64 } : new[] { Arch.X64, Arch.Arm64 };
await BootBench.RunAsync(arches, runs, accel);

// A subcommand's options; a bad one ends the program with exit code 3 and the reason.
T Options<T>(Func<string[], T> parse)
{
    try
    {
        return parse([.. arguments.Skip(1)]);
    }
    catch (Exception e) when (e is ArgumentException or FormatException)
    {
        Console.Error.WriteLine($"{arguments[0]}: {e.Message}");
        Environment.Exit(3);
        throw;
    }
}
