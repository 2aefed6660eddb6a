using System.CommandLine;
using TestGrid.Input;
using TestGrid.Matrix;
using TestGrid.Plan;

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

    public static Option<string> Provider() => new Option<string>("--provider")
    {
        Description = $"Where cells run: {string.Join(", ", ProviderFactory.Names)}.",
        DefaultValueFactory = _ => "static",
    }.AcceptOnlyFromAmong([.. ProviderFactory.Names]);

    /// <summary>Loads and validates the matrix and expands it for <paramref name="provider"/>; a plan without cells is invalid input.</summary>
    public static (LoadedMatrix Matrix, RunPlan Plan) LoadPlan(string matrixPath, string provider)
    {
        var matrix = MatrixLoader.Load(matrixPath);
        var plan = Planner.Expand(matrix, provider);
        if (plan.Cells.Count == 0)
            throw new InputException(new InputError(matrixPath, JsonPaths.Root,
                $"expected at least one cell for provider '{provider}', but all {plan.Combinations} combinations were left out: {Skipped(plan)}"));
        return (matrix, plan);
    }

    public static string Skipped(RunPlan plan) =>
        $"{plan.ArchMismatches} arch mismatches, {plan.NoSource} without a {plan.Provider} source, {plan.NotIncluded} not included, {plan.Excluded} excluded";
}
