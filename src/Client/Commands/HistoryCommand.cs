using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using TestGrid.Engine;
using TestGrid.History;
using TestGrid.Input;
using TestGrid.Matrix;
using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Client.Commands;

/// <summary>
/// <c>testgrid history --test SUITE/TEST [--family F] [--sku S] | --cell IMAGE/SKU/REGION [--since DAY] [--limit N]</c>:
/// what the results ledger knows of one test or of the cells of one name across runs, read through the history grain
/// from a cluster or from the embedded engine's data folder (without resuming anything). Each (run, cell) is judged
/// as a run's report judges it: passed, failed, or flaky (failed, then passed with identical inputs); the header
/// counts them and names the newest failure with its log.
/// </summary>
internal static class HistoryCommand
{
    public static Command Create(CliConsole console)
    {
        var test = new Option<string?>("--test")
        {
            Description = "A test, suite/test: its runs on every image family × SKU, or on those --family and --sku name.",
        };
        var cell = new Option<string?>("--cell")
        {
            Description = "Cells by name, image/sku/region: their attempts in every run, whatever their ids (a cell's id changes with its inputs).",
        };
        var family = new Option<string?>("--family") { Description = "With --test: only cells of this image family." };
        var sku = new Option<string?>("--sku") { Description = "With --test: only cells of this SKU." };
        var since = new Option<string?>("--since") { Description = "Only attempts started on or after this day (YYYY-MM-DD, UTC) or time (ISO 8601)." };
        since.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } value && ParseSince(value) is null)
                result.AddError($"--since takes a day (YYYY-MM-DD) or a time (ISO 8601), not '{value}'");
        });
        var limit = new Option<int>("--limit")
        {
            Description = "At most this many entries from the ledger, newest first: runs of the test (attempt × rerun), or attempts of the cells.",
            DefaultValueFactory = _ => TestHistoryQuery.DefaultLimit,
        };
        limit.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1) result.AddError("--limit must be at least 1");
        });
        var output = CommonOptions.Output();
        var target = new EngineTarget();
        var command = new Command("history", "Show a test's or a cell's results across runs: passes, failures, flakes and the flake rate, "
            + "the newest failure with its log, and every (run, cell) newest first (json: the summary and the ledger's entries). "
            + "Exit code: 0, also when the ledger holds no such history; 3 invalid usage.")
        {
            test, cell, family, sku, since, limit, output,
        };
        foreach (var option in target.Options) command.Options.Add(option);
        command.Validators.Add(result =>
        {
            var testValue = result.GetValue(test);
            var cellValue = result.GetValue(cell);
            if ((testValue is null) == (cellValue is null))
                result.AddError("history takes exactly one of --test suite/test and --cell image/sku/region");
            if (testValue is not null && SplitTest(testValue) is null)
                result.AddError($"--test takes suite/test, not '{testValue}'");
            if (cellValue is not null && cellValue.Split('/') is not [{ Length: > 0 }, { Length: > 0 }, { Length: > 0 }])
                result.AddError($"--cell takes a cell's name, image/sku/region, not '{cellValue}'");
            if (cellValue is not null && (result.GetValue(family) is not null || result.GetValue(sku) is not null))
                result.AddError("--family and --sku narrow a --test history; a --cell names its image and SKU itself");
        });
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                await using var engine = await target.OpenAsync(parse, MatrixLoader.DefaultFileName, autoResume: false, LogLevel.Warning, cancellationToken).ConfigureAwait(false);
                var grain = engine.Grains.GetGrain<IHistoryGrain>(IHistoryGrain.Key);
                var json = parse.GetValue(output) == "json";
                var from = parse.GetValue(since) is { } day ? ParseSince(day) : null;
                if (parse.GetValue(test) is { } id)
                {
                    var (suite, name) = SplitTest(id)!.Value;
                    var query = new TestHistoryQuery(suite, name, parse.GetValue(family), parse.GetValue(sku), from, parse.GetValue(limit));
                    var entries = await grain.GetTestHistoryAsync(query, cancellationToken).ConfigureAwait(false);
                    var summary = TestHistorySummary.Of(entries);
                    if (json) console.Out.WriteLine(JsonSerializer.Serialize(new TestHistoryReport(query, summary, entries), TestGridJsonContext.Default.TestHistoryReport));
                    else PrintTest(console.Out, query, summary, entries.Length, engine.Description);
                }
                else
                {
                    var name = parse.GetValue(cell)!;
                    var entries = await grain.GetCellHistoryAsync(name, from, parse.GetValue(limit), cancellationToken).ConfigureAwait(false);
                    var summary = CellHistorySummary.Of(entries);
                    if (json) console.Out.WriteLine(JsonSerializer.Serialize(new CellHistoryReport(name, from, summary, entries), TestGridJsonContext.Default.CellHistoryReport));
                    else PrintCell(console.Out, name, from, summary, engine.Description);
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

    /// <summary><c>suite/test</c> split at its last slash (test ids have none); null unless both parts are there.</summary>
    private static (string Suite, string Test)? SplitTest(string value)
    {
        var slash = value.LastIndexOf('/');
        return slash <= 0 || slash == value.Length - 1 ? null : (value[..slash], value[(slash + 1)..]);
    }

    /// <summary>A day (<c>YYYY-MM-DD</c>: its start, UTC) or an ISO 8601 time (UTC unless it says otherwise); null when neither.</summary>
    private static DateTimeOffset? ParseSince(string value)
    {
        if (DateOnly.TryParseExact(value, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var day))
            return new DateTimeOffset(day.ToDateTime(TimeOnly.MinValue), TimeSpan.Zero);
        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time : null;
    }

    private static void PrintTest(TextWriter writer, TestHistoryQuery query, TestHistorySummary summary, int entries, string source)
    {
        var scope = (query.Family, query.Sku) switch
        {
            ({ } f, { } s) => $"{f} × {s}",
            ({ } f, null) => $"{f} × every SKU",
            (null, { } s) => $"every image family × {s}",
            _ => "every image family × SKU",
        };
        var what = $"{query.Id} on {scope}{Since(query.Since)}";
        if (summary.Groups.Count == 0)
        {
            // Runs of the test in attempts that ended otherwise (infrastructure error, cancelled) are no result of it.
            writer.WriteLine(entries == 0
                ? $"no history of {what} in the ledger ({source})"
                : $"no history of {what} from a completed attempt in the ledger, only {entries} run(s) in attempts that did not complete ({source})");
            return;
        }
        writer.WriteLine($"history of {what}, newest first ({source}):");
        writer.WriteLine("  " + Counts(summary.Counts));
        if (summary.LastFailure is { } failure)
        {
            writer.WriteLine($"  last failure: run {failure.RunId}, cell {failure.CellId}, {TestRecord.Where(new TestRun(failure.Attempt, failure.Rerun, TestOutcome.Failed))}, "
                + $"started {Time(failure.At)}; log {failure.Log ?? "(none)"} (relative to the run's output folder)");
        }
        var runWidth = summary.Groups.Max(g => g.RunId.Length);
        var cellWidth = summary.Groups.Max(g => g.CellId.Length);
        var onWidth = summary.Groups.Max(g => On(g).Length);
        foreach (var group in summary.Groups)
        {
            writer.WriteLine($"  {Time(group.LatestAt)}  {group.RunId.PadRight(runWidth)}  {group.CellId.PadRight(cellWidth)}  {On(group).PadRight(onWidth)}  "
                + string.Join(" → ", group.Runs.Select(r => Outcome(r.Outcome))) + (group.Flaky ? " (flaky)" : ""));
        }

        static string On(TestHistoryGroup group) => $"{group.Family} × {group.Sku}";
    }

    private static void PrintCell(TextWriter writer, string name, DateTimeOffset? since, CellHistorySummary summary, string source)
    {
        var what = $"the cells named {name}{Since(since)}";
        if (summary.Groups.Count == 0)
        {
            writer.WriteLine($"no history of {what} in the ledger ({source})");
            return;
        }
        writer.WriteLine($"history of {what}, newest first ({source}):");
        writer.WriteLine("  " + Counts(summary.Counts));
        if (summary.LastFailure is { } failure)
        {
            writer.WriteLine($"  last failure: run {failure.RunId}, cell {failure.CellId}, attempt {failure.Attempt}, started {Time(failure.At)}; "
                + $"attempt folder {failure.Log ?? "(none)"} (relative to the run's output folder); failed: {string.Join(", ", failure.Tests)}");
        }
        var runWidth = summary.Groups.Max(g => g.RunId.Length);
        var cellWidth = summary.Groups.Max(g => g.CellId.Length);
        foreach (var group in summary.Groups)
        {
            var line = $"  {Time(group.LatestAt)}  {group.RunId.PadRight(runWidth)}  {group.CellId.PadRight(cellWidth)}  {group.State.ToString().ToLowerInvariant()}, "
                       + (group.Attempts == 1 ? "1 attempt" : $"{group.Attempts} attempts");
            if (group.FailedTests.Count > 0) line += $"; failed: {string.Join(", ", group.FailedTests)}";
            if (group.FlakyTests.Count > 0) line += $"; flaky: {string.Join(", ", group.FlakyTests)}";
            writer.WriteLine(line);
        }
    }

    /// <summary>"3 runs (4 cells): 2 passed, 1 failed, 1 neither; 1 flaky; flake rate 33.3% (1 of 3 that passed or failed)".</summary>
    private static string Counts(HistoryCounts counts)
    {
        var other = counts.Groups - counts.Passes - counts.Failures;
        var rate = counts.FlakeRate is { } r
            ? string.Create(CultureInfo.InvariantCulture, $"flake rate {r * 100:0.0}% ({counts.Flakes} of {counts.Passes + counts.Failures} that passed or failed)")
            : "no flake rate (none passed or failed)";
        return $"{counts.Runs} run{(counts.Runs == 1 ? "" : "s")} ({counts.Groups} cell{(counts.Groups == 1 ? "" : "s")}): {counts.Passes} passed, {counts.Failures} failed"
               + (other > 0 ? $", {other} neither" : "") + $"; {counts.Flakes} flaky; {rate}";
    }

    private static string Outcome(TestOutcome outcome) => outcome == TestOutcome.TimedOut ? "timed out" : outcome.ToString().ToLowerInvariant();

    private static string Since(DateTimeOffset? since) => since is { } at ? $" since {Time(at)}" : "";

    private static string Time(DateTimeOffset time) => time.ToString("u", CultureInfo.InvariantCulture);
}
