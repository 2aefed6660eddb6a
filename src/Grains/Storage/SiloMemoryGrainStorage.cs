using System.Collections.Concurrent;
using Orleans.Serialization;
using Orleans.Serialization.Serializers;
using Orleans.Storage;

namespace TestGrid.Engine.Storage;

/// <summary>
/// Grain state kept in this silo's memory, for a silo that is the whole cluster (the embedded engine's capacity, a
/// standalone silo without Azure Storage): it outlives an activation, not the process.
/// </summary>
/// <remarks>
/// A write keeps a deep copy of the state made with Orleans' copiers (the codecs' twins: [Immutable] values such as
/// leases are shared, not copied) and a read hands out another copy, so neither the stored state nor an activation's
/// sees the other's later changes. Orleans' own memory storage serializes every write to bytes and sends it to a
/// storage grain: a capacity grain holding 5,000 leases spent 14 % of a 10,000-cell run's CPU there. ETags are versions
/// (1, 2, …) checked as a durable storage checks them: a write or clear with another ETag than the stored one is an
/// <see cref="InconsistentStateException"/>.
/// </remarks>
public sealed class SiloMemoryGrainStorage(string name, DeepCopier copier, IActivatorProvider activators) : IGrainStorage
{
    private sealed record Stored(object? State, long Version);

    private readonly ConcurrentDictionary<(string State, GrainId Grain), Stored> _states = new();

    public string Name { get; } = name;

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        if (_states.TryGetValue((stateName, grainId), out var stored) && stored.State is T state)
        {
            grainState.State = copier.Copy(state);
            grainState.RecordExists = true;
            grainState.ETag = ETag(stored.Version);
        }
        else
        {
            grainState.State = activators.GetActivator<T>().Create();
            grainState.RecordExists = false;
            grainState.ETag = stored is null ? null : ETag(stored.Version);
        }
        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        var version = Replace(stateName, grainId, grainState.ETag, copier.Copy(grainState.State), "write");
        grainState.ETag = ETag(version);
        grainState.RecordExists = true;
        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        ArgumentNullException.ThrowIfNull(grainState);
        grainState.State = activators.GetActivator<T>().Create();
        grainState.RecordExists = false;
        // Clearing what was never written leaves nothing; else a version with no state is kept, so that an ETag from
        // before the clear never matches again.
        if (grainState.ETag is null && !_states.ContainsKey((stateName, grainId))) return Task.CompletedTask;
        grainState.ETag = ETag(Replace(stateName, grainId, grainState.ETag, null, "clear"));
        return Task.CompletedTask;
    }

    /// <summary>Stores <paramref name="state"/> as the next version if <paramref name="etag"/> is the stored one (none: no record yet).</summary>
    private long Replace(string stateName, GrainId grainId, string? etag, object? state, string operation)
    {
        var key = (stateName, grainId);
        while (true)
        {
            var current = _states.GetValueOrDefault(key);
            var held = current is null ? null : ETag(current.Version);
            if (held != etag)
            {
                throw new InconsistentStateException(
                    $"ETag conflict: grain storage '{Name}' could not {operation} state '{stateName}' of {grainId}: the activation holds ETag {etag ?? "none"} " +
                    $"but the silo's memory holds {(held is null ? "no record" : $"ETag {held}")}; another activation changed it since this one read it",
                    held, etag);
            }
            var next = new Stored(state, (current?.Version ?? 0) + 1);
            if (current is null ? _states.TryAdd(key, next) : _states.TryUpdate(key, next, current)) return next.Version;
        }
    }

    private static string ETag(long version) => version.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
