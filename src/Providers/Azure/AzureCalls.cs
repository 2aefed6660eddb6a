using Azure;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.ResourceManager;
using Polly;
using Polly.Retry;

namespace TestGrid.Azure;

/// <summary>What one attempt spent on Resource Manager: calls sent (retries included) and retries taken.</summary>
public sealed class AzureCallCount
{
    private int _calls;
    private int _retries;

    public int Calls => _calls;
    public int Retries => _retries;

    internal void Call() => Interlocked.Increment(ref _calls);

    internal void Retry() => Interlocked.Increment(ref _retries);

    /// <summary>The counter calls made in this async flow are charged to.</summary>
    internal static AsyncLocal<AzureCallCount?> Current { get; } = new();

    /// <summary>Charges the calls of the current async flow (and what it awaits) to <paramref name="count"/>.</summary>
    public static void Begin(AzureCallCount count) => Current.Value = count;
}

/// <summary>
/// Resource Manager calls with one retry policy: the SDK's own retries are off (<see cref="AzureArm.Create"/>) and
/// Polly retries throttling (honouring <c>Retry-After</c>) and transient failures with exponential backoff and jitter;
/// everything else surfaces at once, classified. Long-running operations are polled here too, so a transient error
/// while polling is retried instead of failing the attempt.
/// </summary>
public sealed class AzureCalls
{
    private static readonly TimeSpan MinPoll = TimeSpan.FromSeconds(1);
    private readonly ResiliencePipeline _pipeline;

    public AzureCalls(TimeSpan baseDelay, int maxRetries = 6)
    {
        _pipeline = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<RequestFailedException>(AzureFaults.IsRetryable),
            MaxRetryAttempts = maxRetries,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = baseDelay,
            MaxDelay = TimeSpan.FromMinutes(1),
            DelayGenerator = args => ValueTask.FromResult(args.Outcome.Exception is RequestFailedException e ? AzureFaults.RetryAfter(e) : null),
            OnRetry = args =>
            {
                AzureCallCount.Current.Value?.Retry();
                return ValueTask.CompletedTask;
            },
        }).Build();
    }

    /// <summary>Runs one call, retrying what is retryable.</summary>
    public async Task<T> RunAsync<T>(Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken) =>
        await _pipeline.ExecuteAsync(async token => await call(token).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    public async Task RunAsync(Func<CancellationToken, Task> call, CancellationToken cancellationToken) =>
        await _pipeline.ExecuteAsync(async token => await call(token).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Polls a started long-running operation to its end, at the interval the service asks for (<c>Retry-After</c>),
    /// else <paramref name="interval"/>; never more often than once a second.
    /// </summary>
    public async Task WaitAsync(Operation operation, TimeSpan interval, CancellationToken cancellationToken)
    {
        // An answer without Azure-AsyncOperation or Location is already final (a synchronous 200/201/204): reading it
        // costs no call and no wait.
        if (operation.GetRawResponse() is { } first && !first.Headers.Contains("Azure-AsyncOperation") && !first.Headers.Contains("Location"))
            await operation.UpdateStatusAsync(cancellationToken).ConfigureAwait(false);
        while (!operation.HasCompleted)
        {
            var asked = operation.GetRawResponse() is { } response && response.Headers.TryGetValue("Retry-After", out var value)
                && int.TryParse(value, System.Globalization.CultureInfo.InvariantCulture, out var seconds) ? TimeSpan.FromSeconds(seconds) : interval;
            await Task.Delay(asked < MinPoll ? MinPoll : asked, cancellationToken).ConfigureAwait(false);
            await RunAsync(async token => await operation.UpdateStatusAsync(token).ConfigureAwait(false), cancellationToken).ConfigureAwait(false);
        }
    }
}

/// <summary>Counts every request the ARM client sends (retries included), charged to the current <see cref="AzureCallCount"/>.</summary>
internal sealed class CallCountingPolicy : HttpPipelineSynchronousPolicy
{
    public override void OnSendingRequest(HttpMessage message) => AzureCallCount.Current.Value?.Call();
}
