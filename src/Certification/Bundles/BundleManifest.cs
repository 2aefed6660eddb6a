using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Certification.Bundles;

/// <summary>
/// A bundle's <c>manifest.json</c>: which run, whose, made by which TestGrid, its cells and verdict, its inputs by
/// content hash, and every other file of the archive with its SHA-256 and size. Deterministic: the same run gives the
/// same manifest (<see cref="CreatedAt"/> is the run's end, not the time of bundling).
/// </summary>
public sealed record BundleManifest
{
    /// <summary>The format this TestGrid writes and the newest it reads.</summary>
    public const int CurrentFormat = 1;

    /// <summary>The manifest's entry in the archive.</summary>
    public const string FileName = "manifest.json";

    public required int FormatVersion { get; init; }
    public required string RunId { get; init; }

    /// <summary>The certified partner (the run's <c>CertificationSpec</c>); null for a run that certifies no one.</summary>
    public required string? Partner { get; init; }

    /// <summary>The TestGrid that made the bundle (its assembly's informational version).</summary>
    public required string ToolVersion { get; init; }

    /// <summary>When the run ended.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    public required VerdictStatus Verdict { get; init; }
    public required IReadOnlyList<BundleCell> Cells { get; init; }
    public required BundleInputs Inputs { get; init; }

    /// <summary>Every file of the archive but the manifest, by path.</summary>
    public required IReadOnlyList<BundleFile> Files { get; init; }
}

public sealed record BundleCell(string Id, string Name, CellState State);

/// <summary>The run's inputs by content hash (SHA-256, hex).</summary>
/// <param name="Matrix">Of <c>inputs/matrix.json</c> (the certification matrix), when the run's output has it.</param>
/// <param name="Inventory">Of <c>inputs/inventory.json</c> (the redacted inventory), when the run's output has it.</param>
/// <param name="Suites">Suite name → the suite's content hash, as the run's cells name it.</param>
public sealed record BundleInputs(string? Matrix, string? Inventory, IReadOnlyDictionary<string, string> Suites)
{
    public const string MatrixFile = "inputs/matrix.json";
    public const string InventoryFile = "inputs/inventory.json";
}

/// <summary>One file of the archive: its path (relative, '/'-separated), SHA-256 (hex) and size in bytes.</summary>
public sealed record BundleFile(string Path, string Sha256, long Size);

/// <summary>
/// A bundle's detached signature (<c>FILE.sig</c>): ECDSA P-256 over the archive's bytes with SHA-256, the signature
/// DER-encoded (as OpenSSL writes it) in base64, and the signing key's id.
/// </summary>
public sealed record BundleSignature(string Algorithm, string KeyId, string ArchiveSha256, string Signature)
{
    public const string Suffix = ".sig";
}
