using System.Globalization;
using System.Text;
using TestGrid.Verdict;

namespace TestGrid.Reports;

/// <summary>
/// <c>summary.md</c>: the verdict as a CI job summary shows it (GitHub's <c>$GITHUB_STEP_SUMMARY</c>, Azure Pipelines'
/// <c>##vso[task.uploadsummary]</c>): the verdict and exit code, the counts, every reason behind a FAIL or INCOMPLETE
/// with its output's first lines, then flaky, quarantined, waived and advisory tests, boot times and left-over
/// resources. It lists what the verdict lists, in the verdict's words (<see cref="Classification"/>). Guest output is
/// escaped (Markdown tables, HTML) and the whole is capped, since job summaries are limited in size; what did not fit
/// is named at the end. Paths are relative to the run's output folder.
/// </summary>
public static class MarkdownSummary
{
    public const string FileName = "summary.md";

    /// <summary>GitHub limits a step's summary to 1 MiB; half leaves room for the rest of the job's.</summary>
    public const int DefaultMaxBytes = 512 * 1024;

    /// <summary>The longest text in a table cell or an output line, in characters.</summary>
    public const int MaxTextChars = 500;

    public static void Write(RunReport report, Stream output, int maxBytes = DefaultMaxBytes) =>
        output.Write(Encoding.UTF8.GetBytes(Render(report, maxBytes)));

