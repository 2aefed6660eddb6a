using System.Security.Cryptography;
using System.Text.RegularExpressions;
using TestGrid.Certification.Bundles;
using TestGrid.Input;
using TestGrid.Ledger;

namespace TestGrid.Certification.Submissions;

/// <summary>The steps of a submission after its checks, in order: a test may stop it after any of them.</summary>
public enum SubmissionStep
{
    /// <summary>The bundle was read (and verified, with a key); nothing stored yet.</summary>
    Checked,

    /// <summary><c>&lt;id&gt;.tar.gz</c> is in place.</summary>
    ArchiveStored,

    /// <summary><c>&lt;id&gt;.tar.gz.sig</c> is in place (when there was a signature).</summary>
    SignatureStored,

    /// <summary>The ledger has the submission's row.</summary>
    Recorded,
}

/// <summary>What a submission did: refused (with every problem), stored, or found already stored.</summary>
public sealed record SubmissionOutcome(string Id, LedgerSubmission? Submission, bool AlreadySubmitted, IReadOnlyList<string> Problems)
{
    public bool Refused => Problems.Count > 0;
}

/// <summary>
/// Partners' bundle submissions, idempotent: a submission's id is its archive's SHA-256, the archive and its signature
/// are stored content-addressed in <c>&lt;data&gt;/submissions/&lt;id&gt;.tar.gz[.sig]</c>, and the ledger row is an upsert
/// keyed by (partner, id). Each file is written to a temporary file in the same folder, synced, and renamed into place,
/// so a name in the folder is always a whole file; a submission cut short anywhere (between or inside these steps) is
/// repeated safely: a stored archive with the right hash is kept, temporary files left behind are removed, and the
/// repeat ends as one clean submission would have. One submission at a time holds the folder's lock (<c>.lock</c>),
/// so removing temporary files never removes another submission's.
/// </summary>
public sealed partial class SubmissionStore(string dataFolder, IResultLedger ledger, TimeProvider? time = null)
{
    public const string FolderName = "submissions";
    public const string ArchiveSuffix = ".tar.gz";
    private const string TemporarySuffix = ".tmp";
    private const string LockName = ".lock";
    private static readonly TimeSpan LockWait = TimeSpan.FromMinutes(1);

    private readonly TimeProvider _time = time ?? TimeProvider.System;

    /// <summary>Where archives and signatures are stored.</summary>
    public string Folder { get; } = Path.Combine(Path.GetFullPath(dataFolder), FolderName);

    /// <summary>Called after each step; what it throws stops the submission there (tests interrupt submissions with it).</summary>
    internal Func<SubmissionStep, CancellationToken, Task>? AfterStep { get; init; }

    /// <summary>The stored archive of a submission.</summary>
    public string ArchivePath(string id) => Path.Combine(Folder, id + ArchiveSuffix);

