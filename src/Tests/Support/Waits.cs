namespace TestGrid.Tests.Support;

public static class Waits
{
    /// <summary>Polls <paramref name="condition"/> every 200 ms; fails the test if it does not hold within <paramref name="within"/>.</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan within)
    {
        var deadline = DateTime.UtcNow + within;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"condition not met within {within}");
            await Task.Delay(200);
        }
    }
}
