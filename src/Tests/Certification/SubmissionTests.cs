using System.Text.Json;
using TestGrid.Certification;
using TestGrid.Certification.Bundles;
using TestGrid.Certification.Keys;
using TestGrid.Certification.Submissions;
using TestGrid.Input;
using TestGrid.Ledger;
using TestGrid.Tests.Support;
using TestGrid.Verdict;

namespace TestGrid.Tests.Certification;

/// <summary>
/// <c>testgrid submit</c> and <c>testgrid submissions</c> on the real run's bundle: one stored copy and one ledger row
/// per bundle whatever happens (twice, or cut short at any step and repeated), shown only to its partner.
/// </summary>
[TestFixture]
[Category("Integration")]
public sealed class SubmissionTests
{
    private BundleTestRun _run = null!;

    [OneTimeSetUp]
    public async Task RunOnce() => _run = await BundleTestRun.GetAsync();

    [Test]
    public async Task Submitting_the_same_bundle_twice_stores_it_once_and_answers_the_same_id()
    {
        using var workspace = new Workspace();
        var data = workspace.Path("data");
        var id = BundleTestRun.Sha256(_run.Bundle);

        var first = await SubmitAsync(data, "acme", withKey: true);
        var second = await SubmitAsync(data, "acme", withKey: true);

        BundleTestRun.Expect(first, ExitCodes.Pass);
        BundleTestRun.Expect(second, ExitCodes.Pass);
        var listed = await ListAsync(data, "acme");
        Assert.Multiple(() =>
        {
            Assert.That(first.Out, Does.StartWith($"submitted: {id}"));
            Assert.That(second.Out, Does.StartWith($"already submitted: {id}"));
            Assert.That(StoredFiles(data), Is.EqualTo(new[] { $"{id}.tar.gz", $"{id}.tar.gz.sig" }));
            Assert.That(BundleTestRun.Sha256(Path.Combine(data, "submissions", $"{id}.tar.gz")), Is.EqualTo(id));
            Assert.That(listed.Select(s => (s.Id, s.RunId, s.Size, s.Verdict, s.Status)), Is.EqualTo(new[]
            {
                (id, _run.RunId, new FileInfo(_run.Bundle).Length, (VerdictStatus?)VerdictStatus.Pass, SubmissionStatus.Verified),
            }));
            foreach (var line in _run.KeyMaterial()) Assert.That(first.Out + first.Error + second.Out + second.Error, Does.Not.Contain(line));
        });
    }

    [TestCase(SubmissionStep.Checked)]
    [TestCase(SubmissionStep.ArchiveStored)]
    [TestCase(SubmissionStep.SignatureStored)]
    [TestCase(SubmissionStep.Recorded)]
    public async Task A_submission_cut_short_after_a_step_and_repeated_ends_as_one_clean_submission(SubmissionStep step)
    {
        using var workspace = new Workspace();
        var clean = await CleanSubmissionAsync(workspace.Path("clean"));
        var data = workspace.Path("data");
        using var key = SigningKeys.LoadPublic(_run.PublicKey);
        var cut = new SubmissionStore(data, Ledger(data))
        {
            AfterStep = (at, _) => at == step ? throw new OperationCanceledException($"cut short after {at}") : Task.CompletedTask,
        };
        Assert.ThrowsAsync<OperationCanceledException>(() => cut.SubmitAsync(_run.Bundle, _run.Bundle + ".sig", "acme", key, CancellationToken.None));
        // And a write cut short inside a step: half an archive in a temporary file, as a crash mid-copy leaves it.
        var id = BundleTestRun.Sha256(_run.Bundle);
        var bytes = File.ReadAllBytes(_run.Bundle);
        File.WriteAllBytes(Path.Combine(data, "submissions", $".{id}.tar.gz.0123456789abcdef.tmp"), bytes[..(bytes.Length / 2)]);

        var repeated = await SubmitAsync(data, "acme", withKey: true);

        BundleTestRun.Expect(repeated, ExitCodes.Pass);
        var submissions = await ListAsync(data, "acme");
        Assert.Multiple(() =>
        {
            Assert.That(repeated.Out, Does.Contain(id));
            Assert.That(repeated.Out, step == SubmissionStep.Recorded ? Does.StartWith("already submitted:") : Does.StartWith("submitted:"));
            Assert.That(StoredFiles(data), Is.EqualTo(StoredFiles(clean.Data)), "the same files as a clean submission, no temporary file left");
            Assert.That(BundleTestRun.Sha256(Path.Combine(data, "submissions", $"{id}.tar.gz")), Is.EqualTo(id));
            Assert.That(submissions.Select(s => s with { SubmittedAt = default }), Is.EqualTo(clean.Submissions.Select(s => s with { SubmittedAt = default })));
        });
    }

