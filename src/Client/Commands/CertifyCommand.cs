using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using TestGrid.Certification;
using TestGrid.Certification.Submissions;
using TestGrid.Engine;
using TestGrid.Input;
using TestGrid.Inventory;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Static;

namespace TestGrid.Client.Commands;

/// <summary>
/// <c>testgrid certify --inventory partner-hosts.json --partner NAME</c>: a certification run of the partner's static
/// hosts, one cell per host, running <c>suites/certification</c>. What the run is made of is written first into its
/// output folder (<c>inputs/</c>: the matrix it makes, the suite, the policy, the inventory redacted), so that the
/// run and its bundle carry every input; then it runs like <c>testgrid run</c> and exits with the verdict's code.
/// </summary>
internal static class CertifyCommand
{
    public const string Suite = "certification";

    /// <summary>Where the run's inputs go in its output folder.</summary>
    public const string InputsFolder = "inputs";

    public static Command Create(CliConsole console)
    {
        var inventory = new Option<string>("--inventory", "-i") { Description = "The partner's hosts, each with its declared hardware (JSON; see README).", Required = true };
        var partner = new Option<string>("--partner") { Description = "The partner's name (letters, digits, '.', '_', '-'): the run, its ledger rows and its bundle carry it.", Required = true };
        var image = new Option<string>("--image")
        {
            Description = "The OS the hosts run, as the certificate names it (e.g. azurelinux-4.0). Default: installed.",
            DefaultValueFactory = _ => "installed",
        };
        image.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string>() ?? "";
            if (value.Length is 0 or > 64 || !char.IsAsciiLetterOrDigit(value[0]) || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
                result.AddError("--image takes 1–64 letters, digits, '.', '_' and '-', beginning with a letter or digit");
        });
        var family = new Option<string>("--family") { Description = "The OS family (lowercase, e.g. azurelinux): suites' requirements and history use it.", DefaultValueFactory = _ => "linux" };
        var policy = new Option<string?>("--policy") { Description = "A policy file (policy.schema.json): reboot cycles, waivers, advisory tests. Default: 3 reboots of at most 600 s each." };
        var suites = new Option<string?>("--suites") { Description = "The suites folder holding certification/. Default: ./suites, else the one beside the testgrid program." };
        var key = new Option<string?>("--redaction-key")
        {
            Description = "The partner's redaction key (32 random bytes, base64; created when missing). Default: <data>/partners/<partner>.key.",
        };
        var outDir = new Option<string?>("--out") { Description = "Folder for the run's inputs, reports and logs. Default: results/<run id>." };
        var parallel = CommonOptions.Parallel();
        var runId = CommonOptions.RunId();
        var output = CommonOptions.Output();
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Log the engine's work to stderr." };
        var target = new EngineTarget();

