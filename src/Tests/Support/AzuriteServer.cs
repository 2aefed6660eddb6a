using TestGrid.Testing;

namespace TestGrid.Tests.Support;

/// <summary>Starts the real Azurite the storage tests need (<see cref="AzuriteProcess"/>), or skips them, saying why.</summary>
public static class AzuriteServer
{
    /// <summary>Azurite is required when TESTGRID_REQUIRE_AZURITE=1 (CI): then its absence fails tests instead of skipping them.</summary>
    public static bool Required => Environment.GetEnvironmentVariable("TESTGRID_REQUIRE_AZURITE") == "1";

    /// <summary>Starts Azurite (tables and blobs, in memory); skips the calling test (fails it when required) when it is not installed.</summary>
    public static async Task<AzuriteProcess> StartAsync()
    {
        if (AzuriteProcess.FindBinary() is null)
        {
            var message = $"these tests need Azurite {AzuriteProcess.Version} and it is neither in {AzuriteProcess.Folder} nor on PATH: " +
                          "run scripts/setup.sh to install it; set TESTGRID_REQUIRE_AZURITE=1 to make this a failure.";
            if (Required) Assert.Fail(message);
            Assert.Ignore(message);
        }
        return await AzuriteProcess.StartAsync();
    }
}
