using TestGrid.Reports;
using TestGrid.Verdict;

namespace TestGrid.Client.Commands;

/// <summary>The verdict as a person reads it at the end of a run: status, counts, every reason with its output excerpt.</summary>
internal static class VerdictPrinter
{
    /// <param name="reportsFolder">Where verdict.json and junit.xml were written; null when they were not.</param>
    /// <param name="outputRoot">The run's output folder, holding attempt logs (on the silos' machines, for a cluster).</param>
    public static void Print(TextWriter writer, RunReport report, string? reportsFolder, string outputRoot)
    {
        var verdict = report.Verdict;
        var counts = verdict.Counts;
        writer.WriteLine();
        writer.WriteLine($"VERDICT: {verdict.Status.ToString().ToUpperInvariant()} (exit {verdict.ExitCode})");
        writer.WriteLine($"  {counts.Cells} cells: {counts.CellsPassed} passed, {counts.CellsFailed} failed, {counts.CellsWithoutResult} without result; " +
                         $"{counts.Tests} tests: {counts.TestsPassed} passed, {counts.TestsFailed} failed, {counts.TestsSkipped} skipped");
        Section(writer, "Reasons", verdict.Reasons);
        Section(writer, "Advisory failures (do not block)", verdict.Warnings);
        var kept = report.Cells.Where(c => c.Latest?.Kept is not null).ToList();
        if (kept.Count > 0)
        {
            writer.WriteLine("  Kept machines (--keep failed):");
            foreach (var cell in kept) writer.WriteLine($"    {cell.Cell.Name} ({cell.Cell.Id}): {cell.Latest!.Kept}");
        }
        var leaks = report.LeftOvers.Where(l => l.State != "kept").ToList();
        if (leaks.Count > 0)
        {
            writer.WriteLine($"  Leak report: {leaks.Count} resource(s) of this run were still alive after every cell had ended:");
            foreach (var leak in leaks) writer.WriteLine($"    {JanitorCommand.Describe(leak)}");
        }
        writer.WriteLine(reportsFolder is null
            ? $"  Logs in {Path.Combine(outputRoot, "cells")}; no reports written (--out writes verdict.json and junit.xml)"
            : $"  Reports: {Path.Combine(reportsFolder, "verdict.json")}, {Path.Combine(reportsFolder, "junit.xml")}; logs in {Path.Combine(outputRoot, "cells")}");
    }

    private static void Section(TextWriter writer, string title, IReadOnlyList<VerdictReason> reasons)
    {
        if (reasons.Count == 0) return;
        writer.WriteLine($"  {title}:");
        foreach (var reason in reasons)
        {
            var mark = reason.Kind switch { ReasonKind.BlockingFailure => "FAIL", ReasonKind.NoResult => "NO RESULT", _ => "advisory" };
            writer.WriteLine($"    [{mark}] {reason}");
            foreach (var line in reason.Excerpt) writer.WriteLine($"        | {line}");
        }
    }
}