        var command = new Command("certify", "Certify a partner's machines: run the certification suites on its static hosts, compare each with its declared " +
                                             "hardware, redact identifying values. Exit code: 0 PASS, 1 FAIL, 2 INCOMPLETE, 3 invalid input.")
        {
            inventory, partner, image, family, policy, suites, key, outDir, parallel, runId, output, verbose,
        };
        foreach (var option in target.Options) command.Options.Add(option);
        command.Validators.Add(result =>
        {
            if (result.GetValue(target.Cluster) is not null && result.GetValue(key) is null)
                result.AddError("--cluster needs --redaction-key: a path the cluster's silos can read");
        });
        command.SetAction((parse, cancellationToken) => RunAsync(console, parse, target, new Arguments(
            parse.GetValue(inventory)!, parse.GetValue(partner)!, parse.GetValue(image)!, parse.GetValue(family)!, parse.GetValue(policy), parse.GetValue(suites),
            parse.GetValue(key), parse.GetValue(outDir), parse.GetValue(parallel), parse.GetValue(runId), parse.GetValue(output) == "json", parse.GetValue(verbose)), cancellationToken));
        return command;
    }

    private sealed record Arguments(string Inventory, string Partner, string Image, string Family, string? Policy, string? Suites, string? Key, string? Out,
        int Parallel, string? RunId, bool Json, bool Verbose);

    private static async Task<int> RunAsync(CliConsole console, ParseResult parse, EngineTarget target, Arguments args, CancellationToken cancellationToken)
    {
        var log = args.Json ? console.Error : console.Out;
        // The embedded engine's data folder is ./.testgrid, as for a matrix in this folder.
        const string anchor = MatrixLoader.DefaultFileName;
        RunSpec spec;
        try
        {
            SubmissionStore.CheckPartner(args.Partner);
            var hosts = InventoryLoader.Load(args.Inventory, requireHardware: true);
            var runId = args.RunId ?? CommonOptions.NewRunId($"cert-{args.Partner}-");
            var outputRoot = Path.GetFullPath(args.Out ?? Path.Combine("results", runId));
            RunCommand.PrepareOutput(outputRoot);
            var keyFile = Path.GetFullPath(args.Key ?? Path.Combine(target.DataFolder(parse, anchor), "partners", $"{args.Partner}.key"));
            var redactor = new Redactor(RedactionKey.LoadOrCreate(keyFile));

            var inputs = Path.Combine(outputRoot, InputsFolder);
            var matrixPath = WriteInputs(inputs, hosts, args, redactor);
            var (matrix, plan, _, _) = await CommonOptions.LoadPlanAsync(matrixPath, StaticProvider.ProviderName, null, null, build: false, log.WriteLine, cancellationToken).ConfigureAwait(false);
            spec = new RunSpec
            {
                RunId = runId,
                Plan = plan,
                Suites = [.. matrix.Definition.Suites.Select(name => matrix.Suites[name])],
                Policy = matrix.Definition.Policy,
                // One cell per host: each host serves only the cell whose region is its name.
                Provider = new ProviderSpec { Name = StaticProvider.ProviderName, Inventory = hosts with { Hosts = [.. hosts.Hosts.Select(h => h with { Region = h.Name })] } },
                Parallelism = args.Parallel,
                OutputRoot = outputRoot,
                CreatedAt = DateTimeOffset.UtcNow,
                Certification = new CertificationSpec(args.Partner, keyFile),
            };
            log.WriteLine($"certifying {hosts.Hosts.Count} hosts of partner {args.Partner} ({string.Join(", ", hosts.Hosts.Select(h => h.Name))}); inputs in {inputs}; redaction key {keyFile}");
        }
        catch (InputException e)
        {
            return console.InvalidInput(e.Errors);
        }
        var code = await RunCommand.StartAsync(console, parse, target, spec, anchor, args.Json, args.Verbose, detach: false, cancellationToken).ConfigureAwait(false);
        log.WriteLine($"sign the result: testgrid bundle {spec.RunId} --out {spec.RunId}.tar.gz --key SIGNING_KEY" +
                      (target.IsCluster(parse) ? $" --cluster {parse.GetValue(target.Cluster)}" : parse.GetValue(target.Data) is { } data ? $" --data {data}" : ""));
        return code;
    }

    /// <summary>
    /// Writes the run's inputs: the certification suite as it is now, the policy, the inventory without its private key
    /// paths and with addresses as keyed hashes, and the matrix they make (one image per arch, one SKU per host's label,
    /// one region per host, one cell per host). Returns the matrix's path.
    /// </summary>
    private static string WriteInputs(string inputs, HostInventory hosts, Arguments args, Redactor redactor)
    {
        var suitesRoot = FindSuites(args.Suites);
        CopyFolder(Path.Combine(suitesRoot, Suite), Path.Combine(inputs, MatrixLoader.DefaultSuitesPath, Suite));

        var arches = hosts.Hosts.Select(h => h.Arch).Distinct().Order().ToList();
        string ImageId(Arch arch) => arches.Count == 1 ? args.Image : $"{args.Image}-{arch.Name()}";
        var skus = new Dictionary<string, StaticHost>(StringComparer.Ordinal);
        foreach (var host in hosts.Hosts) skus.TryAdd(host.Sku, host);
        var matrix = new JsonObject
        {
            ["name"] = $"certification-{args.Partner}",
            ["description"] = $"Certification of partner {args.Partner}'s hosts running {args.Image} (made by testgrid certify).",
            ["images"] = new JsonArray([.. arches.Select(arch => (JsonNode)new JsonObject
            {
                ["id"] = ImageId(arch), ["family"] = args.Family, ["arch"] = arch.Name(),
                ["sources"] = new JsonObject { ["static"] = new JsonObject { ["label"] = args.Image } },
            })]),
            ["skuDefinitions"] = new JsonArray([.. skus.Select(s => (JsonNode)new JsonObject
            {
                ["name"] = s.Key, ["arch"] = s.Value.Arch.Name(),
                ["vcpus"] = s.Value.Hardware?.Cpus ?? 1,
                ["memoryGiB"] = s.Value.Hardware?.MemoryGiB ?? 1,
            })]),
            ["skus"] = new JsonArray([.. skus.Keys.Select(s => (JsonNode)s)]),
            ["regions"] = new JsonArray([.. hosts.Hosts.Select(h => (JsonNode)h.Name)]),
            ["include"] = new JsonArray([.. hosts.Hosts.Select(h => (JsonNode)new JsonObject { ["image"] = ImageId(h.Arch), ["sku"] = h.Sku, ["region"] = h.Name })]),
            ["suites"] = new JsonArray(Suite),
        };
        if (args.Policy is { } policy)
        {
            if (!File.Exists(policy)) throw new InputException(new InputError("(command line)", "--policy", $"expected a policy file, but '{policy}' does not exist"));
            File.Copy(policy, Path.Combine(inputs, "policy.json"), overwrite: true);
            matrix["policyFile"] = "policy.json";
        }
        var redacted = new JsonObject
        {
            ["readyTimeoutSeconds"] = hosts.ReadyTimeoutSeconds,
            ["hosts"] = new JsonArray([.. hosts.Hosts.Select(h => (JsonNode)new JsonObject
            {
                ["name"] = h.Name,
                ["address"] = h.LoopbackAddress ? h.Address : redactor.Token(Redactor.Kinds.Hostname, h.Address),
                ["port"] = h.Port,
                ["user"] = h.User,
                ["hostKey"] = h.HostKey,
                ["arch"] = h.Arch.Name(),
                ["sku"] = h.Sku,
                ["rebootable"] = h.Rebootable,
                ["hardware"] = JsonSerializer.SerializeToNode(h.Hardware, TestGridJsonContext.Default.HardwareDeclaration),
            })]),
        };
        File.WriteAllText(Path.Combine(inputs, "inventory.json"), redacted.ToJsonString(TestGridJson.Options));
        var matrixPath = Path.Combine(inputs, MatrixLoader.DefaultFileName);
        File.WriteAllText(matrixPath, matrix.ToJsonString(TestGridJson.Options));
        return matrixPath;
    }

    /// <summary>--suites, else ./suites when it holds the certification suite, else the suites folder above the testgrid program.</summary>
    private static string FindSuites(string? given)
    {
        if (given is not null)
            return File.Exists(Path.Combine(given, Suite, "suite.json")) ? given
                : throw new InputException(new InputError("(command line)", "--suites", $"expected {Path.Combine(given, Suite, "suite.json")}, but it does not exist"));
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, MatrixLoader.DefaultSuitesPath);
                if (File.Exists(Path.Combine(candidate, Suite, "suite.json"))) return candidate;
            }
        }
        throw new InputException(new InputError("(command line)", "--suites", $"no suites/{Suite}/suite.json here or above the testgrid program: name the suites folder with --suites"));
    }

    private static void CopyFolder(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(to, Path.GetRelativePath(from, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(target, File.GetUnixFileMode(file));
        }
    }
}
