using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace TestGrid.Certification;

/// <summary>
/// Replaces a partner's identifying values (serials, MAC addresses, UUIDs, asset tags, hostnames) by keyed hashes
/// before anything leaves a certification run. A token is HMAC-SHA256(key, kind + ":" + normalised value), its first
/// 8 bytes in hex: <c>[mac:1a2b3c4d5e6f7a8b]</c>. It is stable for one key (the same machine gives the same tokens in
/// every run, so results can be compared) and useless without it; the partner, who holds the key, maps tokens back with
/// <see cref="MapBack"/> over its own values. Values that are placeholders ("To Be Filled By O.E.M.", "0", all zeros)
/// identify nothing and are never added, so that they do not turn common words into tokens. Add values from one
/// thread; once added, redacting is safe from several.
/// </summary>
public sealed partial class Redactor
{
    /// <summary>The kinds of identifying values.</summary>
    public static class Kinds
    {
        public const string Serial = "serial";
        public const string Mac = "mac";
        public const string Uuid = "uuid";
        public const string AssetTag = "asset-tag";
        public const string Hostname = "hostname";

        /// <summary>The kinds <see cref="Add"/> accepts.</summary>
        public static readonly IReadOnlyList<string> All = [Serial, Mac, Uuid, AssetTag, Hostname];
    }

    /// <summary>Values shorter than this are never added: they would match inside ordinary text.</summary>
    public const int MinValueLength = 2;

    private static readonly HashSet<string> Placeholders = new(StringComparer.OrdinalIgnoreCase)
    {
        "0", "none", "null", "n/a", "na", "unknown", "not specified", "not available", "not applicable", "not present", "default string",
        "to be filled by o.e.m.", "to be filled by oem", "o.e.m.", "oem", "system serial number", "chassis serial number",
        "base board serial number", "serial", "serial number", "asset tag", "asset-tag", "no asset tag", "no asset information",
        "asset tag#", "0123456789", "123456789", "1234567890", "xxxxxxxxxxxx", "default", "empty", "invalid", "localhost",
        "localhost.localdomain", "(none)", "03000200-0400-0500-0006-000700080009",
    };

    private readonly byte[] _key;

    /// <summary>Every form to find in text → its token.</summary>
    private readonly Dictionary<string, string> _forms = new(StringComparer.OrdinalIgnoreCase);
    private Regex? _pattern;

