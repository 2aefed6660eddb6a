using System.Text;
using System.Text.Json;
using TestGrid.Attempts.Artifacts;
using TestGrid.Certification;
using TestGrid.Input;
using TestGrid.Provision;
using TestGrid.Results;
using TestGrid.Ssh;

namespace TestGrid.Attempts.Certification;

/// <summary>
/// A certification attempt's first step once logged in: the machine's actual hardware, read over SSH by the runner's
/// own collector (<see cref="HardwareCollector"/>, piped to <c>sh -s</c>), capped and timed out like all guest
/// output. What it finds makes the attempt's <see cref="Redactor"/>: from then on every identifying value is a keyed
/// hash in whatever leaves the attempt, and <c>hardware.json</c> keeps the facts redacted.
/// </summary>
public static class HardwareStage
{
    /// <summary>The collector's output is read up to this much (head and tail each): a machine has no reason to say more.</summary>
    private const int OutputBytes = 256 * 1024;

    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    public const string FileName = "hardware.json";

    public static async Task<(HardwareFacts Facts, Redactor Redactor)> CollectAsync(
        SshSession session, Machine machine, CertificationSpec certification, AttemptLog log, string attemptFolder, CancellationToken cancellationToken)
    {
        byte[] key;
        try
        {
            key = RedactionKey.Load(certification.RedactionKeyFile);
        }
        catch (InputException e)
        {
            // Nothing may leave this attempt unredacted: without the key it stops here, before a test runs.
            throw new ProvisionException("redaction-key", $"the partner's redaction key cannot be used on this runner: {e.Errors[0].Message} ({e.Errors[0].File})", e);
        }
        var redactor = new Redactor(key);
        foreach (var name in machine.Hostnames) redactor.Add(Redactor.Kinds.Hostname, name);
        var capture = new OutputCapture(OutputBytes, OutputBytes);
        using var script = new MemoryStream(Encoding.UTF8.GetBytes(HardwareCollector.Script));
        var result = await session.RunAsync("sh -s", Timeout, capture, cancellationToken, script).ConfigureAwait(false);
        var output = capture.ToCaptured();
        if (result.TimedOut || result.ExitCode != 0)
            log.Write($"hardware: the collector {(result.TimedOut ? $"timed out after {Timeout.TotalSeconds:0} s" : $"exited {result.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? result.ExitSignal}")}; keeping what it printed");
        var facts = HardwareCollector.Parse(output.Text);
        redactor.AddFacts(facts);
        log.Redactor = redactor;
        var redacted = redactor.Redact(facts);
        await File.WriteAllBytesAsync(Path.Combine(attemptFolder, FileName),
            JsonSerializer.SerializeToUtf8Bytes(redacted, TestGridJsonContext.Default.HardwareFacts), CancellationToken.None).ConfigureAwait(false);
        log.Write($"hardware: {output.TotalBytes} bytes from the collector; {FileName} written (identifying values redacted)");
        return (facts, redactor);
    }

    /// <summary>
    /// Rewrites every text file of the attempt's folder with identifying values redacted (lines written before the
    /// redactor existed, a console log), and redacts the result's free text (test output, reasons, the error).
    /// </summary>
    public static async Task<AttemptResult> RedactAsync(Redactor redactor, string attemptFolder, AttemptResult result)
    {
        foreach (var file in Directory.EnumerateFiles(attemptFolder, "*", SearchOption.AllDirectories))
        {
            var text = await File.ReadAllTextAsync(file, CancellationToken.None).ConfigureAwait(false);
            var redacted = redactor.Redact(text);
            if (!string.Equals(text, redacted, StringComparison.Ordinal)) await File.WriteAllTextAsync(file, redacted, CancellationToken.None).ConfigureAwait(false);
        }
        string? Redact(string? text) => text is null ? null : redactor.Redact(text);
        return result with
        {
            Error = Redact(result.Error),
            Kept = Redact(result.Kept),
            Tests = [.. result.Tests.Select(t => t with { Output = t.Output is { } o ? o with { Head = redactor.Redact(o.Head), Tail = redactor.Redact(o.Tail) } : null, Reason = Redact(t.Reason) })],
        };
    }
}
