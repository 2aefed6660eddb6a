using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.Logging;
using TestGrid.Client.Hosting;
using TestGrid.Engine;
using TestGrid.Input;
using TestGrid.Inventory;
using TestGrid.Plan;
using TestGrid.Qemu;
using TestGrid.Verdict;

namespace TestGrid.Client.Commands;

/// <summary>
/// <c>testgrid run [matrix.json] --inventory hosts.json</c>: plans, runs every cell on the embedded engine (or, with
/// <c>--cluster</c>, submits the run to a cluster) with live progress, writes verdict.json, junit.xml, summary.md and per-attempt
/// logs, prints the verdict and exits with its code.
/// </summary>
internal static class RunCommand
{
    public static Command Create(CliConsole console)
    {
        var matrixArgument = CommonOptions.Matrix();
        var output = CommonOptions.Output();
        var provider = CommonOptions.Provider();
        var images = CommonOptions.Images();
        var inventory = new Option<string?>("--inventory", "-i") { Description = "Static hosts to run on (JSON; see README). Implies --provider static." };
        var outDir = new Option<string?>("--out") { Description = "Folder for verdict.json, junit.xml, summary.md and attempt logs. Default: results/<run id>." };
        var parallel = CommonOptions.Parallel();
        var azure = CommonOptions.Azure();
        var runId = CommonOptions.RunId();
        var keep = new Option<string>("--keep")
        {
            Description = "failed: keep the machines of failed or errored attempts running (for --keep-for) and print how to reach them.",
            DefaultValueFactory = _ => "none",
        }.AcceptOnlyFromAmong("none", "failed");
        var keepFor = new Option<TimeSpan>("--keep-for") { Description = "How long kept machines live (hh:mm:ss).", DefaultValueFactory = _ => TimeSpan.FromHours(4) };
        var bootTimeout = new Option<int>("--boot-timeout") { Description = "QEMU: seconds a guest has from start to its SSH banner.", DefaultValueFactory = _ => 300 };
        bootTimeout.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1) result.AddError("--boot-timeout must be at least 1");
        });
        var accel = new Option<string>("--accel")
        {
            Description = "QEMU: auto (KVM when it works for the guest's arch, else TCG) or tcg.",
            DefaultValueFactory = _ => "auto",
        }.AcceptOnlyFromAmong("auto", "tcg");
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log the engine's work to stderr." };
        var target = new EngineTarget();
        var detach = new Option<bool>("--detach") { Description = "With --cluster: submit the run, print its id and exit 0; follow it with 'testgrid watch'." };
        var durationsFrom = new Option<string?>("--durations-from")
        {
            Description = "An earlier run (e.g. the last candidate's) whose cells' durations set the start order: longest first; cells it did not have start first. Default: plan order.",
        };

        var command = new Command("run", "Run every cell of a matrix and print the release verdict. Exit code: 0 PASS, 1 FAIL, 2 INCOMPLETE, 3 invalid input.")
        {
            matrixArgument, provider, inventory, azure, images, outDir, parallel, runId, keep, keepFor, bootTimeout, accel, output, verbose, detach, durationsFrom,
        };
        foreach (var option in target.Options) command.Options.Add(option);
        command.Validators.Add(result =>
        {
            if (result.GetValue(detach) && result.GetValue(target.Cluster) is null) result.AddError("--detach needs --cluster: an embedded run ends with this process");
        });
        command.SetAction((parse, cancellationToken) => RunAsync(console, parse, target, new RunArguments(
            parse.GetValue(matrixArgument)!, parse.GetValue(inventory), parse.GetValue(azure), CommonOptions.ProviderName(parse.GetValue(provider), parse.GetValue(inventory), parse.GetValue(azure)),
            parse.GetValue(images), parse.GetValue(outDir), parse.GetValue(parallel), parse.GetValue(runId),
            parse.GetValue(keep) == "failed" ? parse.GetValue(keepFor) : null, parse.GetValue(bootTimeout), parse.GetValue(accel)!,
            parse.GetValue(output) == "json", parse.GetValue(verbose), parse.GetValue(detach), parse.GetValue(durationsFrom)), cancellationToken));
        return command;
    }

    private sealed record RunArguments(string Matrix, string? Inventory, string? Azure, string Provider, string? Images, string? Out, int Parallel, string? RunId,
        TimeSpan? KeepFailedFor, int BootTimeoutSeconds, string Accelerator, bool Json, bool Verbose, bool Detach, string? DurationsFrom);

    private static async Task<int> RunAsync(CliConsole console, ParseResult parse, EngineTarget target, RunArguments args, CancellationToken cancellationToken)
    {
        var log = args.Json ? console.Error : console.Out;
        RunSpec spec;
        string outputRoot;
        try
        {
            var azure = CommonOptions.LoadAzure(args.Provider, args.Azure);
            var inventory = LoadInventory(args);
            var (matrix, plan, images, _) = await CommonOptions.LoadPlanAsync(args.Matrix, args.Provider, args.Images, azure, build: true, log.WriteLine, cancellationToken).ConfigureAwait(false);
            foreach (var cell in plan.Unavailable) log.WriteLine($"left out {cell.Name}: {cell.Reason}");
            var providerSpec = new ProviderSpec
            {
                Name = args.Provider,
                Inventory = inventory,
                Qemu = images is null ? null : new QemuSpec(images, args.BootTimeoutSeconds, args.Accelerator),
                Azure = azure,
            };
            var runId = args.RunId ?? CommonOptions.NewRunId();
            outputRoot = Path.GetFullPath(args.Out ?? Path.Combine("results", runId));
            PrepareOutput(outputRoot);
            spec = new RunSpec
            {
                RunId = runId,
                Plan = plan,
                Suites = [.. matrix.Definition.Suites.Distinct().Select(name => matrix.Suites[name])],
                Policy = matrix.Definition.Policy,
                Provider = providerSpec,
                Parallelism = args.Parallel,
                OutputRoot = outputRoot,
                CreatedAt = DateTimeOffset.UtcNow,
                KeepFailedFor = args.KeepFailedFor,
                DurationsFrom = args.DurationsFrom,
            };
        }
        catch (InputException e)
        {
            return console.InvalidInput(e.Errors);
        }

        return await StartAsync(console, parse, target, spec, args.Matrix, args.Json, args.Verbose, args.Detach, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Starts a planned run on the embedded engine (data folder beside <paramref name="anchor"/> unless <c>--data</c>)
    /// or a cluster, and follows it to its verdict (or, detached, prints its id); returns the exit code.
    /// </summary>
    internal static async Task<int> StartAsync(CliConsole console, ParseResult parse, EngineTarget target, RunSpec spec, string anchor, bool json, bool verbose, bool detach,
        CancellationToken cancellationToken)
    {
        var log = json ? console.Error : console.Out;
        var outputRoot = spec.OutputRoot;
        var cluster = target.IsCluster(parse);
        if (spec.Provider.Name == QemuProvider.ProviderName && !cluster)
            foreach (var item in QemuJanitor.Sweep(DateTimeOffset.UtcNow, dryRun: false)) log.WriteLine($"janitor: {JanitorCommand.Describe(item)}");

        EngineHost engine;
        try
        {
            engine = await target.OpenAsync(parse, anchor, autoResume: true, verbose ? LogLevel.Information : LogLevel.Warning, CancellationToken.None).ConfigureAwait(false);
        }
        catch (InputException e)
        {
            return console.InvalidInput(e.Errors);
        }
        await using (engine.ConfigureAwait(false))
        {
            var run = engine.Grains.GetGrain<IRunGrain>(spec.RunId);
            if (await run.GetSpecAsync().ConfigureAwait(false) is not null)
                return console.InvalidInput([new InputError("(command line)", "--run-id",
                    $"a run '{spec.RunId}' already exists in the {engine.Description}: finish it with 'testgrid resume {spec.RunId}', or choose another --run-id")]);
            // Asked of the ledger, not of the earlier run's grain: activating an unfinished run would resume it here.
            if (spec.DurationsFrom is { } earlier && !await engine.Grains.GetGrain<IHistoryGrain>(IHistoryGrain.Key).IsRunRecordedAsync(earlier).ConfigureAwait(false))
                return console.InvalidInput([new InputError("(command line)", "--durations-from",
                    $"the {engine.Description} has no run '{earlier}' to take durations from: name a run it ran (its id, as testgrid run printed it)")]);
            log.WriteLine($"run {spec.RunId}: {spec.Plan.Cells.Count} cells of matrix {spec.Plan.Matrix} on {spec.Provider.Name}, up to {spec.Parallelism} at once; {engine.Description}; output in {outputRoot}");
            await run.StartAsync(spec).ConfigureAwait(false);
            if (detach)
            {
                console.Out.WriteLine(spec.RunId);
                log.WriteLine($"submitted; follow it with: testgrid watch {spec.RunId} --cluster {parse.GetValue(target.Cluster)}");
                return ExitCodes.Pass;
            }
            if (!cluster) log.WriteLine($"if this process dies, finish the run with: testgrid resume {spec.RunId} --data {target.DataFolder(parse, anchor)}");
            return await RunFollower.FollowAsync(console, run, spec, json, outputRoot, cancelOnInterrupt: true, cancellationToken).ConfigureAwait(false);
        }
    }

    private static HostInventory? LoadInventory(RunArguments args)
    {
        if (args.Provider == Static.StaticProvider.ProviderName && args.Inventory is null)
            throw new InputException(new InputError("(command line)", "--inventory", "the static provider needs an inventory: --inventory hosts.json"));
        return args.Inventory is null ? null : InventoryLoader.Load(args.Inventory);
    }

    internal static void PrepareOutput(string outputRoot)
    {
        try
        {
            Directory.CreateDirectory(outputRoot);
            if (File.Exists(Path.Combine(outputRoot, "verdict.json")))
                throw new InputException(new InputError("(command line)", "--out", $"{outputRoot} already holds a run's verdict.json; choose another folder"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InputException(new InputError("(command line)", "--out", $"cannot create {outputRoot}: {e.Message}"));
        }
    }

    internal static string Elapsed(TimeSpan time) =>
        time.TotalHours >= 1 ? time.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : time.ToString(@"mm\:ss", CultureInfo.InvariantCulture);
}
