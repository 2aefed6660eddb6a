using System.Globalization;
using System.Text;
using System.Xml;
using TestGrid.Results;
using TestGrid.Verdict;

namespace TestGrid.Reports;

/// <summary>
/// JUnit XML as Azure Pipelines (PublishTestResults, JUnit format), Jenkins and GitHub test reporters read it: one
/// <c>testsuite</c> per cell, one <c>testcase</c> per test of the cell with its latest outcome over every attempt
/// (a partial rerun leaves the other tests' earlier results standing), classified as the verdict classifies it
/// (<see cref="Classification"/>): a blocking failure is a <c>failure</c> of type <c>failed</c> or <c>timed-out</c>;
/// advisory, quarantined and waived failures are <c>failure</c>s of those types whose message says why they do not
/// block (the verdict and exit code are what gate); a flaky test passes and carries one <c>flakyFailure</c> per
/// earlier failed run (the Maven Surefire convention) and the property <c>testgrid.flaky</c>, unless the policy
/// blocks on it: then it is a <c>failure</c> of type <c>flaky</c>. A cell without a result has one <c>error</c>
/// test case that says why.
/// </summary>
public static class JUnitReport
{
    public static void Write(RunReport report, Stream output)
    {
        using var xml = XmlWriter.Create(output, new XmlWriterSettings { Indent = true, Encoding = new UTF8Encoding(false) });
        var classification = new Classification(report.Verdict);
        var cells = report.Cells.Select(c => (Cell: c, Cases: Cases(c, classification))).ToList();
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
            // Its tests' results come from every attempt: the time is theirs together, from the first one's start.
            xml.WriteAttributeString("time", Seconds(cell.Attempts.Aggregate(TimeSpan.Zero, (sum, a) => sum + (a.EndedAt - a.StartedAt))));
            xml.WriteAttributeString("timestamp", (cell.Attempts.FirstOrDefault()?.StartedAt ?? report.StartedAt).UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss", CultureInfo.InvariantCulture));
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

    private static List<Case> Cases(CellReport cell, Classification classification)
    {
        if (CellResults.LatestCompleted(cell.Attempts) is not null)
            return [.. classification.Classify(cell).Select(t => TestCase(cell, t))];

        var message = classification.NoResult(cell)?.Message ?? cell.Reason ?? "no result";
        return [new Case("(infrastructure)", TimeSpan.Zero, CaseKind.Error, cell.Latest?.ErrorKind ?? "no-result", message, null, [], [])];
    }

    private static Case TestCase(CellReport cell, ClassifiedTest test)
    {
        var latest = test.Latest;
        var attempt = test.Record.LatestAttempt;
        List<(string, string)> properties = [("attempt", attempt.ToString(CultureInfo.InvariantCulture))];
        if (cell.Attempts.FirstOrDefault(a => a.Number == attempt)?.Machine is { } machine) properties.Add(("machine", machine));
        if (test.Standing is TestStanding.Flaky or TestStanding.FlakyBlocking) properties.Add(("testgrid.flaky", "true"));

        var (kind, type) = test.Standing switch
        {
            TestStanding.Passed or TestStanding.Flaky => (CaseKind.Passed, ""),
            TestStanding.Skipped => (CaseKind.Skipped, ""),
            TestStanding.Error => (CaseKind.Error, "error"),
            TestStanding.Blocking => (CaseKind.Failed, latest.Outcome == TestOutcome.TimedOut ? "timed-out" : "failed"),
            TestStanding.FlakyBlocking => (CaseKind.Failed, "flaky"),
            TestStanding.Advisory => (CaseKind.Failed, "advisory"),
            TestStanding.Quarantined => (CaseKind.Failed, "quarantined"),
            _ => (CaseKind.Failed, "waived"),
        };
        var failedRuns = test.FailedRuns.Select(run => (Run: run, Result: VerdictCalculator.ResultOf(cell, test.Record.Id, run))).ToList();
        List<FlakyFailure> flakyFailures = test.Standing != TestStanding.Flaky ? []
            : [.. failedRuns.Select(f => new FlakyFailure($"{Classification.Word(f.Run.Outcome)} in {TestRecord.Where(f.Run)}" + (f.Result?.Reason is { } why ? $": {why}" : ""),
                Classification.Word(f.Run.Outcome), f.Result?.Output?.Text))];
        // A blocking flaky test passed last: its failure shows the failed run's output.
        var failureOutput = test.Standing == TestStanding.FlakyBlocking ? failedRuns.FirstOrDefault().Result?.Output?.Text : latest.Output?.Text;
        return new Case(test.Record.Id, latest.Duration, kind, type, test.Message, latest.Output?.Text, properties, flakyFailures) { FailureOutput = failureOutput };
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

    /// <summary>An earlier failed run of a test that passed at last: Surefire's <c>flakyFailure</c>.</summary>
    private sealed record FlakyFailure(string Message, string Type, string? Output);

    private sealed record Case(string Name, TimeSpan Duration, CaseKind Kind, string Type, string? Message, string? Output,
        IReadOnlyList<(string Name, string Value)> Properties, IReadOnlyList<FlakyFailure> FlakyFailures)
    {
        /// <summary>What the <c>failure</c> or <c>error</c> element holds; the latest run's output unless set.</summary>
        public string? FailureOutput { get; init; } = Output;

        public void Write(XmlWriter xml, string cellName)
        {
            xml.WriteStartElement("testcase");
            xml.WriteAttributeString("classname", cellName);
            xml.WriteAttributeString("name", Name);
            xml.WriteAttributeString("time", Seconds(Duration));
            if (Properties.Count > 0)
            {
                xml.WriteStartElement("properties");
                foreach (var (name, value) in Properties) Property(xml, name, value);
                xml.WriteEndElement();
            }
            var element = Kind switch { CaseKind.Failed => "failure", CaseKind.Skipped => "skipped", CaseKind.Error => "error", _ => null };
            if (element is not null)
            {
                xml.WriteStartElement(element);
                if (Message is not null) xml.WriteAttributeString("message", Clean(Message));
                if (Kind != CaseKind.Skipped) xml.WriteAttributeString("type", Type);
                if (Kind != CaseKind.Skipped && FailureOutput is { Length: > 0 }) xml.WriteString(Clean(FailureOutput));
                xml.WriteEndElement();
            }
            foreach (var flaky in FlakyFailures)
            {
                xml.WriteStartElement("flakyFailure");
                xml.WriteAttributeString("message", Clean(flaky.Message));
                xml.WriteAttributeString("type", flaky.Type);
                if (flaky.Output is { Length: > 0 }) SystemOut(xml, flaky.Output);
                xml.WriteEndElement();
            }
            if (Output is { Length: > 0 }) SystemOut(xml, Output);
            xml.WriteEndElement();
        }

        private static void SystemOut(XmlWriter xml, string output)
        {
            xml.WriteStartElement("system-out");
            xml.WriteString(Clean(output));
            xml.WriteEndElement();
        }
    }
}
