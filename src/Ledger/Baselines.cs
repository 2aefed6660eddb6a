using TestGrid.Matrix;
using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Ledger;

/// <summary>Reads what boot-time baselines need from the ledger: each metric's values on earlier runs, per image family × SKU of the run.</summary>
public static class Baselines
{
    public static async Task<IReadOnlyDictionary<BaselineKey, IReadOnlyList<double>>?> LoadAsync(IResultLedger ledger, string runId,
        IEnumerable<CellReport> cells, PolicyDefinition policy, CancellationToken cancellationToken)
    {
        if (policy.Baselines is not { } rules) return null;
        var history = new Dictionary<BaselineKey, IReadOnlyList<double>>();
        foreach (var (family, sku) in cells.Select(c => (c.Cell.Image.Family, c.Cell.Sku.Name)).Distinct())
        {
            var samples = await ledger.GetMetricHistoryAsync(family, sku, runId, rules.Window, cancellationToken).ConfigureAwait(false);
            foreach (var metric in rules.Metrics)
                history[new BaselineKey(family, sku, metric)] = [.. samples.Where(s => s.Metrics.ContainsKey(metric)).Select(s => s.Metrics[metric])];
        }
        return history;
    }
}
