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
//   dotnet run -c Release --project bench/TestGrid.Bench -- scale [--silos 1] [--cells 1000,10000,100000] [--compression N] [--bound-seconds 120]
//       [--quota 25] [--parallel N] [--seed 1]                             orchestration cost on the simulated cloud: one silo in
//                                                                           this process, or --silos N processes over Azurite (10,000 cells)
//   dotnet run -c Release --project bench/TestGrid.Bench -- fanout [--hosts 8,32,64]
//                                                                           one run over N local sshd processes at once against the physical limit
//   dotnet run -c Release --project bench/TestGrid.Bench -- soak [--cells 2000] [--silos 3] [--kill-every 30] [--seed 1]
//       [--compression 12] [--quota 4] [--timeout-minutes 20] [--keep]
//                                                                           simulated run on real silos killed with -9 every N s vs undisturbed
//   bench/run  (= TestGrid.Bench all [--quick] [--only NAMES])   every benchmark of BENCHMARKS.md; writes bench/results/<date>.json
// Any of them with --figures FILE also writes what it measured as JSON (Figures.cs), for `bench all` to collect.
const string Usage = "usage: TestGrid.Bench [plan] | all [--quick] [--only NAMES] | boot [x64|arm64] [--runs N] [--accel auto|tcg] | ledger [--writers N] [--stores sqlite,azurite[,azurite-disk]] [--azurite CONNECTION] [--history-runs N] [--history-cells N] [--reads N] [--outputs full|runner] [--seed N] | rerun [--cells N] [--repeat N] [--parallel N] | scale [--silos N] [--cells N,N] [--compression X] [--bound-seconds S] [--quota N] [--parallel N] [--seed N] | fanout [--hosts N,N,...] | soak [--cells N] [--silos N] [--kill-every S] [--seed N] [--compression X] [--quota N] [--timeout-minutes N] [--keep]; any with [--figures FILE]";

var arguments = args.ToList();
string? figuresFile = null;
if (arguments.IndexOf("--figures") is >= 0 and var f)
{
    if (f + 1 >= arguments.Count)
    {
        Console.Error.WriteLine("--figures needs a file");
        return 3;
    }
    figuresFile = arguments[f + 1];
    arguments.RemoveRange(f, 2);
}
var command = arguments.Count == 0 ? "plan" : arguments[0];
var options = arguments.Skip(1).ToArray();
try
{
    switch (command)
    {
        case "plan":
            PlanBench.Run();
            return 0;
        case "ledger":
            await LedgerBench.RunAsync(LedgerBenchOptions.Parse(options));
            return 0;
        case "rerun":
            return await RerunBench.RunAsync(RerunBenchOptions.Parse(options));
        case "all":
            return await AllBench.RunAsync(options);
        case "scale":
            return await ScaleBench.RunAsync(ScaleBenchOptions.Parse(options));
        case "fanout":
            return await FanoutBench.RunAsync(FanoutBenchOptions.Parse(options));
        case "soak":
            return await SoakBench.RunAsync(options);
        case "boot":
            var runs = options.ToList().IndexOf("--runs") is >= 0 and var r ? int.Parse(options[r + 1], System.Globalization.CultureInfo.InvariantCulture) : 5;
            var accel = options.ToList().IndexOf("--accel") is >= 0 and var a ? options[a + 1] : "auto";
            var arches = options.Contains("arm64") && !options.Contains("x64") ? new[] { Arch.Arm64 }
                : options.Contains("x64") && !options.Contains("arm64") ? new[] { Arch.X64 } : new[] { Arch.X64, Arch.Arm64 };
            await BootBench.RunAsync(arches, runs, accel);
            return 0;
        default:
            Console.Error.WriteLine(Usage);
            return 3;
    }
}
catch (Exception e) when (e is ArgumentException or FormatException or IndexOutOfRangeException)
{
    // A bad option: exit code 3 and the reason.
    Console.Error.WriteLine($"{command}: {e.Message}");
    return 3;
}
finally
{
    if (figuresFile is not null) await Figures.WriteAsync(figuresFile, Figures.Recorded);
}
