using System.Globalization;
using TestGrid.Matrix;
using TestGrid.Results;

namespace TestGrid.Verdict;

/// <summary>
/// The policy applied to a run's cells. Each test counts once per cell with its latest outcome over every attempt
/// that ran it (attempts of a cell share its inputs); a failure then a pass is flaky. Failures are classified in
/// this order: waived, quarantined, advisory, blocking — an expired waiver or quarantine exempts nothing, and the
/// reason says so. Boot metrics are checked across the run's cells (p50/p95 limits) and against their history.
/// </summary>
public static class VerdictCalculator
{
    /// <summary>How many lines of a test's output a reason quotes.</summary>
    public const int ExcerptLines = 5;

    /// <summary>Metrics the report summarises per family × SKU even when the policy names none.</summary>
    public static readonly IReadOnlyList<string> ReportedMetrics = ["boot.ssh_login", "boot.userspace"];

    public static RunVerdict Decide(IReadOnlyList<CellReport> cells, VerdictInputs inputs)
    {
        var policy = inputs.Policy;
        var reasons = new List<VerdictReason>();
        var warnings = new List<VerdictReason>();
        var flaky = new List<VerdictReason>();
        var quarantined = new List<VerdictReason>();
        var waived = new List<VerdictReason>();
        int passed = 0, failed = 0, without = 0, tests = 0, testsPassed = 0, testsFailed = 0, testsSkipped = 0;

        foreach (var cell in cells)
        {
            var latest = cell.Latest;
            var completed = CellResults.LatestCompleted(cell.Attempts);
            if (completed is null)
            {
                without++;
                reasons.Add(new VerdictReason
                {
                    Kind = ReasonKind.NoResult,
                    Cell = cell.Cell.Name,
                    CellId = cell.Cell.Id,
                    Attempt = latest?.Number,
                    Message = NoResultMessage(cell, latest),
                    Artifacts = latest?.Artifacts,
                });
                continue;
            }
            if (latest is not null && latest.Number > completed.Number && latest.Outcome != AttemptOutcome.Completed)
            {
                warnings.Add(new VerdictReason
                {
                    Kind = ReasonKind.NoResult,
                    Cell = cell.Cell.Name,
                    CellId = cell.Cell.Id,
                    Attempt = latest.Number,
                    Message = $"{(latest.Trigger ?? "a later attempt")} got no result ({NoResultMessage(cell, latest)}); the results of the earlier attempts stand",
                    Artifacts = latest.Artifacts,
                });
            }

            var blocked = false;
            foreach (var record in CellResults.Merge(cell.Attempts))
            {
                var test = record.Latest;
                tests++;
                if (test.Outcome == TestOutcome.Skipped) testsSkipped++;
                if (test.Outcome == TestOutcome.Passed)
                {
                    testsPassed++;
                    if (!record.Flaky) continue;
                    var firstFailure = record.Runs.First(r => r.Failed);
                    var flake = Reason(ReasonKind.Flaky, cell, record, $"flaky: {Describe(firstFailure)} in {TestRecord.Where(firstFailure)}, passed in {TestRecord.Where(record.Runs[^1])}",
                        ResultOf(cell, record.Id, firstFailure));
                    if (test.Blocking && policy.Flakes.FlakyBlocks)
                    {
                        reasons.Add(flake with { Note = "the policy blocks on flaky blocking tests (flakes.flakyBlocks)" });
                        blocked = true;
                    }
                    else flaky.Add(flake);
                    continue;
                }
                if (!test.IsFailure) continue;

                testsFailed++;
                var history = record.FailedAfterPass ? $"passed in {TestRecord.Where(record.Runs.Last(r => r.Outcome == TestOutcome.Passed))} before" : null;
                var waiver = Covering(policy.Waivers, test, cell);
                var quarantine = Covering(policy.Quarantine, test, cell);
                var failure = Reason(ReasonKind.BlockingFailure, cell, record, test.Reason ?? test.Outcome.ToString(), test);
                if (waiver is not null && waiver.HoldsAt(inputs.Now))
                {
                    waived.Add(failure with { Kind = ReasonKind.Waived, Note = Join($"waived by {waiver.By} until {Day(waiver.Until)}: {waiver.Reason}", history) });
                }
                else if (quarantine is not null && quarantine.HoldsAt(inputs.Now))
                {
                    quarantined.Add(failure with { Kind = ReasonKind.Quarantined, Note = Join($"quarantined until {Day(quarantine.Until)}: {quarantine.Reason}{Bug(quarantine)}", history) });
                }
                else if (!test.Blocking)
                {
                    warnings.Add(failure with { Kind = ReasonKind.AdvisoryFailure, Note = history });
                }
                else
                {
                    var expired = waiver is not null ? $"its waiver (by {waiver.By}: {waiver.Reason}) expired after {Day(waiver.Until)}; it blocks again"
                        : quarantine is not null ? $"its quarantine ({quarantine.Reason}{Bug(quarantine)}) expired after {Day(quarantine.Until)}; it blocks again"
                        : null;
                    reasons.Add(failure with { Note = Join(expired, history) });
                    blocked = true;
                }
            }
            if (blocked) failed++; else passed++;
        }

        var bootTimes = BootTimes(cells, inputs);
        reasons.AddRange(LimitBreaches(cells, policy));
        foreach (var regression in Regressions(bootTimes, policy))
            (policy.Baselines!.Blocking ? reasons : warnings).Add(regression);

        var status = reasons.Any(r => r.Kind != ReasonKind.NoResult) ? VerdictStatus.Fail
            : reasons.Count > 0 ? VerdictStatus.Incomplete
            : VerdictStatus.Pass;
        return new RunVerdict
        {
            Status = status,
            // What decides a FAIL comes first; cells without a result follow.
            Reasons = [.. reasons.OrderBy(r => r.Kind == ReasonKind.NoResult)],
            Warnings = warnings,
            Flaky = flaky,
            Quarantined = quarantined,
            Waived = waived,
            BootTimes = bootTimes,
            DecidedAt = inputs.Now,
            Counts = new VerdictCounts
            {
                Cells = cells.Count, CellsPassed = passed, CellsFailed = failed, CellsWithoutResult = without,
                Tests = tests, TestsPassed = testsPassed, TestsFailed = testsFailed, TestsSkipped = testsSkipped,
                TestsFlaky = flaky.Count + reasons.Count(r => r.Kind == ReasonKind.Flaky),
                TestsQuarantined = quarantined.Count, TestsWaived = waived.Count,
            },
        };
    }