    /// <param name="key">The partner's redaction key (<see cref="RedactionKey"/>): 32 random bytes.</param>
    public Redactor(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length < 16) throw new ArgumentException("a redaction key has at least 16 bytes", nameof(key));
        _key = (byte[])key.Clone();
    }

    /// <summary>Whether <paramref name="value"/> identifies nothing: empty, too short, a vendor's filler text, or one repeated character (00:00:00:00:00:00).</summary>
    public static bool IsPlaceholder(string? value)
    {
        var trimmed = value?.Trim() ?? "";
        if (trimmed.Length < MinValueLength || Placeholders.Contains(trimmed)) return true;
        var significant = trimmed.Where(char.IsLetterOrDigit).Select(char.ToLowerInvariant).Distinct().Count();
        return significant <= 1;
    }

    /// <summary>Adds an identifying value of <paramref name="kind"/> (one of <see cref="Kinds.All"/>); placeholders are ignored.</summary>
    public void Add(string kind, string? value)
    {
        CheckKind(kind);
        if (value is null || IsPlaceholder(value)) return;
        var trimmed = value.Trim();
        var token = Token(kind, trimmed);
        foreach (var form in Forms(kind, trimmed)) _forms[form] = token;
        _pattern = null;
    }

    /// <summary>Adds every identifying value of <paramref name="facts"/>.</summary>
    public void AddFacts(HardwareFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        foreach (var (kind, value) in Identifying(facts)) Add(kind, value);
    }

    /// <summary>The identifying values of <paramref name="facts"/>, with their kinds (also what a partner passes to <see cref="MapBack"/>).</summary>
    public static IEnumerable<(string Kind, string Value)> Identifying(HardwareFacts facts)
    {
        IEnumerable<(string, string?)> all =
        [
            (Kinds.Serial, facts.SystemSerial), (Kinds.Serial, facts.BoardSerial), (Kinds.Serial, facts.ChassisSerial), (Kinds.Serial, facts.DeviceTreeSerial),
            (Kinds.Uuid, facts.SystemUuid), (Kinds.Uuid, facts.MachineId), (Kinds.AssetTag, facts.AssetTag),
            (Kinds.Hostname, facts.Hostname), (Kinds.Hostname, facts.Fqdn),
            .. facts.Disks.Select(d => (Kinds.Serial, d.Serial)),
            .. facts.Nics.Select(n => (Kinds.Mac, n.Mac)),
        ];
        return all.Where(p => p.Item2 is not null).Select(p => (p.Item1, p.Item2!));
    }

    /// <summary>The token of a value: <c>[kind:16 hex digits]</c> of HMAC-SHA256(key, kind + ":" + normalised value).</summary>
    public string Token(string kind, string value)
    {
        CheckKind(kind);
        ArgumentNullException.ThrowIfNull(value);
        var hash = HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes($"{kind}:{Normalise(kind, value)}"));
        return $"[{kind}:{Convert.ToHexStringLower(hash, 0, 8)}]";
    }

    /// <summary>
    /// <paramref name="text"/> with every added value replaced by its token (longest first, case-insensitive, only where
    /// it is not part of a longer word), and then every MAC-address-shaped string too, added or not.
    /// </summary>
    public string Redact(string text)
    {
        if (string.IsNullOrEmpty(text)) return text;
        if (_forms.Count > 0)
        {
            _pattern ??= new Regex(
                @"(?<![A-Za-z0-9])(?:" + string.Join('|', _forms.Keys.OrderByDescending(k => k.Length).ThenBy(k => k, StringComparer.Ordinal).Select(Regex.Escape)) + @")(?![A-Za-z0-9])",
                RegexOptions.IgnoreCase | RegexOptions.CultureInvariant);
            text = _pattern.Replace(text, m => _forms[m.Value]);
        }
        return MacShape().Replace(text, m => Token(Kinds.Mac, m.Value));
    }

    /// <summary>A copy of <paramref name="facts"/> whose identifying fields are tokens (placeholders stay), and whose other text is <see cref="Redact(string)"/>ed.</summary>
    public HardwareFacts Redact(HardwareFacts facts)
    {
        ArgumentNullException.ThrowIfNull(facts);
        string? Id(string kind, string? value) => value is null || IsPlaceholder(value) ? value : Token(kind, value.Trim());
        string? Text(string? value) => value is null ? null : Redact(value);
        return facts with
        {
            CpuModel = Text(facts.CpuModel),
            SystemVendor = Text(facts.SystemVendor),
            SystemProduct = Text(facts.SystemProduct),
            BoardVendor = Text(facts.BoardVendor),
            BoardName = Text(facts.BoardName),
            BiosVendor = Text(facts.BiosVendor),
            BiosVersion = Text(facts.BiosVersion),
            DeviceTreeModel = Text(facts.DeviceTreeModel),
            Os = Text(facts.Os),
            Kernel = Text(facts.Kernel),
            SystemSerial = Id(Kinds.Serial, facts.SystemSerial),
            BoardSerial = Id(Kinds.Serial, facts.BoardSerial),
            ChassisSerial = Id(Kinds.Serial, facts.ChassisSerial),
            DeviceTreeSerial = Id(Kinds.Serial, facts.DeviceTreeSerial),
            SystemUuid = Id(Kinds.Uuid, facts.SystemUuid),
            MachineId = Id(Kinds.Uuid, facts.MachineId),
            AssetTag = Id(Kinds.AssetTag, facts.AssetTag),
            Hostname = Id(Kinds.Hostname, facts.Hostname),
            Fqdn = Id(Kinds.Hostname, facts.Fqdn),
            Disks = [.. facts.Disks.Select(d => d with { Serial = Id(Kinds.Serial, d.Serial), Model = Text(d.Model) })],
            Nics = [.. facts.Nics.Select(n => n with { Mac = Id(Kinds.Mac, n.Mac) })],
        };
    }

    /// <summary>
    /// For the partner, who holds the key: token → value for its own values (e.g. <see cref="Identifying"/> of the facts
    /// it collected itself, or its asset database), so that a report's tokens can be read.
    /// </summary>
    public static IReadOnlyDictionary<string, string> MapBack(byte[] key, IEnumerable<(string Kind, string Value)> values)
    {
        var redactor = new Redactor(key);
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (kind, value) in values)
        {
            if (!IsPlaceholder(value)) map.TryAdd(redactor.Token(kind, value.Trim()), value.Trim());
        }
        return map;
    }

    /// <summary>MACs and UUIDs are case-insensitive (MACs also in their '-' form), as are hostnames; serials and asset tags are kept as written.</summary>
    private static string Normalise(string kind, string value)
    {
        var trimmed = value.Trim();
        return kind switch
        {
            Kinds.Mac => trimmed.Replace('-', ':').ToLowerInvariant(),
            Kinds.Uuid or Kinds.Hostname => trimmed.ToLowerInvariant(),
            _ => trimmed,
        };
    }

    /// <summary>How a value may be written in text: a MAC with ':' or '-'; everything else as is (matched case-insensitively).</summary>
    private static IEnumerable<string> Forms(string kind, string value)
    {
        yield return value;
        if (kind != Kinds.Mac) yield break;
        yield return value.Replace('-', ':');
        yield return value.Replace(':', '-');
    }

    private static void CheckKind(string kind)
    {
        if (!Kinds.All.Contains(kind))
            throw new ArgumentException($"unknown kind of identifying value '{kind}'; expected one of {string.Join(", ", Kinds.All)}", nameof(kind));
    }

    /// <summary>Six hex octets separated by ':' or '-' (the same one throughout), not part of a longer hex run.</summary>
    [GeneratedRegex(@"(?<![0-9A-Fa-f:-])[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){4}(?![0-9A-Fa-f:-])")]
    private static partial Regex MacShape();
}
