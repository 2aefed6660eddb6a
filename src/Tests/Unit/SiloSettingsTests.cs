using TestGrid.Silo;

namespace TestGrid.Tests.Unit;

/// <summary>How long a silo's cells may take to hand over when Orleans deactivates them, from its shutdown timeout.</summary>
[TestFixture]
public sealed class SiloSettingsTests
{
    [TestCase("00:10:00", "00:09:00", TestName = "The default shutdown leaves a minute for the rest of the stop")]
    [TestCase("00:00:10", "00:00:30", TestName = "A short shutdown (the soak's) keeps Orleans' own 30 s for deactivations it does not bound")]
    [TestCase("00:01:20", "00:00:30", TestName = "A minute less than a short shutdown is never below Orleans' own 30 s")]
    public void Handover_timeout_follows_the_shutdown_timeout(string shutdown, string handover) =>
        Assert.That(new SiloSettings { ShutdownTimeout = TimeSpan.Parse(shutdown, System.Globalization.CultureInfo.InvariantCulture) }.HandoverTimeout,
            Is.EqualTo(TimeSpan.Parse(handover, System.Globalization.CultureInfo.InvariantCulture)));
}
