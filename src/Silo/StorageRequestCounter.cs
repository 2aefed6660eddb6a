using System.Diagnostics.Metrics;

namespace TestGrid.Silo;

/// <summary>
/// Counts the HTTP requests this process sends (the <c>System.Net.Http</c> meter's <c>http.client.request.duration</c>,
/// one measurement per request, retries included), for the benchmarks' "storage requests per cell": a silo on the
/// simulated cloud talks HTTP to nothing but its Azure Storage account (membership, reminders, grain state, the
/// ledger), so each is a storage transaction, what the account bills and what the storage service must serve.
/// Served with the grain calls on <c>/simulation/counters</c> (Program.cs).
/// </summary>
public sealed class StorageRequestCounter : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _count;

    public StorageRequestCounter()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument is { Meter.Name: "System.Net.Http", Name: "http.client.request.duration" }) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref _count));
        _listener.Start();
    }

    /// <summary>Requests that ended (answered or failed) since the silo started.</summary>
    public long Count => Interlocked.Read(ref _count);

    public void Dispose() => _listener.Dispose();
}
