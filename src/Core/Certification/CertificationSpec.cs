namespace TestGrid.Certification;

/// <summary>
/// What makes a run a partner certification (<c>testgrid certify</c>): whose machines it certifies, and the partner's
/// redaction key, by path (never the key itself: run state is stored). Every identifying value the run collects
/// (serial numbers, MAC addresses, system and board UUIDs, asset tags, hostnames) leaves the run only as a keyed hash.
/// </summary>
/// <param name="Partner">The partner's name (letters, digits, '.', '_', '-'): ledger keys carry it.</param>
/// <param name="RedactionKeyFile">The partner's redaction key file on the runner's machine.</param>
public sealed record CertificationSpec(string Partner, string RedactionKeyFile);
