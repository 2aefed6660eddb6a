using TestGrid.Verdict;

namespace TestGrid.Certification.Bundles;

/// <summary>What a bundle is made of: an ended run as its spec and report say, and its output folder.</summary>
/// <param name="EndedAt">When the run ended: the manifest's creation time.</param>
/// <param name="Suites">Suite name → content hash.</param>
/// <param name="OutputFolder">The run's output folder: every file in it goes into the archive.</param>
public sealed record BundleSource(
    string RunId,
    string? Partner,
    DateTimeOffset EndedAt,
    VerdictStatus Verdict,
    IReadOnlyList<BundleCell> Cells,
    IReadOnlyDictionary<string, string> Suites,
    string OutputFolder);

/// <summary>A bundle as written: its archive and signature files, the archive's SHA-256, size and file count (the manifest included).</summary>
public sealed record WrittenBundle(string ArchiveFile, string SignatureFile, string Sha256, long Size, int Files, string KeyId);
