using System.Text;
using TestGrid.Plan;

namespace TestGrid.Attempts.Artifacts;

/// <summary>
/// Where a run's files go below its output folder:
/// <c>verdict.json</c>, <c>junit.xml</c>, <c>summary.md</c>, and <c>cells/&lt;name&gt;-&lt;id&gt;/attempt-&lt;n&gt;/</c> with
/// <c>attempt.log</c>, <c>result.json</c> and <c>tests/&lt;suite&gt;/&lt;test&gt;.log</c>.
/// </summary>
public static class ArtifactLayout
{
    public static string CellFolder(Cell cell) => $"cells/{Sanitize(cell.Name)}-{cell.Id}";

    public static string AttemptFolder(Cell cell, int attempt) => $"{CellFolder(cell)}/attempt-{attempt}";

    /// <summary>A test's log; a same-machine rerun of a failure (<paramref name="rerun"/> &gt; 0) has its own.</summary>
    public static string TestLog(string attemptFolder, string suite, string test, int rerun = 0) =>
        $"{attemptFolder}/tests/{suite}/{Sanitize(test)}{(rerun == 0 ? "" : $".rerun-{rerun}")}.log";

    public static string Sanitize(string name)
    {
        var text = new StringBuilder(name.Length);
        foreach (var c in name) text.Append(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' ? c : '_');
        return text.ToString();
    }
}
