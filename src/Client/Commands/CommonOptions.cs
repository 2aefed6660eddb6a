using System.CommandLine;
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

    /// <summary>The provider the command line asks for: --provider, else static when an inventory is given, else qemu.</summary>
    public static string ProviderName(string? provider, string? inventory) =>
        provider ?? (inventory is null ? QemuProvider.ProviderName : StaticProvider.ProviderName);

    /// <summary>
    /// Loads and validates the matrix, resolves the provider's image sources (QEMU: recipes hashed, or built when
    /// <paramref name="build"/>; files hashed) and expands it; a plan without cells is invalid input.
    /// </summary>
    public static async Task<(LoadedMatrix Matrix, RunPlan Plan, IReadOnlyDictionary<string, QemuImage>? Images)> LoadPlanAsync(
        string matrixPath, string provider, string? imagesFolder, bool build, Action<string> progress, CancellationToken cancellationToken)
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
        if (plan.Cells.Count == 0)
            throw new InputException(new InputError(matrixPath, JsonPaths.Root,
                $"expected at least one cell for provider '{provider}', but all {plan.Combinations} combinations were left out: {Skipped(plan)}"));
        return (matrix, plan, images);
    }

    public static string Skipped(RunPlan plan) =>
        $"{plan.ArchMismatches} arch mismatches, {plan.NoSource} without a {plan.Provider} source, {plan.NotIncluded} not included, {plan.Excluded} excluded";
}