    /// <summary>The metric values that stand for each cell: its latest completed attempt's (cells without one, or without the metric, are left out).</summary>
    public static IEnumerable<(CellReport Cell, double Value)> Values(IEnumerable<CellReport> cells, string metric) =>
        cells.Select(c => (Cell: c, Attempt: c.Attempts.LastOrDefault(a => a.Outcome == AttemptOutcome.Completed && a.Metrics.ContainsKey(metric))))
            .Where(c => c.Attempt is not null)
            .Select(c => (c.Cell, c.Attempt!.Metrics[metric]));

    /// <summary>The <paramref name="p"/>-th percentile (0–100) by linear interpolation between closest ranks.</summary>
    public static double Percentile(IReadOnlyList<double> values, double p)
    {
        if (values.Count == 0) throw new ArgumentException("no values", nameof(values));
        var sorted = values.Order().ToArray();
        var rank = p / 100 * (sorted.Length - 1);
        var low = (int)Math.Floor(rank);
        var high = (int)Math.Ceiling(rank);
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
    }

    /// <summary>Median and the median absolute deviation, scaled by 1.4826 to estimate a standard deviation.</summary>
    public static (double Median, double Mad) MedianAndMad(IReadOnlyList<double> values)
    {
        var median = Percentile(values, 50);
        return (median, 1.4826 * Percentile([.. values.Select(v => Math.Abs(v - median))], 50));
    }

    private static List<BootTimeStat> BootTimes(IReadOnlyList<CellReport> cells, VerdictInputs inputs)
    {
        var metrics = ReportedMetrics.Concat(inputs.Policy.BootTimes.Select(b => b.Metric)).Concat(inputs.Policy.Baselines?.Metrics ?? []).Distinct(StringComparer.Ordinal).ToList();
        var stats = new List<BootTimeStat>();
        foreach (var group in cells.GroupBy(c => (c.Cell.Image.Family, c.Cell.Sku.Name)).OrderBy(g => g.Key))
        {
            foreach (var metric in metrics)
            {
                var values = Values(group, metric).Select(v => v.Value).ToList();
                if (values.Count == 0) continue;
                var stat = new BootTimeStat(metric, group.Key.Family, group.Key.Name, values.Count, Percentile(values, 50), Percentile(values, 95));
                if (inputs.Policy.Baselines is { } baselines && baselines.Metrics.Contains(metric)
                    && inputs.History?.GetValueOrDefault(new BaselineKey(group.Key.Family, group.Key.Name, metric)) is { } history)
                {
                    var samples = history.Take(baselines.Window).ToList();
                    if (samples.Count >= baselines.MinSamples)
                    {
                        var (median, mad) = MedianAndMad(samples);
                        stat = stat with { BaselineMedian = median, BaselineLimit = median + baselines.K * Math.Max(mad, 0.05 * median), BaselineSamples = samples.Count };
                    }
                    else stat = stat with { BaselineSamples = samples.Count };
                }
                stats.Add(stat);
            }
        }
        return stats;
    }

