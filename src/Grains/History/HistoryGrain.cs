using System.Collections.Immutable;
using Orleans.Concurrency;
using TestGrid.History;
using TestGrid.Ledger;

namespace TestGrid.Engine.History;

/// <summary>
/// Answers history reads from the silo's results ledger (SQLite embedded, Azure Tables in a cluster). A stateless
/// worker: activated where it is called, as many at once as reads need, nothing to keep between calls.
/// </summary>
[StatelessWorker]
public sealed class HistoryGrain(IResultLedger ledger) : Grain, IHistoryGrain
{
    public async Task<ImmutableArray<TestHistoryEntry>> GetTestHistoryAsync(TestHistoryQuery query, CancellationToken cancellationToken) =>
        [.. await ledger.GetTestHistoryAsync(query, cancellationToken)];

    public async Task<ImmutableArray<CellHistoryEntry>> GetCellHistoryAsync(string cellName, DateTimeOffset? since, int limit, CancellationToken cancellationToken) =>
        [.. await ledger.GetCellHistoryAsync(cellName, since, limit, cancellationToken)];

    public async Task<bool> IsRunRecordedAsync(string runId, CancellationToken cancellationToken) =>
        await ledger.GetRunSummaryAsync(runId, cancellationToken) is not null;
}
