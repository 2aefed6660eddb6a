using System.Globalization;
using System.Text;
using System.Xml;
using TestGrid.Results;

namespace TestGrid.Reports;

/// <summary>
/// JUnit XML as Azure Pipelines (PublishTestResults, JUnit format) and GitHub test reporters read it: one
/// <c>testsuite</c> per cell, one <c>testcase</c> per test of the cell's latest attempt. Advisory failures are
/// <c>failure</c>s of type <c>advisory</c> (the verdict and exit code are what gate); a cell without a result
/// has one <c>error</c> test case that says why.
/// </summary>
public static class JUnitReport
{
    public static void Write(RunReport report, Stream output)
    {
        using var xml = XmlWriter.Create(output, new XmlWriterSettings { Indent = true, Encoding = new UTF8Encoding(false) });
        var cells = report.Cells.Select(c => (Cell: c, Cases: Cases(c))).ToList();
        xml.WriteStartDocument();
        xml.WriteStartElement("testsuites");
        xml.WriteAttributeString("name", report.Matrix);
        WriteCounts(xml, cells.SelectMany(c => c.Cases).ToList());
        xml.WriteAttributeString("time", Seconds((report.EndedAt ?? report.StartedAt) - report.StartedAt));
        foreach (var (cell, cases) in cells)
        {
            var latest = cell.Latest;
            xml.WriteStartElement("testsuite");
            xml.WriteAttributeString("name", cell.Cell.Name);
            xml.WriteAttributeString("id", cell.Cell.Id);
            WriteCounts(xml, cases);
            xml.WriteAttributeString("time", Seconds(latest is null ? TimeSpan.Zero : latest.EndedAt - latest.StartedAt));
            xml.WriteAttributeString("timestamp", (latest?.StartedAt ?? report.StartedAt).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture));
            if (latest?.Machine is not null) xml.WriteAttributeString("hostname", Clean(latest.Machine));
            xml.WriteStartElement("properties");
            Property(xml, "cell.id", cell.Cell.Id);
            Property(xml, "image", cell.Cell.Image.Id);
            Property(xml, "family", cell.Cell.Image.Family);
            Property(xml, "arch", cell.Cell.Arch.ToString().ToLowerInvariant());
            Property(xml, "sku", cell.Cell.Sku.Name);
            Property(xml, "region", cell.Cell.Region);
            Property(xml, "provider", cell.Cell.Provider);
            Property(xml, "attempts", cell.Attempts.Count.ToString(CultureInfo.InvariantCulture));
            xml.WriteEndElement();
            foreach (var testCase in cases) testCase.Write(xml, cell.Cell.Name);
            xml.WriteEndElement();
        }
        xml.WriteEndElement();
        xml.WriteEndDocument();
    }

    private static List<Case> Cases(CellReport cell)
    {
        var latest = cell.Latest;
        if (latest is { Outcome: AttemptOutcome.Completed })
            return latest.Tests.Select(t => new Case(t.Id, t.Duration, t.Outcome switch
            {
                TestOutcome.Passed => CaseKind.Passed,
                TestOutcome.Skipped => CaseKind.Skipped,
                TestOutcome.Error => CaseKind.Error,
                _ => CaseKind.Failed,
            }, t.Outcome == TestOutcome.TimedOut ? "timed-out" : t.Blocking ? "failed" : "advisory", t.Reason, t.Output?.Text)).ToList();

        var message = latest is null ? cell.Reason ?? "no attempt ran"
            : latest.Outcome == AttemptOutcome.Cancelled ? "cancelled"
            : $"{latest.ErrorKind}: {latest.Error}";
        return [new Case("(infrastructure)", TimeSpan.Zero, CaseKind.Error, latest?.ErrorKind ?? "no-result", message, null)];
    }

    private static void WriteCounts(XmlWriter xml, IReadOnlyList<Case> cases)
    {
        xml.WriteAttributeString("tests", cases.Count.ToString(CultureInfo.InvariantCulture));
        xml.WriteAttributeString("failures", cases.Count(c => c.Kind == CaseKind.Failed).ToString(CultureInfo.InvariantCulture));
        xml.WriteAttributeString("errors", cases.Count(c => c.Kind == CaseKind.Error).ToString(CultureInfo.InvariantCulture));
        xml.WriteAttributeString("skipped", cases.Count(c => c.Kind == CaseKind.Skipped).ToString(CultureInfo.InvariantCulture));
    }

    private static void Property(XmlWriter xml, string name, string value)
    {
        xml.WriteStartElement("property");
        xml.WriteAttributeString("name", name);
        xml.WriteAttributeString("value", Clean(value));
        xml.WriteEndElement();
    }

    private static string Seconds(TimeSpan time) => time.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture);

    /// <summary>Guest output may hold bytes XML 1.0 cannot carry; they become U+FFFD.</summary>
    internal static string Clean(string text)
    {
        StringBuilder? clean = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var valid = XmlConvert.IsXmlChar(c) || (char.IsHighSurrogate(c) && i + 1 < text.Length && XmlConvert.IsXmlSurrogatePair(text[i + 1], c));
            if (valid && char.IsHighSurrogate(c))
            {
                clean?.Append(c).Append(text[i + 1]);
                i++;
                continue;
            }
            if (!valid) clean ??= new StringBuilder(text, 0, i, text.Length);
            clean?.Append(valid ? c : '\uFFFD');
        }
        return clean?.ToString() ?? text;
    }

    private enum CaseKind { Passed, Failed, Skipped, Error }

    private sealed record Case(string Name, TimeSpan Duration, CaseKind Kind, string Type, string? Message, string? Output)
    {
        public void Write(XmlWriter xml, string cellName)
        {
            xml.WriteStartElement("testcase");
            xml.WriteAttributeString("classname", cellName);
            xml.WriteAttributeString("name", Name);
            xml.WriteAttributeString("time", Seconds(Duration));
            var element = Kind switch { CaseKind.Failed => "failure", CaseKind.Skipped => "skipped", CaseKind.Error => "error", _ => null };
            if (element is not null)
            {
                xml.WriteStartElement(element);
                if (Message is not null) xml.WriteAttributeString("message", Clean(Message));
                if (Kind != CaseKind.Skipped) xml.WriteAttributeString("type", Type);
                if (Kind != CaseKind.Skipped && Output is { Length: > 0 }) xml.WriteString(Clean(Output));
                xml.WriteEndElement();
            }
            if (Output is { Length: > 0 })
            {
                xml.WriteStartElement("system-out");
                xml.WriteString(Clean(Output));
                xml.WriteEndElement();
            }
            xml.WriteEndElement();
        }
    }
}