    private static IEnumerable<VerdictReason> LimitBreaches(IReadOnlyList<CellReport> cells, PolicyDefinition policy)
    {
        foreach (var limit in policy.BootTimes)
        {
            var values = Values(cells.Where(c => limit.AppliesTo(c.Cell.Arch, c.Cell.Image.Family, c.Cell.Sku.Name)), limit.Metric).Select(v => v.Value).ToList();
            if (values.Count == 0) continue;
            foreach (var (name, max, p) in new[] { ("p50", limit.P50, 50.0), ("p95", limit.P95, 95.0) })
            {
                if (max is null) continue;
                var value = Percentile(values, p);
                if (value <= max) continue;
                yield return new VerdictReason
                {
                    Kind = ReasonKind.BootTime,
                    Cell = limit.Scope,
                    Message = Invariant($"{limit.Metric} {name} {value:0.0} s over {values.Count} cell(s) exceeds the policy's {max:0.0} s"),
                };
            }
        }
    }

    private static IEnumerable<VerdictReason> Regressions(IReadOnlyList<BootTimeStat> stats, PolicyDefinition policy)
    {
        if (policy.Baselines is not { } baselines) yield break;
        foreach (var stat in stats)
        {
            if (stat.BaselineLimit is not { } limit || stat.P50 <= limit) continue;
            yield return new VerdictReason
            {
                Kind = ReasonKind.Regression,
                Cell = $"family {stat.Family}, sku {stat.Sku}",
                Message = Invariant($"{stat.Metric} regressed: this run's median {stat.P50:0.0} s over {stat.Cells} cell(s) is above its baseline {stat.BaselineMedian:0.0} s ")
                    + Invariant($"(limit {limit:0.0} s = median + {baselines.K:0.##} × MAD of {stat.BaselineSamples} earlier attempts)"),
            };
        }
    }

    private static Exemption? Covering(IReadOnlyList<Exemption> entries, TestResult test, CellReport cell) =>
        entries.FirstOrDefault(e => e.Covers(test.Suite, test.Test, cell.Cell));

    private static VerdictReason Reason(ReasonKind kind, CellReport cell, TestRecord record, string message, TestResult? shown) => new()
    {
        Kind = kind,
        Cell = cell.Cell.Name,
        CellId = cell.Cell.Id,
        Attempt = record.LatestAttempt,
        Test = record.Id,
        Message = message,
        Excerpt = shown?.Output?.FirstLines(ExcerptLines) ?? [],
        Log = shown?.Log,
        Artifacts = cell.Attempts.FirstOrDefault(a => a.Number == record.LatestAttempt)?.Artifacts,
    };

    /// <summary>The result of one run of test <paramref name="test"/> (<c>suite/test</c>) of the cell, for its output and log.</summary>
    internal static TestResult? ResultOf(CellReport cell, string test, TestRun run) =>
        cell.Attempts.FirstOrDefault(a => a.Number == run.Attempt)?.Tests.FirstOrDefault(t => t.Id == test && t.Rerun == run.Rerun);

    private static string Describe(TestRun run) => run.Outcome == TestOutcome.TimedOut ? "timed out" : "failed";

    private static string? Join(string? first, string? second) => first is null ? second : second is null ? first : $"{first}; {second}";

    private static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

    private static string Bug(Exemption entry) => entry.Bug is null ? "" : $", {entry.Bug}";

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string NoResultMessage(CellReport cell, AttemptResult? latest) => latest switch
    {
        null => cell.Reason ?? "no attempt ran",
        { Outcome: AttemptOutcome.Cancelled } => "cancelled",
        _ => $"{latest.ErrorKind ?? "infrastructure"}: {latest.Error}" + (cell.Attempts.Count > 1 ? $" (after {cell.Attempts.Count} attempts)" : ""),
    };
}
