using TestGrid.Plan;
using TestGrid.Results;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Unit;

/// <summary>The start order of a run with an earlier run's durations: longest first, cells without one first of all.</summary>
public sealed class DispatchOrderUnitTests
{
    [Test]
    public void Cells_start_longest_first_with_unknown_cells_first_and_plan_order_among_equals()
    {
        var cells = new[] { "a", "b", "c", "d", "e", "f" }.Select(Sample.Cell).ToList();
        var expected = new Dictionary<string, TimeSpan>
        {
            ["img/a/r"] = TimeSpan.FromMinutes(3),
            ["img/b/r"] = TimeSpan.FromMinutes(9),
            ["img/d/r"] = TimeSpan.FromMinutes(3),
            ["img/f/r"] = TimeSpan.FromMinutes(5),
            ["img/gone/r"] = TimeSpan.FromMinutes(60),
        };

        var order = DispatchOrder.LongestFirst(cells, expected);

        Assert.That(order.Select(c => c.Sku.Name), Is.EqualTo(new[] { "c", "e", "b", "f", "a", "d" }));
        Assert.That(DispatchOrder.LongestFirst(cells, new Dictionary<string, TimeSpan>()), Is.EqualTo(cells), "no durations: plan order");
    }

    [Test]
    public void A_cell_is_expected_to_take_what_its_last_completed_attempt_took_else_its_longest_attempt()
    {
        Assert.Multiple(() =>
        {
            Assert.That(DispatchOrder.ExpectedDuration([]), Is.Null);
            Assert.That(DispatchOrder.ExpectedDuration([Attempt(1, AttemptOutcome.Completed, 100), Attempt(2, AttemptOutcome.InfrastructureError, 900), Attempt(3, AttemptOutcome.Completed, 300)]),
                Is.EqualTo(TimeSpan.FromSeconds(300)));
            Assert.That(DispatchOrder.ExpectedDuration([Attempt(1, AttemptOutcome.InfrastructureError, 40), Attempt(2, AttemptOutcome.Cancelled, 70)]),
                Is.EqualTo(TimeSpan.FromSeconds(70)));
        });
    }

    private static AttemptResult Attempt(int number, AttemptOutcome outcome, int seconds) => new()
    {
        Number = number,
        AttemptId = $"a{number}",
        Outcome = outcome,
        StartedAt = DateTimeOffset.UnixEpoch.AddHours(number),
        EndedAt = DateTimeOffset.UnixEpoch.AddHours(number).AddSeconds(seconds),
    };
}
