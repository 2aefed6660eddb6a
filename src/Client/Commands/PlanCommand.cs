using System.CommandLine;
using System.Text.Json;
using Spectre.Console;
using TestGrid.Input;
using TestGrid.Plan;
using TestGrid.Verdict;

namespace TestGrid.Client.Commands;

/// <summary><c>testgrid plan [matrix.json]</c>: the cells a run would have, with their stable ids, without running anything.</summary>
internal static class PlanCommand
{
    /// <summary>Text output lists at most this many cells; JSON lists all.</summary>
    public const int MaxRows = 200;

    /// <summary>The capacity plan's default attempt length: boot, three suites, teardown on a cloud VM.</summary>
    public const double DefaultCellMinutes = 20;

    public static Command Create(CliConsole console)
    {
        var matrixArgument = CommonOptions.Matrix();
        var output = CommonOptions.Output();
        var provider = CommonOptions.Provider();
        var images = CommonOptions.Images();
        var azure = CommonOptions.Azure();
        var parallel = CommonOptions.Parallel();
        var cellMinutes = new Option<double>("--cell-minutes")
        {
            Description = "For the capacity plan: how long one attempt takes (boot + suites), in minutes.",
            DefaultValueFactory = _ => DefaultCellMinutes,
        };
        cellMinutes.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double>() <= 0) result.AddError("--cell-minutes must be more than 0");
        });
        var command = new Command("plan", "Expand a matrix into cells (image × SKU × region with matching arch, include/exclude applied) and print them, "
            + "with the capacity plan on Azure (quota per region × family, waves, wall time, VM-hours, cost). Builds nothing, creates nothing.")
        {
            matrixArgument,
            output,
            provider,
            images,
            azure,
            parallel,
            cellMinutes,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                var providerName = CommonOptions.ProviderName(parse.GetValue(provider), null, parse.GetValue(azure));
                var (_, plan, _, review) = await CommonOptions.LoadPlanAsync(parse.GetValue(matrixArgument)!, providerName,
                    parse.GetValue(images), CommonOptions.LoadAzure(providerName, parse.GetValue(azure)), build: false, _ => { }, cancellationToken);
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
                if (providerName == Azure.AzureProvider.ProviderName)
                {
                    console.Out.WriteLine();
                    var options = new CapacityEstimateOptions(TimeSpan.FromMinutes(parse.GetValue(cellMinutes)), parse.GetValue(parallel));
                    CapacityPlanTable.Write(console, CapacityPlanner.Estimate(plan, review with { Unavailable = plan.Unavailable }, options));
                }
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
