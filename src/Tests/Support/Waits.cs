using System.Runtime.CompilerServices;

namespace TestGrid.Tests.Support;

public static class Waits
{
    /// <summary>
    /// Polls <paramref name="condition"/> every 200 ms; fails the test if it does not hold within <paramref name="within"/>,
    /// quoting the condition (its source text unless <paramref name="what"/> is given).
    /// </summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan within,
        [CallerArgumentExpression(nameof(condition))] string what = "")
    {
        var deadline = DateTime.UtcNow + within;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"condition not met within {within}: {what}");
            await Task.Delay(200);
        }
    }
}
