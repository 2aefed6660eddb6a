using System.Globalization;
using Spectre.Console;
using TestGrid.Plan;

namespace TestGrid.Client.Commands;

/// <summary>
/// Prints a <see cref="CapacityPlan"/>: a table per region × VM family (cells, vCPUs, free quota, waves), the totals
/// and estimates, then the cells that cannot run and why.
/// </summary>
internal static class CapacityPlanTable
{
    /// <summary>Unavailable and blocked cells listed at most (together); JSON lists all.</summary>
    public const int MaxListed = 50;

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static void Write(CliConsole console, CapacityPlan plan)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(plan);

        console.Out.WriteLine($"capacity: each cell one attempt of ~{Duration(plan.CellDuration)} (boot + suites), at most {Number(plan.Parallel)} cells at once; retries not counted");
        if (plan.Rows.Count > 0)
        {
            var table = new Table().Border(TableBorder.Simple)
                .AddColumn("region")
                .AddColumn("family")
                .AddColumn(new TableColumn("cells").RightAligned())
                .AddColumn(new TableColumn("vCPUs").RightAligned())
                .AddColumn(new TableColumn("largest").RightAligned())
                .AddColumn("free quota")
                .AddColumn(new TableColumn("waves").RightAligned())
                .AddColumn("note");
            foreach (var row in plan.Rows)
            {
                table.AddRow(Markup.Escape(row.Region), Markup.Escape(row.Family), Number(row.Cells), Number(row.Vcpus),
                    Number(row.LargestCellVcpus), Markup.Escape(Free(row)), Number(row.Waves), Markup.Escape(row.Note ?? ""));
            }
            console.Ansi.Write(table);
        }

        console.Out.WriteLine($"{Count(plan.RunnableCells, "cell")} runnable, {Number(plan.Unavailable.Count)} unavailable, {Number(plan.Blocked.Count)} blocked by quota");
        console.Out.WriteLine($"estimated: {Count(plan.Waves, "wave")}, wall time ~{Duration(plan.WallTime)}, " +
                              $"{plan.VmHours.ToString("#,0.#", Invariant)} VM-hours, {Cost(plan)}");

        var listed = 0;
        if (plan.Unavailable.Count > 0)
        {
            console.Out.WriteLine($"unavailable ({Number(plan.Unavailable.Count)}):");
            foreach (var cell in plan.Unavailable.Take(MaxListed))
            {
                console.Out.WriteLine($"  {cell.Name} ({cell.CellId}): {cell.Reason}");
                listed++;
            }
        }
        if (plan.Blocked.Count > 0 && listed < MaxListed)
        {
            console.Out.WriteLine($"blocked by quota ({Number(plan.Blocked.Count)}):");
            foreach (var cell in plan.Blocked.Take(MaxListed - listed))
            {
                console.Out.WriteLine($"  {cell.Name} ({cell.CellId}): {cell.Reason}");
                listed++;
            }
        }
        var more = plan.Unavailable.Count + plan.Blocked.Count - listed;
        if (more > 0) console.Out.WriteLine($"… and {Count(more, "more cell")} that cannot run");
    }

    /// <summary><c>10 (family 10, region 20)</c>: the effective free quota, then each pool's.</summary>
    private static string Free(CapacityRow row)
    {
        if (row.EffectiveFree is not int effective) return "no quota";
        var parts = new List<string>(2);
        if (row.FamilyFree is int family) parts.Add($"family {Number(family)}");
        if (row.RegionFree is int region) parts.Add($"region {Number(region)}");
        return $"{Number(effective)} ({string.Join(", ", parts)})";
    }

    private static string Cost(CapacityPlan plan)
    {
        if (plan.UnpricedCells == 0) return $"cost ~${Money(plan.EstimatedCost)}";
        var skus = Count(plan.UnpricedSkus.Count, "unpriced SKU");
        const int names = 10;
        var list = string.Join(", ", plan.UnpricedSkus.Take(names)) + (plan.UnpricedSkus.Count > names ? ", …" : "");
        return plan.UnpricedCells == plan.RunnableCells
            ? $"cost unknown ({skus}: {list})"
            : $"cost ~${Money(plan.EstimatedCost)} or more ({skus}: {list})";
    }

    /// <summary><c>1 h 20 min</c>, <c>40 min</c>: rounded to the minute.</summary>
    private static string Duration(TimeSpan duration)
    {
        var minutes = (long)Math.Round(duration.TotalMinutes, MidpointRounding.AwayFromZero);
        if (minutes == 0 && duration > TimeSpan.Zero) return "<1 min";
        return minutes >= 60
            ? $"{Number(minutes / 60)} h {Number(minutes % 60)} min"
            : $"{Number(minutes)} min";
    }

    private static string Money(double usd) => usd.ToString("#,0.00", Invariant);

    private static string Number(long value) => value.ToString(Invariant);

    private static string Count(long value, string noun) => value == 1 ? $"1 {noun}" : $"{Number(value)} {noun}s";
}
