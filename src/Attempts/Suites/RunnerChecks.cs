using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using TestGrid.Certification;
using TestGrid.Results;
using TestGrid.Suites;

namespace TestGrid.Attempts.Suites;

/// <summary>
/// The checks a suite may ask the runner to make itself (<c>"check"</c> instead of <c>"script"</c>), on evidence only
/// the runner has: the machine's serial console and the attempt's boot measurements.
/// </summary>
internal static partial class RunnerChecks
{
    /// <summary>How many matching console lines a failure quotes.</summary>
    private const int QuotedLines = 20;

    public sealed record Outcome(TestOutcome Result, string? Reason, string Output);

    public static Outcome Run(string check, AttemptRequest request, Provision.Machine machine, IReadOnlyDictionary<string, double> metrics, HardwareFacts? hardware) => check switch
    {
        Checks.Console => Console(machine),
        Checks.BootThresholds => Thresholds(request, metrics),
        Checks.Hardware => Hardware(machine, hardware),
        _ => new Outcome(TestOutcome.Error, $"unknown check '{check}'", ""),
    };

    /// <summary>Fails on kernel panics, oopses, BUGs, call traces, emergency or rescue shells and failed start jobs, quoting each line.</summary>
    private static Outcome Console(Provision.Machine machine)
    {
        if (machine.Console is null)
            return new Outcome(TestOutcome.Skipped, "this machine has no serial console the runner reads", "");
        var found = new List<string>();
        var number = 0;
        using (var reader = new StreamReader(new FileStream(machine.Console.LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite), Encoding.UTF8))
        {
            while (reader.ReadLine() is { } line)
            {
                number++;
                if (Trouble().IsMatch(line)) found.Add($"console line {number}: {Clean(line)}");
            }
        }
        var scanned = $"scanned {number} console lines of {machine.Console.LogPath} for panics, oopses, BUGs, call traces, emergency shells and failed start jobs";
        if (found.Count == 0) return new Outcome(TestOutcome.Passed, null, scanned + ": none\n");
        var output = new StringBuilder().AppendLine(scanned + ":");
        foreach (var line in found.Take(QuotedLines)) output.AppendLine(line);
        if (found.Count > QuotedLines) output.AppendLine(CultureInfo.InvariantCulture, $"… and {found.Count - QuotedLines} more");
        return new Outcome(TestOutcome.Failed, found[0], output.ToString());
    }

    /// <summary>Compares the attempt's metrics with the policy's thresholds that apply to the cell.</summary>
    private static Outcome Thresholds(AttemptRequest request, IReadOnlyDictionary<string, double> metrics)
    {
        var cell = request.Cell;
        var thresholds = request.Policy.Thresholds.Where(t => t.AppliesTo(cell.Arch, cell.Image.Family, cell.Sku.Name)).ToList();
        if (thresholds.Count == 0) return new Outcome(TestOutcome.Skipped, "the policy sets no thresholds for this cell", "");
        var output = new StringBuilder();
        var failures = new List<string>();
        foreach (var threshold in thresholds)
        {
            if (!metrics.TryGetValue(threshold.Metric, out var value))
            {
                failures.Add($"{threshold.Metric} was not measured (limit {threshold.Max:0.###})");
                output.AppendLine(CultureInfo.InvariantCulture, $"{threshold.Metric}: not measured, limit {threshold.Max:0.###}");
                continue;
            }
            var ok = value <= threshold.Max;
            output.AppendLine(CultureInfo.InvariantCulture, $"{threshold.Metric} = {value:0.###} {(ok ? "<=" : ">")} {threshold.Max:0.###}");
            if (!ok) failures.Add(string.Create(CultureInfo.InvariantCulture, $"{threshold.Metric} = {value:0.###} exceeds {threshold.Max:0.###}"));
        }
        return failures.Count == 0
            ? new Outcome(TestOutcome.Passed, null, output.ToString())
            : new Outcome(TestOutcome.Failed, string.Join("; ", failures), output.ToString());
    }

    /// <summary>
    /// The machine is what its owner declared: every declared field compared with what the attempt collected, each
    /// difference named with both values. Output is written before redaction, which the attempt applies to it.
    /// </summary>
    private static Outcome Hardware(Provision.Machine machine, HardwareFacts? hardware)
    {
        if (hardware is null) return new Outcome(TestOutcome.Skipped, "this run collects no hardware: only certification runs do (testgrid certify)", "");
        if (machine.Declared is not { } declared) return new Outcome(TestOutcome.Skipped, $"the inventory declares no hardware for {machine.Name}", "");
        var mismatches = HardwareComparison.Compare(declared, hardware);
        var output = new StringBuilder().AppendLine(CultureInfo.InvariantCulture, $"found on {machine.Name}:");
        output.AppendLine(HardwareCollector.Describe(hardware));
        if (mismatches.Count == 0) return new Outcome(TestOutcome.Passed, null, output.AppendLine("every declared field matches").ToString());
        output.AppendLine(CultureInfo.InvariantCulture, $"{mismatches.Count} mismatches with the declaration:");
        foreach (var mismatch in mismatches) output.AppendLine(mismatch.ToString());
        var reason = mismatches.Count == 1 ? mismatches[0].ToString() : $"{mismatches[0]} (and {mismatches.Count - 1} more)";
        return new Outcome(TestOutcome.Failed, reason, output.ToString());
    }

    /// <summary>The line without terminal colour codes, at most 300 characters.</summary>
    private static string Clean(string line)
    {
        var text = AnsiEscape().Replace(line, "").Trim();
        return text.Length > 300 ? text[..300] + "…" : text;
    }

    /// <summary>
    /// What trouble looks like on a console. The kernel's own alarms are matched as it prints them (<c>Kernel panic</c>,
    /// <c>Oops</c>, <c>BUG:</c>): ignoring case, a harmless <c>..MP-BIOS bug: 8254 timer not connected to IO-APIC</c>
    /// (a fallback x86 kernels take under emulation) failed good images. The rest ignore case (arm64 prints <c>Call trace:</c>).
    /// </summary>
    [GeneratedRegex(@"(?-i:Kernel panic|\bOops\b|\bBUG:)|Call Trace:|\b(emergency|rescue) (mode|shell)\b|\[\s*(\x1b\[[0-9;]*m)?FAILED(\x1b\[[0-9;]*m)?\s*\]|Dependency failed for|Timed out waiting for device", RegexOptions.IgnoreCase)]
    private static partial Regex Trouble();

    [GeneratedRegex(@"\x1b\[[0-9;?]*[A-Za-z]")]
    private static partial Regex AnsiEscape();
}
