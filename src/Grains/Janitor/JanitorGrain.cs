using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using TestGrid.Plan;
using TestGrid.Provision;
using TestGrid.Results;

namespace TestGrid.Engine.Janitor;

[GenerateSerializer, Alias("testgrid.janitor-state")]
public sealed class JanitorGrainState
{
    [Id(0)] public ProviderSpec? Provider { get; set; }
    [Id(1)] public DateTimeOffset? LastSweep { get; set; }
}

/// <summary>
/// Sweeps expired resources of one provider configuration on a reminder. The configuration is persisted with the
/// grain, so whichever silo the reminder wakes it on can sweep, including after the silo that made the resources died.
/// </summary>
public sealed partial class JanitorGrain(
    [PersistentState("janitor", TestGridStorage.Name)] IPersistentState<JanitorGrainState> state,
    IProviderFactory providers,
    ILogger<JanitorGrain> logger) : Grain, IJanitorGrain, IRemindable
{
    private const string Reminder = "sweep";

    public async Task WatchAsync(ProviderSpec provider)
    {
        if (state.State.Provider != provider)
        {
            state.State.Provider = provider;
            await state.WriteStateAsync();
        }
        await this.RegisterOrUpdateReminder(Reminder, IJanitorGrain.Period, IJanitorGrain.Period);
    }

    public async Task<ImmutableArray<LeftOver>> SweepAsync(bool dryRun)
    {
        if (state.State.Provider is not { } spec) return [];
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(9));
        var provider = providers.Create(spec);
        var swept = await Task.Run(() => provider.SweepAsync(DateTimeOffset.UtcNow, dryRun, limit.Token), CancellationToken.None);
        foreach (var item in swept) LogSwept(logger, provider.Name, item.Id, item.Run, item.State);
        if (!dryRun)
        {
            state.State.LastSweep = DateTimeOffset.UtcNow;
            await state.WriteStateAsync();
        }
        return [.. swept];
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        try
        {
            await SweepAsync(dryRun: false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The next tick tries again; a reminder must not die of one bad sweep.
            LogSweepFailed(logger, e, this.GetPrimaryKeyString());
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "reaper {Provider}: {Id} of run {Run}: {State}")]
    private static partial void LogSwept(ILogger logger, string provider, string id, string? run, string state);

    [LoggerMessage(Level = LogLevel.Warning, Message = "reaper {Key}: the sweep failed")]
    private static partial void LogSweepFailed(ILogger logger, Exception exception, string key);
}
