using System.Text.Json.Serialization;
using TestGrid.Certification.Bundles;
using TestGrid.Ledger;

namespace TestGrid.Certification;

/// <summary>
/// The JSON of certification's outputs, source-generated: a bundle's <c>manifest.json</c>, its detached signature, and
/// <c>testgrid submissions --output json</c>. Nulls are written (a manifest says <c>"partner": null</c>, not nothing).
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    UseStringEnumConverter = true,
    WriteIndented = true)]
[JsonSerializable(typeof(BundleManifest))]
[JsonSerializable(typeof(BundleSignature))]
[JsonSerializable(typeof(IReadOnlyList<LedgerSubmission>))]
public sealed partial class CertificationJsonContext : JsonSerializerContext;
