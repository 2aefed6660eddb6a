using System.Collections.Immutable;
using TestGrid.Results;

namespace TestGrid.Tests.StorageProcess;

/// <summary>A grain whose one persistent state goes to the "test" storage provider: what the storage tests drive.</summary>
public interface IStorageTestGrain : IGrainWithStringKey
{
    /// <summary>The state as this activation holds it.</summary>
    Task<StorageTestSnapshot> GetAsync();

    /// <summary>Reads the state from storage again (what another process wrote), then returns it.</summary>
    Task<StorageTestSnapshot> ReloadAsync();

    /// <summary>Replaces the state's values and writes it.</summary>
    Task<StorageTestSnapshot> SetAsync(string? text, byte[] blob, ImmutableArray<AttemptResult> attempts);

    /// <summary>Adds one to the count, fills the blob with <see cref="StorageTestState.Pattern"/> of the new count, writes.</summary>
    Task<int> IncrementAsync(int blobBytes);

    Task ClearAsync();

    /// <summary>Ends this activation once the call returns: the next call activates it again and reads storage.</summary>
    Task DeactivateAsync();
}

[GenerateSerializer, Alias("testgrid.tests.storage-state")]
public sealed class StorageTestState
{
    [Id(0)] public string? Text { get; set; }
    [Id(1)] public int Count { get; set; }
    [Id(2)] public byte[] Blob { get; set; } = [];

    /// <summary>A domain value (through the JSON codec) with lists made by collection expressions, as the real grains hold.</summary>
    [Id(3)] public ImmutableArray<AttemptResult> Attempts { get; set; } = [];

    /// <summary>The blob a count writes: a torn or stale write shows as a blob that does not match its count.</summary>
    public static byte[] Pattern(int count, int bytes)
    {
        var blob = new byte[bytes];
        for (var i = 0; i < blob.Length; i++) blob[i] = (byte)(count * 31 + i);
        return blob;
    }
}

[GenerateSerializer, Immutable, Alias("testgrid.tests.storage-snapshot")]
public sealed record StorageTestSnapshot(
    [property: Id(0)] string? Text,
    [property: Id(1)] int Count,
    [property: Id(2)] byte[] Blob,
    [property: Id(3)] ImmutableArray<AttemptResult> Attempts,
    [property: Id(4)] bool RecordExists,
    [property: Id(5)] string? ETag);

public sealed class StorageTestGrain([PersistentState("s", StorageTestGrain.StorageName)] IPersistentState<StorageTestState> state)
    : Grain, IStorageTestGrain
{
    public const string StorageName = "test";

    public Task<StorageTestSnapshot> GetAsync() => Task.FromResult(Snapshot());

    public async Task<StorageTestSnapshot> ReloadAsync()
    {
        await state.ReadStateAsync();
        return Snapshot();
    }

    public async Task<StorageTestSnapshot> SetAsync(string? text, byte[] blob, ImmutableArray<AttemptResult> attempts)
    {
        state.State.Text = text;
        state.State.Blob = blob;
        state.State.Attempts = attempts;
        await state.WriteStateAsync();
        return Snapshot();
    }

    public async Task<int> IncrementAsync(int blobBytes)
    {
        state.State.Count++;
        state.State.Blob = StorageTestState.Pattern(state.State.Count, blobBytes);
        await state.WriteStateAsync();
        return state.State.Count;
    }

    public Task ClearAsync() => state.ClearStateAsync();

    public Task DeactivateAsync()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    private StorageTestSnapshot Snapshot() =>
        new(state.State.Text, state.State.Count, state.State.Blob, state.State.Attempts, state.RecordExists, state.Etag);
}