    /// <summary>
    /// Submits <paramref name="archiveFile"/> for <paramref name="partner"/>. With <paramref name="publicKey"/> the
    /// bundle is verified first (signature and contents) and a bad one is refused; without, its contents are checked
    /// against its manifest. A bundle naming another partner is invalid input (<see cref="InputException"/>).
    /// </summary>
    /// <param name="signatureFile">The detached signature: required with a key; stored beside the archive when given.</param>
    public async Task<SubmissionOutcome> SubmitAsync(string archiveFile, string? signatureFile, string partner, ECDsa? publicKey, CancellationToken cancellationToken)
    {
        CheckPartner(partner);
        if (publicKey is not null) ArgumentNullException.ThrowIfNull(signatureFile);
        var check = await BundleVerifier.CheckAsync(archiveFile, signatureFile, publicKey, cancellationToken);
        var (id, size, manifest) = (check.ArchiveSha256, check.Size, check.Manifest);
        if (!check.Good || manifest is null) return new SubmissionOutcome(id, null, false, check.Problems);
        if (manifest.Partner is { } named && named != partner)
        {
            throw new InputException(new InputError(archiveFile, "$.partner",
                $"expected a bundle of partner '{partner}' (--partner), but its manifest names partner '{named}'; nothing was stored"));
        }

        Directory.CreateDirectory(Folder);
        await using var folderLock = await LockAsync(cancellationToken);
        RemoveTemporaryFiles();
        await StepAsync(SubmissionStep.Checked, cancellationToken);

        await StoreAsync(archiveFile, ArchivePath(id), id, cancellationToken);
        await StepAsync(SubmissionStep.ArchiveStored, cancellationToken);

        var verified = publicKey is not null;
        if (signatureFile is not null && File.Exists(signatureFile))
        {
            var stored = ArchivePath(id) + BundleSignature.Suffix;
            // A verified signature replaces one stored unverified; otherwise the first stored stays (ECDSA signatures of the same archive differ).
            if (verified || !File.Exists(stored))
                await StoreAsync(signatureFile, stored, (await Hashing.FileAsync(signatureFile, cancellationToken)).Sha256, cancellationToken);
        }
        await StepAsync(SubmissionStep.SignatureStored, cancellationToken);

        var existing = (await ledger.GetSubmissionsAsync(partner, cancellationToken)).FirstOrDefault(s => s.Id == id);
        var submission = new LedgerSubmission(partner, id, manifest.RunId, existing?.SubmittedAt ?? _time.GetUtcNow(), size, manifest.Verdict,
            verified || existing?.Status == SubmissionStatus.Verified ? SubmissionStatus.Verified : SubmissionStatus.Received, check.SignedBy ?? existing?.KeyId);
        if (submission != existing) await ledger.RecordSubmissionAsync(submission, cancellationToken);
        await StepAsync(SubmissionStep.Recorded, cancellationToken);
        return new SubmissionOutcome(id, submission, existing is not null, []);
    }

    /// <summary>The partner's submissions, newest first.</summary>
    public Task<IReadOnlyList<LedgerSubmission>> ListAsync(string partner, CancellationToken cancellationToken)
    {
        CheckPartner(partner);
        return ledger.GetSubmissionsAsync(partner, cancellationToken);
    }

    /// <summary>A partner's name: letters, digits, '.', '_', '-' (ledger keys carry it).</summary>
    public static void CheckPartner(string partner)
    {
        if (string.IsNullOrEmpty(partner) || !PartnerName().IsMatch(partner))
            throw new InputException(new InputError("(command line)", "--partner", $"expected a partner name of letters, digits, '.', '_' and '-', but got '{BundleArchive.Printable(partner ?? "")}'"));
    }

    [GeneratedRegex(@"^[A-Za-z0-9._-]{1,128}$")]
    private static partial Regex PartnerName();

    private async Task StepAsync(SubmissionStep step, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (AfterStep is { } hook) await hook(step, cancellationToken);
    }

    /// <summary>Copies <paramref name="source"/> to <paramref name="target"/> through a synced temporary file and a rename; keeps a target whose hash is already right.</summary>
    private async Task StoreAsync(string source, string target, string expectedSha256, CancellationToken cancellationToken)
    {
        if (File.Exists(target) && (await Hashing.FileAsync(target, cancellationToken)).Sha256 == expectedSha256) return;
        var temporary = Path.Combine(Folder, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}{TemporarySuffix}");
        try
        {
            await using (var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true))
            await using (var output = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await input.CopyToAsync(output, cancellationToken);
                await output.FlushAsync(cancellationToken);
                output.Flush(flushToDisk: true);
            }
            if ((await Hashing.FileAsync(temporary, cancellationToken)).Sha256 != expectedSha256)
                throw new IOException($"{source} changed while it was submitted (its SHA-256 is no longer {expectedSha256}): submit it again");
            File.Move(temporary, target, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>Temporary files of submissions cut short: under the lock, none is another submission's.</summary>
    private void RemoveTemporaryFiles()
    {
        foreach (var file in Directory.EnumerateFiles(Folder, "*" + TemporarySuffix)) File.Delete(file);
    }

    /// <summary>The folder's lock: an exclusive lock on <c>.lock</c> (flock on Linux), waited for up to a minute.</summary>
    private async Task<FileStream> LockAsync(CancellationToken cancellationToken)
    {
        var path = Path.Combine(Folder, LockName);
        var deadline = _time.GetUtcNow() + LockWait;
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (_time.GetUtcNow() < deadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
            }
        }
    }
}
