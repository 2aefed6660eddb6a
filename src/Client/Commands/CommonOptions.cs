using System.CommandLine;
using TestGrid.Azure;
using TestGrid.Input;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Qemu;
using TestGrid.Static;

namespace TestGrid.Client.Commands;

/// <summary>Arguments and options shared by commands, and the one way inputs are loaded.</summary>
internal static class CommonOptions
{
    public static Argument<string> Matrix() => new("matrix")
    {
        Description = "The matrix file.",
        Arity = ArgumentArity.ZeroOrOne,
        DefaultValueFactory = _ => MatrixLoader.DefaultFileName,
    };

    public static Option<string?> RunId()
    {
        var runId = new Option<string?>("--run-id") { Description = "Name the run (letters, digits, '-', '_'). Default: time-based." };
        runId.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<string?>();
            if (value is not null && (value.Length is 0 or > 64 || !value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')))
                result.AddError("--run-id takes 1–64 letters, digits, '-' and '_'");
        });
        return runId;
    }

    /// <summary>A run id from the time, unique enough for one lab: <c>yyyyMMdd-HHmmss-xxxx</c>.</summary>
    public static string NewRunId(string? prefix = null) => $"{prefix}{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..4]}";

    public static Option<string> Output() => new Option<string>("--output", "-o")
    {
        Description = "text for people, json for programs.",
        DefaultValueFactory = _ => "text",
    }.AcceptOnlyFromAmong("text", "json");

    public static Option<string?> Provider() => new Option<string?>("--provider")
    {
        Description = $"Where cells run: {string.Join(", ", ProviderFactory.Names)}. Default: static with --inventory, else qemu (local VMs).",
    }.AcceptOnlyFromAmong([.. ProviderFactory.Names]);

    public static Option<string?> Images() => new("--images")
    {
        Description = "The deploy/images folder whose recipes qemu sources name. Default: beside the matrix, else above the testgrid program.",
    };

    public const int DefaultParallelism = 16;

    public static Option<int> Parallel()
    {
        var parallel = new Option<int>("--parallel", "-p")
        {
            Description = "Most cells of a run in flight at once; providers limit further (one attempt per static host, QEMU guests by host cores, Azure by vCPU quota).",
            DefaultValueFactory = _ => DefaultParallelism,
        };
        parallel.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1) result.AddError("--parallel must be at least 1");
        });
        return parallel;
    }

    public static Option<string?> Azure() => new("--azure")
    {
        Description = "The Azure provider's configuration (azure.json: subscription, networking, tags; see README). Implies --provider azure.",
    };

    /// <summary>The provider the command line asks for: --provider, else static with an inventory, azure with an Azure configuration, else qemu.</summary>
    public static string ProviderName(string? provider, string? inventory, string? azure = null) =>
        provider ?? (inventory is not null ? StaticProvider.ProviderName : azure is not null ? AzureProvider.ProviderName : QemuProvider.ProviderName);

    /// <summary>The Azure configuration a command needs for the azure provider: --azure, else an error naming the option.</summary>
    public static AzureSettings? LoadAzure(string provider, string? azure)
    {
        if (provider != AzureProvider.ProviderName) return null;
        return azure is null
            ? throw new InputException(new InputError("(command line)", "--azure", "the azure provider needs its configuration: --azure azure.json (see README, \"Azure provider\")"))
            : AzureSettingsLoader.Load(azure);
    }

    /// <summary>The providers the CLI makes for itself (plan review, janitor): the same factory a silo uses.</summary>
    public static ProviderFactory Providers { get; } = new();

    /// <summary>
    /// Loads and validates the matrix, resolves the provider's image sources (QEMU: recipes hashed, or built when
    /// <paramref name="build"/>; files hashed) and expands it; a plan without cells is invalid input.
    /// </summary>
    /// <remarks>
    /// With the Azure provider, the plan is checked against Azure's Resource SKUs and quotas: cells whose SKU is not
    /// offered or is restricted in their region are left out with the reason, and the review is returned.
    /// </remarks>
    public static async Task<(LoadedMatrix Matrix, RunPlan Plan, IReadOnlyDictionary<string, QemuImage>? Images, PlanReview Review)> LoadPlanAsync(
        string matrixPath, string provider, string? imagesFolder, AzureSettings? azure, bool build, Action<string> progress, CancellationToken cancellationToken)
    {
        var matrix = MatrixLoader.Load(matrixPath);
        IReadOnlyDictionary<string, QemuImage>? images = null;
        if (provider == QemuProvider.ProviderName)
        {
            var folder = imagesFolder ?? QemuImages.FindImagesFolder(matrixPath)
                ?? throw new InputException(new InputError("(command line)", "--images", "no deploy/images folder beside the matrix or above the testgrid program: name one with --images"));
            (matrix, images) = await QemuImages.ResolveAsync(matrix, folder, build, progress, cancellationToken).ConfigureAwait(false);
        }
        var plan = Planner.Expand(matrix, provider);
        var review = PlanReview.None;
        if (azure is not null && plan.Cells.Count > 0)
        {
            progress($"checking {plan.Cells.Count} cells against Azure's SKUs and quotas in {string.Join(", ", plan.Cells.Select(c => c.Region).Distinct())}");
            try
            {
                review = await Providers.Create(new ProviderSpec { Name = provider, Azure = azure }).ReviewAsync(plan, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is global::Azure.RequestFailedException or global::Azure.Identity.AuthenticationFailedException or HttpRequestException)
            {
                throw new InputException(new InputError("(azure)", "--azure", $"expected to read Azure's SKUs and quotas, but: {(e is global::Azure.RequestFailedException r ? AzureFaults.Describe(r) : e.Message.Split('\n')[0])}"));
            }
            plan = plan.Without(review);
        }
        if (plan.Cells.Count == 0)
            throw new InputException(new InputError(matrixPath, JsonPaths.Root,
                $"expected at least one cell for provider '{provider}', but all {plan.Combinations} combinations were left out: {Skipped(plan)}"));
        return (matrix, plan, images, review);
    }

    public static string Skipped(RunPlan plan) =>
        $"{plan.ArchMismatches} arch mismatches, {plan.NoSource} without a {plan.Provider} source, {plan.NotIncluded} not included, {plan.Excluded} excluded"
        + (plan.Unavailable.Count > 0 ? $", {plan.Unavailable.Count} not offered in their region" : "");
}
