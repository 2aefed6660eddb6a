using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Deploy;

/// <summary>
/// deploy/bicep/main.bicep compiled by the Bicep compiler into an ARM template, and the resources of it and of its
/// modules (nested deployments), each with the template it is declared in (for its variables and its scope).
/// </summary>
internal sealed class BicepTemplate
{
    private BicepTemplate(JsonObject root, string diagnostics)
    {
        Root = root;
        Diagnostics = diagnostics;
        Collect(root, Resources);
    }

    public JsonObject Root { get; }

    /// <summary>What the compiler wrote to standard error: warnings and linter findings.</summary>
    public string Diagnostics { get; }

    public List<(JsonObject Resource, JsonObject Template)> Resources { get; } = [];

    private static readonly SemaphoreSlim Gate = new(1, 1);
    private static BicepTemplate? _compiled;

    /// <summary>Compiles main.bicep (once per test run: the files do not change while tests run).</summary>
    public static async Task<BicepTemplate> BuildAsync()
    {
        var bicep = DeployTools.Bicep();
        await Gate.WaitAsync();
        try
        {
            if (_compiled is not null) return _compiled;
            var build = await DeployTools.RunAsync(bicep, ["build", Repo.Path("deploy", "bicep", "main.bicep"), "--stdout"]);
            Assert.That(build.ExitCode, Is.Zero, build.ToString());
            return _compiled = new BicepTemplate(JsonNode.Parse(build.Out)!.AsObject(), build.Err);
        }
        finally
        {
            Gate.Release();
        }
    }

    public IEnumerable<(JsonObject Resource, JsonObject Template)> OfType(string type) =>
        Resources.Where(r => string.Equals((string?)r.Resource["type"], type, StringComparison.OrdinalIgnoreCase));

    public (JsonObject Resource, JsonObject Template) Single(string type) => OfType(type).Single();

    /// <summary>A template value: a literal, or <c>[variables('name')]</c> resolved in its template.</summary>
    public static JsonNode? Resolve(JsonNode? value, JsonObject template)
    {
        if (value is JsonValue v && v.TryGetValue<string>(out var text) && Regex.Match(text, @"^\[variables\('(\w+)'\)\]$") is { Success: true } m)
            return template["variables"]![m.Groups[1].Value];
        return value;
    }

    /// <summary>A variable's string value in its template.</summary>
    public static string Variable(JsonObject template, string name) => (string)template["variables"]![name]!;

    private static void Collect(JsonObject template, List<(JsonObject, JsonObject)> into)
    {
        foreach (var node in Enumerate(template["resources"]))
        {
            var resource = node!.AsObject();
            into.Add((resource, template));
            if ((string?)resource["type"] == "Microsoft.Resources/deployments" && resource["properties"]?["template"] is JsonObject nested)
                Collect(nested, into);
        }
    }

    // Templates with symbolic names (languageVersion 2.0) hold resources as an object; others as an array.
    private static IEnumerable<JsonNode?> Enumerate(JsonNode? resources) => resources switch
    {
        JsonArray array => array,
        JsonObject map => map.Select(p => p.Value),
        _ => [],
    };
}