    [Test]
    public async Task A_stored_archive_with_the_wrong_bytes_is_replaced()
    {
        using var workspace = new Workspace();
        var data = workspace.Path("data");
        var id = BundleTestRun.Sha256(_run.Bundle);
        Directory.CreateDirectory(Path.Combine(data, "submissions"));
        File.WriteAllText(Path.Combine(data, "submissions", $"{id}.tar.gz"), "truncated by a tool that did not rename");

        BundleTestRun.Expect(await SubmitAsync(data, "acme", withKey: false), ExitCodes.Pass);

        Assert.That(BundleTestRun.Sha256(Path.Combine(data, "submissions", $"{id}.tar.gz")), Is.EqualTo(id));
        Assert.That((await ListAsync(data, "acme")).Single().Status, Is.EqualTo(SubmissionStatus.Received), "no key: received, not verified");
    }

    [Test]
    public async Task Submissions_are_listed_for_their_partner_only()
    {
        using var workspace = new Workspace();
        var data = workspace.Path("data");
        var other = workspace.Path("other.tar.gz");
        BundleTestRun.Expect(await _run.BundleAsync(other, _run.OtherKey), ExitCodes.Pass);
        BundleTestRun.Expect(await SubmitAsync(data, "acme", withKey: true), ExitCodes.Pass);

        var theirs = await BundleTestRun.Cli("submit", other, "--partner", "globex", "--key", _run.OtherPublicKey, "--data", data);
        var acmeText = await BundleTestRun.Cli("submissions", "--partner", "acme", "--data", data);
        var acme = await ListAsync(data, "acme");
        var globex = await ListAsync(data, "globex");
        var initech = await BundleTestRun.Cli("submissions", "--partner", "initech", "--data", data);

        BundleTestRun.Expect(theirs, ExitCodes.Pass);
        Assert.Multiple(() =>
        {
            Assert.That(acme.Select(s => s.Id), Is.EqualTo(new[] { BundleTestRun.Sha256(_run.Bundle) }));
            Assert.That(globex.Select(s => s.Id), Is.EqualTo(new[] { BundleTestRun.Sha256(other) }), "bundles of one run are the same archive, signed by either key");
            Assert.That(globex.Single().KeyId, Is.Not.EqualTo(acme.Single().KeyId));
            Assert.That(acmeText.Out, Does.Contain("1 submission(s) of partner acme").And.Contain(acme.Single().Id).And.Contain("verified"));
            Assert.That(initech.Out, Does.Contain("no submissions of partner initech"));
        });
    }

    [Test]
    public async Task A_bad_bundle_is_refused_and_nothing_is_stored()
    {
        using var workspace = new Workspace();
        var data = workspace.Path("data");
        var bundle = _run.CopyBundle("bad-submit.tar.gz");
        BundleTestArchive.Write(bundle, BundleTestArchive.Read(bundle).Where(e => e.Name != "junit.xml"));

        var result = await BundleTestRun.Cli("submit", bundle, "--partner", "acme", "--key", _run.PublicKey, "--data", data);
        var unkeyed = await BundleTestRun.Cli("submit", bundle, "--partner", "acme", "--data", data);

        BundleTestRun.Expect(result, 1);
        BundleTestRun.Expect(unkeyed, 1);
        Assert.Multiple(async () =>
        {
            Assert.That(result.Out, Does.Contain("file 'junit.xml' was removed").And.Contain("is not the signed one").And.Contain("nothing was stored"));
            Assert.That(unkeyed.Out, Does.Contain("file 'junit.xml' was removed"), "without a key the contents are still checked");
            Assert.That(StoredFiles(data), Is.Empty);
            Assert.That(await ListAsync(data, "acme"), Is.Empty);
        });
    }

