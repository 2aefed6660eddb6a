using TestGrid.Provision;

namespace TestGrid.Tests.Support;

/// <summary>An attempt log that writes to the test's output, for tests that drive a provider directly.</summary>
public sealed class TestOutputLog : IAttemptLog
{
    public void Write(string message) => TestContext.Out.WriteLine(message);
}
