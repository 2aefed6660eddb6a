using Orleans.Storage;
using TestGrid.Tests.StorageProcess;

namespace TestGrid.Tests.Support;

/// <summary>
/// The ETag rules every grain storage of TestGrid keeps (SQLite, the silo's memory), as Orleans' durable providers do:
/// a write without an ETag inserts, one with the stored ETag updates, anything else is an
/// <see cref="InconsistentStateException"/> naming both; a clear keeps a version, so no ETag from before it matches again.
/// </summary>
public static class GrainStorageContract
{
    public static async Task KeepsTheEtagRulesAsync(IGrainStorage storage)
    {
        var grain = GrainId.Create("storagetest", "etags");
        var mine = new GrainState<StorageTestState>(new StorageTestState { Text = "one" });
        await storage.WriteStateAsync("s", grain, mine);
        Assert.That((mine.ETag, mine.RecordExists), Is.EqualTo(("1", true)));

        var late = new GrainState<StorageTestState>(new StorageTestState { Text = "late" });
        var insertConflict = Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("s", grain, late));
        Assert.That((insertConflict!.StoredEtag, insertConflict.CurrentEtag), Is.EqualTo(("1", (string?)null)), "an insert over a record conflicts");

        mine.State!.Text = "two";
        await storage.WriteStateAsync("s", grain, mine);
        Assert.That(mine.ETag, Is.EqualTo("2"));
        var stale = new GrainState<StorageTestState>(new StorageTestState()) { ETag = "1" };
        var updateConflict = Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("s", grain, stale));
        Assert.That((updateConflict!.StoredEtag, updateConflict.CurrentEtag), Is.EqualTo(("2", "1")));
        Assert.That(updateConflict.Message, Does.Contain("ETag 1").And.Contain("ETag 2"));
        Assert.ThrowsAsync<InconsistentStateException>(() => storage.ClearStateAsync("s", grain, stale));

        await storage.ClearStateAsync("s", grain, mine);
        Assert.That((mine.State!.Text, mine.RecordExists, mine.ETag), Is.EqualTo(((string?)null, false, "3")));
        var read = new GrainState<StorageTestState>(new StorageTestState());
        await storage.ReadStateAsync("s", grain, read);
        Assert.That((read.State!.Text, read.RecordExists, read.ETag), Is.EqualTo(((string?)null, false, "3")));

        var beforeClear = new GrainState<StorageTestState>(new StorageTestState { Text = "resurrected" }) { ETag = "2" };
        Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("s", grain, beforeClear),
            "an activation that read before the clear cannot write over it");
        Assert.ThrowsAsync<InconsistentStateException>(() => storage.WriteStateAsync("s", grain, new GrainState<StorageTestState>(new StorageTestState())),
            "a cleared record still exists for inserts: its version must be carried");
        read.State!.Text = "after clear";
        await storage.WriteStateAsync("s", grain, read);
        Assert.That(read.ETag, Is.EqualTo("4"));

        // Clearing what was never written is no conflict, and leaves no record.
        var nothing = new GrainState<StorageTestState>(new StorageTestState());
        await storage.ClearStateAsync("s", GrainId.Create("storagetest", "never"), nothing);
        Assert.That((nothing.RecordExists, nothing.ETag), Is.EqualTo((false, (string?)null)));

        // A missing record reads as the default state, no record and no ETag, whatever the state held before.
        var missing = new GrainState<StorageTestState>(new StorageTestState { Text = "stale", Count = 4 }) { ETag = "7", RecordExists = true };
        await storage.ReadStateAsync("s", GrainId.Create("storagetest", "missing"), missing);
        Assert.That((missing.State!.Text, missing.State!.Count, missing.RecordExists, missing.ETag), Is.EqualTo(((string?)null, 0, false, (string?)null)));
    }
}
