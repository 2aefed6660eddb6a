using System.Text.RegularExpressions;

namespace TestGrid.Provision;

/// <summary>
/// Finds the host key fingerprints a guest prints on its console: cloud-init's block (and TestGrid's images', which
/// print the same) between <c>-----BEGIN SSH HOST KEY FINGERPRINTS-----</c> and <c>-----END …-----</c>. Other output
/// may interleave with the block: only fingerprint lines count, terminal escapes removed (systemd's status output on
/// the same console can leave one in front of a fingerprint, e.g. <c>ESC[K256 SHA256:…</c>, seen on a loaded host).
/// </summary>
public sealed partial class HostKeyBlock
{
    private readonly List<string> _fingerprints = [];
    private bool _inBlock;

    /// <summary>The fingerprints, <c>SHA256:… TYPE</c>, once the block has ended; null before.</summary>
    public IReadOnlyList<string>? Keys { get; private set; }

    /// <summary>Reads one console line; returns true when it ended the block.</summary>
    public bool Feed(string line)
    {
        if (Keys is not null) return false;
        if (line.Contains("-----BEGIN SSH HOST KEY FINGERPRINTS-----", StringComparison.Ordinal))
        {
            _inBlock = true;
            _fingerprints.Clear();
        }
        else if (_inBlock && line.Contains("-----END SSH HOST KEY FINGERPRINTS-----", StringComparison.Ordinal))
        {
            Keys = [.. _fingerprints];
            return true;
        }
        else if (_inBlock && Fingerprint().Match(TerminalEscape().Replace(line, "")) is { Success: true } match)
        {
            _fingerprints.Add($"{match.Groups["hash"].Value} {match.Groups["type"].Value}");
        }
        return false;
    }

    /// <summary><c>256 SHA256:… root@host (ED25519)</c>, as ssh-keygen -l and cloud-init print it.</summary>
    [GeneratedRegex(@"\b\d+ (?<hash>SHA256:[A-Za-z0-9+/]{43}) .*\((?<type>[A-Z0-9-]+)\)\s*$")]
    private static partial Regex Fingerprint();

    [GeneratedRegex(@"\x1b(\[[0-9;?]*[A-Za-z]|[A-Za-z])")]
    private static partial Regex TerminalEscape();
}