    [Test]
    public async Task A_bundle_of_another_partner_is_refused()
    {
        using var workspace = new Workspace();
        var data = workspace.Path("data");
        // The bundle testgrid certify's run would give: the same outputs, its spec naming partner acme.
        var bundle = workspace.Path("acme.tar.gz");
        using (var key = SigningKeys.LoadPrivate(_run.Key))
        {
            var source = new BundleSource(_run.RunId, "acme", _run.Report.EndedAt!.Value, _run.Report.Verdict.Status,
                [.. _run.Report.Cells.Select(c => new BundleCell(c.Cell.Id, c.Cell.Name, c.State))], new Dictionary<string, string> { ["smoke"] = "x" }, _run.Output);
            await BundleWriter.WriteAsync(source, bundle, key, CancellationToken.None);
        }

        var wrong = await BundleTestRun.Cli("submit", bundle, "--partner", "globex", "--key", _run.PublicKey, "--data", data);
        var right = await BundleTestRun.Cli("submit", bundle, "--partner", "acme", "--key", _run.PublicKey, "--data", data);

        BundleTestRun.Expect(wrong, ExitCodes.InvalidInput);
        BundleTestRun.Expect(right, ExitCodes.Pass);
        Assert.Multiple(async () =>
        {
            Assert.That(wrong.Error, Does.Contain("expected a bundle of partner 'globex'").And.Contain("names partner 'acme'"));
            Assert.That(await ListAsync(data, "globex"), Is.Empty);
            Assert.That((await ListAsync(data, "acme")).Single().Id, Is.EqualTo(BundleTestRun.Sha256(bundle)));
            Assert.That(JsonDocument.Parse(BundleTestArchive.Read(bundle)[0].Data).RootElement.GetProperty("partner").GetString(), Is.EqualTo("acme"));
        });
    }

    [Test]
    public void A_partner_name_outside_its_alphabet_is_invalid_input()
    {
        Assert.Throws<InputException>(() => SubmissionStore.CheckPartner("acme/../globex"));
        Assert.DoesNotThrow(() => SubmissionStore.CheckPartner("Acme_Labs-2.eu"));
    }

    private Task<CliResult> SubmitAsync(string data, string partner, bool withKey) =>
        BundleTestRun.Cli(["submit", _run.Bundle, "--partner", partner, "--data", data, .. withKey ? new[] { "--key", _run.PublicKey } : []]);

    private static async Task<IReadOnlyList<LedgerSubmission>> ListAsync(string data, string partner)
    {
        var result = await BundleTestRun.Cli("submissions", "--partner", partner, "--data", data, "--output", "json");
        BundleTestRun.Expect(result, ExitCodes.Pass);
        return JsonSerializer.Deserialize(result.Out, CertificationJsonContext.Default.IReadOnlyListLedgerSubmission)!;
    }

    private async Task<(string Data, IReadOnlyList<LedgerSubmission> Submissions)> CleanSubmissionAsync(string data)
    {
        BundleTestRun.Expect(await SubmitAsync(data, "acme", withKey: true), ExitCodes.Pass);
        return (data, await ListAsync(data, "acme"));
    }

    /// <summary>The submissions folder's files (its lock file aside), sorted.</summary>
    private static List<string> StoredFiles(string data)
    {
        var folder = Path.Combine(data, "submissions");
        return Directory.Exists(folder)
            ? [.. Directory.EnumerateFiles(folder).Select(f => Path.GetFileName(f)).Where(n => n != ".lock").Order(StringComparer.Ordinal)]
            : [];
    }

    private static SqliteLedger Ledger(string data) => new(Path.Combine(data, SqliteLedger.FileName));
}
