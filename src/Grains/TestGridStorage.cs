namespace TestGrid.Engine;

/// <summary>The grain storage provider the grains persist to.</summary>
public static class TestGridStorage
{
    public const string Name = "testgrid";
}
