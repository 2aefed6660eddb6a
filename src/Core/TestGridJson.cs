using System.Text.Json;
using System.Text.Json.Serialization;
using TestGrid.Azure;
using TestGrid.History;
using TestGrid.Inventory;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Reports;
using TestGrid.Results;
using TestGrid.Suites;

namespace TestGrid;

/// <summary>
/// The one JSON contract of the domain, source-generated: input files, <c>plan --output json</c>, <c>verdict.json</c>,
/// <c>history --output json</c>, and (through Orleans' JSON codec) the domain values that travel between grains.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    ReadCommentHandling = JsonCommentHandling.Skip,
    AllowTrailingCommas = true,
    WriteIndented = true)]
[JsonSerializable(typeof(MatrixDefinition))]
[JsonSerializable(typeof(SkuCatalog))]
[JsonSerializable(typeof(PolicyDefinition))]
[JsonSerializable(typeof(TestGrid.Certification.CertificationSpec))]
[JsonSerializable(typeof(TestGrid.Certification.HardwareFacts))]
[JsonSerializable(typeof(SuiteDocument))]
[JsonSerializable(typeof(SuitePackage))]
[JsonSerializable(typeof(HostInventory))]
[JsonSerializable(typeof(AzureSettings))]
[JsonSerializable(typeof(RunPlan))]
[JsonSerializable(typeof(CapacityPlan))]
[JsonSerializable(typeof(ProviderSpec))]
[JsonSerializable(typeof(RunReport))]
[JsonSerializable(typeof(AttemptResult))]
[JsonSerializable(typeof(CellReport))]
[JsonSerializable(typeof(Verdict.RunVerdict))]
[JsonSerializable(typeof(IReadOnlyList<Input.InputError>))]
[JsonSerializable(typeof(IReadOnlyList<LeftOver>))]
[JsonSerializable(typeof(TestHistoryQuery))]
[JsonSerializable(typeof(IReadOnlyList<TestHistoryEntry>))]
[JsonSerializable(typeof(IReadOnlyList<CellHistoryEntry>))]
[JsonSerializable(typeof(TestHistoryReport))]
[JsonSerializable(typeof(CellHistoryReport))]
public sealed partial class TestGridJsonContext : JsonSerializerContext;

public static class TestGridJson
{
    /// <summary>Options over <see cref="TestGridJsonContext"/>; what Orleans' JSON codec is configured with.</summary>
    public static JsonSerializerOptions Options => TestGridJsonContext.Default.Options;
}
