using System.Text.RegularExpressions;

namespace TestGrid.Matrix;

/// <summary>An include or exclude rule: every field given must match (names, or globs with <c>*</c> and <c>?</c>).</summary>
public sealed record CellRule(string? Image = null, string? Sku = null, string? Region = null)
{
    public bool Matches(string image, string sku, string region) =>
        Glob.Matches(Image, image) && Glob.Matches(Sku, sku) && Glob.Matches(Region, region);
}

/// <summary>Shell-style name matching with <c>*</c> and <c>?</c>; an absent pattern matches everything.</summary>
public static class Glob
{
    public static bool IsPattern(string text) => text.AsSpan().IndexOfAny('*', '?') >= 0;

    public static bool Matches(string? pattern, string value)
    {
        if (pattern is null) return true;
        if (!IsPattern(pattern)) return string.Equals(pattern, value, StringComparison.Ordinal);
        var regex = "^" + Regex.Escape(pattern).Replace("\\*", ".*", StringComparison.Ordinal).Replace("\\?", ".", StringComparison.Ordinal) + "$";
        return Regex.IsMatch(value, regex, RegexOptions.CultureInvariant, TimeSpan.FromSeconds(1));
    }
}
