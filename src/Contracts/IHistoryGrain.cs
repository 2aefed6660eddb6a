using System.Collections.Immutable;
using Orleans.Concurrency;
using TestGrid.History;

namespace TestGrid.Engine;

/// <summary>
/// Reads the results ledger's histories for clients, so that <c>testgrid history</c> reads the same way from an
/// embedded engine or a cluster (whose ledger the client cannot open itself). Stateless: any silo answers from the
/// ledger it is configured with. Key: <see cref="Key"/>. The query and the entries are domain values (Orleans' JSON codec).
/// </summary>
[Alias("testgrid.history")]
public interface IHistoryGrain : IGrainWithIntegerKey
{
    /// <summary>The one key: the grain holds nothing, every activation is alike.</summary>
    const long Key = 0;

    /// <summary>One test's history as <paramref name="query"/> narrows it, newest first (see the ledger's <c>GetTestHistoryAsync</c>).</summary>
    [Alias("test-history"), ReadOnly]
    Task<ImmutableArray<TestHistoryEntry>> GetTestHistoryAsync(TestHistoryQuery query, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every attempt of the cells named <paramref name="cellName"/> (<c>image/sku/region</c>) across runs, newest first,
    /// started at or after <paramref name="since"/> when given, at most <paramref name="limit"/>.
    /// </summary>
    [Alias("cell-history"), ReadOnly]
    Task<ImmutableArray<CellHistoryEntry>> GetCellHistoryAsync(string cellName, DateTimeOffset? since, int limit, CancellationToken cancellationToken = default);

    /// <summary>
    /// Whether the ledger holds a run of this id: a read of its summary row that, unlike asking the run's grain, does
    /// not activate the run (an embedded engine resumes the runs it activates).
    /// </summary>
    [Alias("run-recorded"), ReadOnly]
    Task<bool> IsRunRecordedAsync(string runId, CancellationToken cancellationToken = default);
}
