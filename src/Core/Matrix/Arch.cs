using System.Text.Json.Serialization;

namespace TestGrid.Matrix;

/// <summary>CPU architecture of an image, a SKU or a host.</summary>
public enum Arch
{
    [JsonStringEnumMemberName("x64")] X64,
    [JsonStringEnumMemberName("arm64")] Arm64,
}

public static class ArchNames
{
    /// <summary>The name used in every file and report: <c>x64</c> or <c>arm64</c>.</summary>
    public static string Name(this Arch arch) => arch switch
    {
        Arch.X64 => "x64",
        Arch.Arm64 => "arm64",
        _ => throw new ArgumentOutOfRangeException(nameof(arch), arch, null),
    };
}
