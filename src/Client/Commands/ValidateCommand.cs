using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using TestGrid.Input;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Verdict;

namespace TestGrid.Client.Commands;

/// <summary><c>testgrid validate [matrix.json]</c>: schema and semantic checks of the matrix and everything it names.</summary>
internal static class ValidateCommand
{
    public static Command Create(CliConsole console)
    {
        var matrixArgument = CommonOptions.Matrix();
        var output = CommonOptions.Output();
        var command = new Command("validate", "Check a matrix, its SKU catalog and its suites against their schemas and each other. Runs nothing.")
        {
            matrixArgument,
            output,
        };
        command.SetAction(parse =>
        {
            var path = parse.GetValue(matrixArgument)!;
            var json = parse.GetValue(output) == "json";
            try
            {
                var matrix = MatrixLoader.Load(path);
                var cells = ProviderFactory.Names.ToDictionary(p => p, p => Planner.Expand(matrix, p).Cells.Count);
                if (cells.Values.All(c => c == 0))
                    throw new InputException(new InputError(path, JsonPaths.Root, "expected at least one cell, but no image × SKU × region combination has matching arch and a source for any provider"));
                if (json)
                {
                    console.Out.WriteLine(new JsonObject
                    {
                        ["valid"] = true,
                        ["matrix"] = matrix.Definition.Name,
                        ["cells"] = new JsonObject(cells.Select(c => KeyValuePair.Create(c.Key, (JsonNode?)c.Value))),
                    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                }
                else
                {
                    var tests = matrix.Suites.Values.Sum(s => s.Suite.Tests.Count);
                    console.Out.WriteLine($"{path}: valid. {matrix.Definition.Images.Count} images, {matrix.Skus.Count} SKUs, {matrix.Definition.Regions.Count} regions, " +
                                          $"{matrix.Suites.Count} suites ({tests} tests); cells per provider: {string.Join(", ", cells.Select(c => $"{c.Key} {c.Value}"))}");
                }
                return ExitCodes.Pass;
            }
            catch (InputException e)
            {
                if (json)
                {
                    console.Out.WriteLine(new JsonObject
                    {
                        ["valid"] = false,
                        ["errors"] = JsonSerializer.SerializeToNode(e.Errors, TestGridJsonContext.Default.IReadOnlyListInputError),
                    }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                }
                return console.InvalidInput(e.Errors);
            }
        });
        return command;
    }
}
