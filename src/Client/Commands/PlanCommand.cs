using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using TestGrid.Input;
using TestGrid.Verdict;

namespace TestGrid.Client.Commands;

/// <summary><c>testgrid plan [matrix.json]</c>: the cells a run would have, with their stable ids, without running anything.</summary>
internal static class PlanCommand
{
    /// <summary>Text output lists at most this many cells; JSON lists all.</summary>
    public const int MaxRows = 200;

    public static Command Create(CliConsole console)
    {
        var matrixArgument = CommonOptions.Matrix();
        var output = CommonOptions.Output();
        var provider = CommonOptions.Provider();
        var images = CommonOptions.Images();
        var command = new Command("plan", "Expand a matrix into cells (image × SKU × region with matching arch, include/exclude applied) and print them. Builds nothing.")
        {
            matrixArgument,
            output,
            provider,
            images,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                var (_, plan, _) = await CommonOptions.LoadPlanAsync(parse.GetValue(matrixArgument)!, CommonOptions.ProviderName(parse.GetValue(provider), null),
                    parse.GetValue(images), build: false, _ => { }, cancellationToken);
                if (parse.GetValue(output) == "json")
                {
                    console.Out.WriteLine(JsonSerializer.Serialize(plan, TestGridJsonContext.Default.RunPlan));
                    return ExitCodes.Pass;
                }
                console.Out.WriteLine($"matrix {plan.Matrix}, provider {plan.Provider}: {plan.Cells.Count} cells of {plan.Combinations} combinations ({CommonOptions.Skipped(plan)})");
                var table = new Table().Border(TableBorder.Simple)
                    .AddColumns("cell id", "name", "family", "arch", "vCPUs", "memory GiB", "suites");
                foreach (var cell in plan.Cells.Take(MaxRows))
                {
                    table.AddRow(cell.Id, Markup.Escape(cell.Name), cell.Image.Family, cell.Arch.ToString().ToLowerInvariant(),
                        cell.Sku.Vcpus.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        cell.Sku.MemoryGiB.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        Markup.Escape(string.Join(", ", cell.Suites.Select(s => s.Name))));
                }
                console.Ansi.Write(table);
                if (plan.Cells.Count > MaxRows) console.Out.WriteLine($"… and {plan.Cells.Count - MaxRows} more cells (--output json lists all)");
                return ExitCodes.Pass;
            }
            catch (InputException e)
            {
                return console.InvalidInput(e.Errors);
            }
        });
        return command;
    }
}
