using System.Globalization;
using TestGrid.Reports;
using TestGrid.Verdict;

namespace TestGrid.Client.Commands;

/// <summary>
/// The verdict as a person reads it at the end of a run: status, counts, every reason with its note, output excerpt
/// and log; then flaky, quarantined, waived and advisory tests, boot times, kept machines and the leak report — the
/// same lists, in the same words, as <c>summary.md</c> and <c>junit.xml</c>.
/// </summary>
internal static class VerdictPrinter
{
    /// <param name="reportsFolder">Where verdict.json, junit.xml and summary.md were written; null when they were not.</param>
    /// <param name="outputRoot">The run's output folder, holding attempt logs (on the silos' machines, for a cluster).</param>
    public static void Print(TextWriter writer, RunReport report, string? reportsFolder, string outputRoot)
    {
        var verdict = report.Verdict;
        var counts = verdict.Counts;
        var status = verdict.Status.ToString().ToUpperInvariant();
        var extra = string.Concat(new[] { (counts.TestsFlaky, "flaky"), (counts.TestsQuarantined, "quarantined"), (counts.TestsWaived, "waived") }
            .Where(c => c.Item1 > 0).Select(c => $", {c.Item1} {c.Item2}"));
        writer.WriteLine();
        writer.WriteLine($"VERDICT: {status} (exit {verdict.ExitCode})");
        writer.WriteLine($"  {counts.Cells} cells: {counts.CellsPassed} passed, {counts.CellsFailed} failed, {counts.CellsWithoutResult} without result; " +
                         $"{counts.Tests} tests: {counts.TestsPassed} passed, {counts.TestsFailed} failed, {counts.TestsSkipped} skipped{extra}");
        Section(writer, $"Why {status}", verdict.Reasons, outputRoot, detailed: true);
        Section(writer, "Flaky (do not block)", verdict.Flaky, outputRoot, detailed: false);
        Section(writer, "Quarantined (do not block until their quarantine expires)", verdict.Quarantined, outputRoot, detailed: false);
        Section(writer, "Waived (do not block until their waiver expires)", verdict.Waived, outputRoot, detailed: false);
        Section(writer, "Advisory failures and warnings (do not block)", verdict.Warnings, outputRoot, detailed: true);
        BootTimes(writer, verdict.BootTimes);
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
            ? $"  Logs in {Path.Combine(outputRoot, "cells")}; no reports written (--out writes verdict.json, junit.xml and summary.md)"
            : $"  Reports: {Path.Combine(reportsFolder, "verdict.json")}, {Path.Combine(reportsFolder, "junit.xml")}, {Path.Combine(reportsFolder, MarkdownSummary.FileName)}; logs in {Path.Combine(outputRoot, "cells")}");
    }

    /// <param name="detailed">Also the output excerpt and the attempt's folder (reasons and warnings); else the note and the log.</param>
    private static void Section(TextWriter writer, string title, IReadOnlyList<VerdictReason> reasons, string outputRoot, bool detailed)
    {
        if (reasons.Count == 0) return;
        writer.WriteLine($"  {title}:");
        foreach (var reason in reasons)
        {
            writer.WriteLine($"    [{Classification.Label(reason.Kind).ToUpperInvariant()}] {reason with { Note = null }}");
            if (reason.Note is not null) writer.WriteLine($"        note: {reason.Note}");
            if (!detailed)
            {
                if (reason.Log is not null) writer.WriteLine($"        log: {Path.Combine(outputRoot, reason.Log)}");
                continue;
            }
            foreach (var line in reason.Excerpt) writer.WriteLine($"        | {line}");
            if (reason.Log is not null) writer.WriteLine($"        log: {Path.Combine(outputRoot, reason.Log)}");
            if (reason.Artifacts is not null) writer.WriteLine($"        artefacts: {Path.Combine(outputRoot, reason.Artifacts)}");
        }
    }

    /// <summary>One line per metric × image family × SKU: the run's p50 and p95, and its baseline when there is one.</summary>
    private static void BootTimes(TextWriter writer, IReadOnlyList<BootTimeStat> stats)
    {
        if (stats.Count == 0) return;
        writer.WriteLine("  Boot times (over the run's cells):");
        var width = stats.Max(s => s.Metric.Length);
        foreach (var stat in stats)
        {
            var baseline = stat.BaselineMedian is { } median ? Invariant($"; baseline {median:0.0} s, limit {stat.BaselineLimit:0.0} s ({stat.BaselineSamples} attempts)")
                : stat.BaselineSamples > 0 ? Invariant($"; no baseline yet ({stat.BaselineSamples} attempts)") : "";
            writer.WriteLine(Invariant($"    {stat.Metric.PadRight(width)}  {stat.Family} × {stat.Sku}: {stat.Cells} cell(s), p50 {stat.P50:0.0} s, p95 {stat.P95:0.0} s{baseline}"));
        }
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
