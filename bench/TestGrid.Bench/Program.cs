using TestGrid.Bench;
using TestGrid.Matrix;

// Figures, printed (not tests):
//   dotnet run -c Release --project bench/TestGrid.Bench                      planning a 10,000-cell matrix
//   dotnet run -c Release --project bench/TestGrid.Bench -- boot [x64|arm64] [--runs N] [--accel auto|tcg]
//                                                                           boot to SSH on QEMU guests, median of N
var arguments = args.ToList();
if (arguments.Count == 0 || arguments[0] == "plan")
{
    PlanBench.Run();
    return;
}
if (arguments[0] != "boot")
{
    Console.Error.WriteLine("usage: TestGrid.Bench [plan] | boot [x64|arm64] [--runs N] [--accel auto|tcg]");
    Environment.Exit(3);
}
var runs = arguments.IndexOf("--runs") is >= 0 and var r ? int.Parse(arguments[r + 1], System.Globalization.CultureInfo.InvariantCulture) : 5;
var accel = arguments.IndexOf("--accel") is >= 0 and var a ? arguments[a + 1] : "auto";
var arches = arguments.Contains("arm64") && !arguments.Contains("x64") ? new[] { Arch.Arm64 }
    : arguments.Contains("x64") && !arguments.Contains("arm64") ? new[] { Arch.X64 } : new[] { Arch.X64, Arch.Arm64 };
await BootBench.RunAsync(arches, runs, accel);
