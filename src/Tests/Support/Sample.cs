using System.Text.Json;
using TestGrid.Matrix;
using TestGrid.Plan;

namespace TestGrid.Tests.Support;

/// <summary>Domain values for unit tests.</summary>
public static class Sample
{
    /// <summary>A cell <c>img/{sku}/r</c> with id <c>id-{sku}</c>.</summary>
    public static Cell Cell(string sku) => new()
    {
        Id = $"id-{sku}",
        Name = $"img/{sku}/r",
        Image = new CellImage { Id = "img", Family = "debian", Arch = Arch.X64, Source = JsonDocument.Parse("{}").RootElement },
        Sku = new SkuDefinition(sku, Arch.X64, 2, 4),
        Region = "r",
        Provider = "static",
        Suites = [],
    };
}
