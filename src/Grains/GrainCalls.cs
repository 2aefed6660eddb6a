using Polly;
using Polly.Retry;

namespace TestGrid.Engine;

/// <summary>
/// Calls to another grain that may meet a silo which has died but is not yet declared dead (a connection refused, a
/// message rejected, a timeout): retried with backoff for about a minute and a half, longer than the cluster takes to
/// declare a dead silo dead (about 12 s with Orleans' defaults), after which the grain is reached on a live silo. Also
/// a callee whose state write lost to another activation's (a grain moving off a silo that shuts down): Orleans
/// deactivates it, and the retry reaches a new activation that read the latest state. And a callee whose activation was
/// cancelled (its silo stopping or killed): the caller gets a TaskCanceledException of the callee's, never its own (the
/// calls take no cancellation token), and the retry reaches a new activation. The calls retried are
/// idempotent (a lease's id is its request's). Continuations stay on the calling grain's scheduler.
/// </summary>
internal static class GrainCalls
{
    private static readonly ResiliencePipeline Pipeline = new ResiliencePipelineBuilder()
        .AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<OrleansMessageRejectionException>().Handle<SiloUnavailableException>().Handle<TimeoutException>()
                .Handle<Orleans.Storage.InconsistentStateException>().Handle<TaskCanceledException>(),
            MaxRetryAttempts = 12,
            Delay = TimeSpan.FromSeconds(1),
            MaxDelay = TimeSpan.FromSeconds(10),
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
        })
        .Build();

    public static async Task<T> RetryAsync<T>(Func<Task<T>> call)
    {
        var context = ResilienceContextPool.Shared.Get(continueOnCapturedContext: true);
        try
        {
            return await Pipeline.ExecuteAsync(async _ => await call(), context);
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    public static Task RetryAsync(Func<Task> call) => RetryAsync(async () =>
    {
        await call();
        return true;
    });
}