    public static string Render(RunReport report, int maxBytes = DefaultMaxBytes)
    {
        var verdict = report.Verdict;
        var counts = verdict.Counts;
        var status = verdict.Status.ToString().ToUpperInvariant();
        var doc = new Document(maxBytes);

        doc.Add($"## {Icon(verdict.Status)} TestGrid: {status} (exit {verdict.ExitCode})\n\n");
        var ended = report.EndedAt is { } end ? $" · ended {Time(end)} ({Duration(end - report.StartedAt)})" : " · not ended";
        doc.Add($"Run {Code(report.RunId)} · matrix {Code(report.Matrix)} · provider {Code(report.Provider)} · started {Time(report.StartedAt)}{ended}\n\n");
        doc.Add("|  | Total | Passed | Failed | Without result | Skipped | Flaky | Quarantined | Waived |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        doc.Add(Invariant($"| Cells | {counts.Cells} | {counts.CellsPassed} | {counts.CellsFailed} | {counts.CellsWithoutResult} |  |  |  |  |\n"));
        doc.Add(Invariant($"| Tests | {counts.Tests} | {counts.TestsPassed} | {counts.TestsFailed} |  | {counts.TestsSkipped} | {counts.TestsFlaky} | {counts.TestsQuarantined} | {counts.TestsWaived} |\n\n"));
        if (verdict.Reasons.Concat(verdict.Warnings).Concat(verdict.Flaky).Concat(verdict.Quarantined).Concat(verdict.Waived).Any())
            doc.Add("Paths are relative to the run's output folder.\n\n");

        Reasons(doc, $"Why {status}", verdict.Reasons, withKind: true);
        Reasons(doc, "Flaky (do not block)", verdict.Flaky, withKind: false);
        Reasons(doc, "Quarantined (do not block until their quarantine expires)", verdict.Quarantined, withKind: false);
        Reasons(doc, "Waived (do not block until their waiver expires)", verdict.Waived, withKind: false);
        Reasons(doc, "Advisory failures and warnings (do not block)", verdict.Warnings, withKind: true);

        if (verdict.BootTimes.Count > 0)
        {
            doc.Start("Boot times");
            doc.Add("### Boot times\n\n| Metric | Family | SKU | Cells | p50 | p95 | Baseline median | Baseline limit |\n|---|---|---|---:|---:|---:|---:|---:|\n");
            foreach (var stat in verdict.BootTimes)
            {
                var median = stat.BaselineMedian is { } m ? Invariant($"{Seconds(m)} ({stat.BaselineSamples} attempts)")
                    : stat.BaselineSamples > 0 ? Invariant($"too few ({stat.BaselineSamples} attempts)") : "";
                var limit = stat.BaselineLimit is { } l ? Seconds(l) : "";
                doc.Item(Invariant($"| {Text(stat.Metric)} | {Text(stat.Family)} | {Text(stat.Sku)} | {stat.Cells} | {Seconds(stat.P50)} | {Seconds(stat.P95)} | {median} | {limit} |\n"));
            }
            doc.Add("\n");
        }

        var leaks = report.LeftOvers.Where(l => l.State != "kept").ToList();
        if (leaks.Count > 0)
        {
            doc.Start("Left-over resources");
            doc.Add(Invariant($"### Left-over resources\n\n{leaks.Count} resource(s) of this run were still alive after every cell had ended:\n\n"));
            doc.Add("| Resource | Kind | Run | Expires | State |\n|---|---|---|---|---|\n");
            foreach (var leak in leaks)
                doc.Item($"| {Code(leak.Id)} | {Text(leak.Kind)} | {Text(leak.Run)} | {(leak.ExpiresAt is { } at ? Time(at) : "")} | {Text(leak.State)} |\n");
            doc.Add("\n");
        }
        return doc.Finish();
    }

    /// <summary>A section of reasons: one table row each, then each one's first output lines in a collapsed block.</summary>
    private static void Reasons(Document doc, string title, IReadOnlyList<VerdictReason> reasons, bool withKind)
    {
        if (reasons.Count == 0) return;
        doc.Start(title);
        doc.Add($"### {Text(title)}\n\n");
        doc.Add((withKind ? "| Kind " : "") + "| Cell | Attempt | Test | Message | Note | Log / artefacts |\n" + (withKind ? "|---" : "") + "|---|---:|---|---|---|---|\n");
        foreach (var reason in reasons)
        {
            var paths = string.Join("<br>", new[] { reason.Log, reason.Artifacts }.Where(p => p is not null).Select(Code));
            doc.Item((withKind ? $"| {Classification.Label(reason.Kind)} " : "")
                + Invariant($"| {Text(reason.Cell)} | {reason.Attempt} | {Text(reason.Test)} | {Text(reason.Message)} | {Text(reason.Note)} | {paths} |\n"));
        }
        doc.Add("\n");
        foreach (var reason in reasons.Where(r => r.Excerpt.Count > 0))
        {
            var what = reason.Test is null ? reason.Cell : $"{reason.Cell} · {reason.Test}";
            var attempt = reason.Attempt is { } n ? Invariant($" (attempt {n})") : "";
            var output = reason.Kind == ReasonKind.Flaky ? "first lines of the failed run's output" : "first lines of output";
            doc.Item($"<details><summary>{Html(what)}{attempt}: {output}</summary>\n\n<pre>\n"
                + string.Concat(reason.Excerpt.Select(line => Html(line) + "\n"))
                + "</pre>\n\n</details>\n\n");
        }
    }

    /// <summary>
    /// Text for a table cell: Markdown's metacharacters (the cell separator <c>|</c> among them) backslash-escaped,
    /// HTML escaped, a line break as <c>&lt;br&gt;</c>, shortened to <see cref="MaxTextChars"/>.
    /// </summary>
    internal static string Text(string? text)
    {
        if (string.IsNullOrEmpty(text)) return "";
        var escaped = new StringBuilder(text.Length + 16);
        foreach (var c in Shorten(text))
        {
            switch (c)
            {
                case '\r': break;
                case '\n': escaped.Append("<br>"); break;
                case '&': escaped.Append("&amp;"); break;
                case '<': escaped.Append("&lt;"); break;
                case '>': escaped.Append("&gt;"); break;
                case '\\' or '|' or '`' or '*' or '_' or '[' or ']' or '~' or '$': escaped.Append('\\').Append(c); break;
                default: escaped.Append(Printable(c)); break;
            }
        }
        return escaped.ToString();
    }

    /// <summary>Text inside HTML (a <c>pre</c> block, a <c>summary</c>): HTML escaped and shortened, one line.</summary>
    internal static string Html(string text)
    {
        var escaped = new StringBuilder(text.Length + 16);
        foreach (var c in Shorten(text))
        {
            escaped.Append(c switch
            {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '\r' or '\n' => " ",
                _ => Printable(c).ToString(),
            });
        }
        return escaped.ToString();
    }

    /// <summary>A path or an id as code; as escaped text when it holds what a code span cannot.</summary>
    private static string Code(string? text) =>
        string.IsNullOrEmpty(text) ? "" : text.Length <= MaxTextChars && !text.Any(c => c is '`' or '|' or '\n' or '\r' || char.IsControl(c)) ? $"`{text}`" : Text(text);

    private static string Shorten(string text) => text.Length <= MaxTextChars ? text : string.Concat(text.AsSpan(0, MaxTextChars), "…");

    /// <summary>Control characters from a guest (escape sequences, NULs) become U+FFFD; tabs stay.</summary>
    private static char Printable(char c) => c != '\t' && char.IsControl(c) ? '\uFFFD' : c;

    private static string Icon(VerdictStatus status) => status switch
    {
        VerdictStatus.Pass => "✅",
        VerdictStatus.Fail => "❌",
        _ => "⚠️",
    };

    private static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    private static string Duration(TimeSpan time) => time.TotalMinutes >= 1
        ? Invariant($"{(int)time.TotalMinutes} min {time.Seconds} s")
        : Invariant($"{time.TotalSeconds:0} s");

    private static string Seconds(double value) => Invariant($"{value:0.0} s");

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// The summary being written, within its byte budget. Once a piece does not fit, nothing more is added (the
    /// summary stays in order); items left out are counted per section and named at the end.
    /// </summary>
    private sealed class Document(int maxBytes)
    {
        /// <summary>Kept free for the note that says what was left out.</summary>
        private const int NoteBytes = 2048;

        private readonly StringBuilder _text = new();
        private readonly List<(string Section, int Items)> _cut = [];
        private readonly int _budget = Math.Max(0, maxBytes - NoteBytes);
        private int _bytes;
        private bool _full;
        private string _section = "";

        /// <summary>Starts a section: items left out from here on are counted under <paramref name="title"/>.</summary>
        public void Start(string title) => _section = title;

        /// <summary>Adds a heading or table header; left out silently when the summary is full.</summary>
        public void Add(string text) => Append(text);

        /// <summary>Adds a row or an output block; counted when left out.</summary>
        public void Item(string text)
        {
            if (Append(text)) return;
            if (_cut.Count > 0 && _cut[^1].Section == _section) _cut[^1] = (_section, _cut[^1].Items + 1);
            else _cut.Add((_section, 1));
        }

        public string Finish()
        {
            if (_cut.Count > 0)
            {
                var what = string.Join("; ", _cut.Select(c => Invariant($"{Text(c.Section)}: {c.Items} row(s) or output block(s)")));
                _text.Append(Invariant($"\n> **Cut to fit the {maxBytes / 1024} KiB limit of a job summary.** Left out: {what}. verdict.json and junit.xml have everything.\n"));
            }
            return _text.ToString();
        }

        private bool Append(string text)
        {
            if (_full) return false;
            var bytes = Encoding.UTF8.GetByteCount(text);
            if (_bytes + bytes > _budget)
            {
                _full = true;
                return false;
            }
            _text.Append(text);
            _bytes += bytes;
            return true;
        }
    }
}
