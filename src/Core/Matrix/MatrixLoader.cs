using TestGrid.Input;
using TestGrid.Suites;

namespace TestGrid.Matrix;

/// <summary>A validated matrix with everything it refers to: SKUs resolved by name, suites loaded and hashed.</summary>
public sealed record LoadedMatrix(
    string Path,
    MatrixDefinition Definition,
    IReadOnlyDictionary<string, SkuDefinition> Skus,
    IReadOnlyDictionary<string, SuitePackage> Suites);

/// <summary>
/// Reads <c>matrix.json</c> and what it names (SKU catalog, suites), and checks what a schema cannot: unique ids,
/// known SKUs and suites, rules and policy selectors that refer to something. Reports every problem at once.
/// </summary>
public static class MatrixLoader
{
    public const string DefaultFileName = "matrix.json";
    public const string DefaultSuitesPath = "suites";

    public static LoadedMatrix Load(string path)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        var folder = System.IO.Path.GetDirectoryName(fullPath)!;
        var file = JsonInput.Read(path, fullPath, "matrix", TestGridJsonContext.Default.MatrixDefinition);
        var matrix = file.Value;
        var errors = new List<InputError>();
        void Error(string at, string message) => errors.Add(file.Error(at, message));

        CheckUnique(matrix.Images.Select(i => i.Id).ToList(), "$.images", ".id", "image id", Error);
        CheckUnique(matrix.Skus, "$.skus", "", "SKU", Error);
        CheckUnique(matrix.SkuDefinitions.Select(s => s.Name).ToList(), "$.skuDefinitions", ".name", "SKU definition", Error);
        CheckUnique(matrix.Regions, "$.regions", "", "region", Error);
        CheckUnique(matrix.Suites, "$.suites", "", "suite", Error);

        var skus = ResolveSkus(matrix, path, folder, errors, Error);
        var suites = LoadSuites(matrix, path, folder, errors, Error);

        CheckRules(matrix, matrix.Include ?? [], "$.include", Error);
        CheckRules(matrix, matrix.Exclude, "$.exclude", Error);
        matrix = matrix with { Policy = LoadPolicy(matrix, path, folder, suites, errors, Error) };

        if (errors.Count > 0) throw new InputException(errors);
        return new LoadedMatrix(path, matrix, skus, suites);
    }

    /// <summary>The inline policy, or the one in <c>policyFile</c>; checked against the matrix's suites either way (errors name the file that holds the policy).</summary>
    private static PolicyDefinition LoadPolicy(MatrixDefinition matrix, string path, string folder, IReadOnlyDictionary<string, SuitePackage> suites,
        List<InputError> errors, Action<string, string> error)
    {
        if (matrix.PolicyFile is not { } name)
        {
            CheckPolicy(matrix.Policy, "$.policy", matrix, suites, error);
            return matrix.Policy;
        }
        if (matrix.HasInlinePolicy)
        {
            error("$.policyFile", "expected either an inline 'policy' or a 'policyFile', not both");
            return matrix.Policy;
        }
        var fullPath = System.IO.Path.GetFullPath(name, folder);
        if (!File.Exists(fullPath))
        {
            error("$.policyFile", $"expected a policy file, but '{name}' does not exist next to the matrix");
            return matrix.Policy;
        }
        var display = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path) ?? "", name);
        try
        {
            var file = JsonInput.Read(display, fullPath, "policy", TestGridJsonContext.Default.PolicyDefinition);
            CheckPolicy(file.Value, JsonPaths.Root, matrix, suites, (at, message) => errors.Add(file.Error(at, message)));
            return file.Value;
        }
        catch (InputException e)
        {
            errors.AddRange(e.Errors);
            return matrix.Policy;
        }
    }

    private static void CheckPolicy(PolicyDefinition policy, string root, MatrixDefinition matrix, IReadOnlyDictionary<string, SuitePackage> suites, Action<string, string> error)
    {
        CheckSelectors(policy.Blocking, $"{root}.blocking", matrix, suites, error);
        CheckSelectors(policy.Advisory, $"{root}.advisory", matrix, suites, error);
        CheckSelectors([.. policy.Quarantine.Select(q => q.Test)], $"{root}.quarantine", matrix, suites, error, ".test");
        CheckSelectors([.. policy.Waivers.Select(w => w.Test)], $"{root}.waivers", matrix, suites, error, ".test");
        CheckUnique([.. policy.Tiers.Select(t => t.Name)], $"{root}.tiers", ".name", "tier", error);
        var tierOf = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < policy.Tiers.Count; i++)
        {
            var tier = policy.Tiers[i];
            for (var j = 0; j < tier.Suites.Count; j++)
            {
                var at = $"{JsonPaths.Index($"{root}.tiers", i)}{JsonPaths.Index(".suites", j)}";
                if (!matrix.Suites.Contains(tier.Suites[j]))
                    error(at, $"unknown suite '{tier.Suites[j]}': expected one of the matrix's suites: {string.Join(", ", matrix.Suites)}");
                else if (!tierOf.TryAdd(tier.Suites[j], tier.Name))
                    error(at, $"suite '{tier.Suites[j]}' is already in tier '{tierOf[tier.Suites[j]]}': expected each suite in one tier");
            }
        }
        for (var i = 0; i < policy.BootTimes.Count; i++)
        {
            if (policy.BootTimes[i] is { P50: null, P95: null })
                error(JsonPaths.Index($"{root}.bootTimes", i), "expected a limit: p50, p95 or both");
        }
    }

    private static void CheckUnique(IReadOnlyList<string> values, string array, string field, string what, Action<string, string> error)
    {
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < values.Count; i++)
        {
            if (!first.TryAdd(values[i], i))
                error($"{JsonPaths.Index(array, i)}{field}", $"duplicate {what} '{values[i]}' (first at {JsonPaths.Index(array, first[values[i]])})");
        }
    }

    private static Dictionary<string, SkuDefinition> ResolveSkus(MatrixDefinition matrix, string path, string folder, List<InputError> errors, Action<string, string> error)
    {
        var known = new Dictionary<string, SkuDefinition>(StringComparer.Ordinal);
        var catalogName = matrix.SkuCatalog;
        var catalogRead = catalogName is null;
        if (catalogName is not null)
        {
            var catalogPath = System.IO.Path.GetFullPath(catalogName, folder);
            if (!File.Exists(catalogPath))
            {
                error("$.skuCatalog", $"expected a SKU catalog file, but '{catalogName}' does not exist next to the matrix");
            }
            else
            {
                var display = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path) ?? "", catalogName);
                try
                {
                    var catalog = JsonInput.Read(display, catalogPath, "sku-catalog", TestGridJsonContext.Default.SkuCatalog);
                    CheckUnique(catalog.Value.Skus.Select(s => s.Name).ToList(), "$.skus", ".name", "SKU",
                        (at, message) => errors.Add(catalog.Error(at, message)));
                    foreach (var sku in catalog.Value.Skus) known.TryAdd(sku.Name, sku);
                    catalogRead = true;
                }
                catch (InputException e)
                {
                    errors.AddRange(e.Errors);
                }
            }
        }
        foreach (var sku in matrix.SkuDefinitions) known[sku.Name] = sku;

        var used = new Dictionary<string, SkuDefinition>(StringComparer.Ordinal);
        for (var i = 0; i < matrix.Skus.Count; i++)
        {
            var name = matrix.Skus[i];
            if (known.TryGetValue(name, out var sku)) used.TryAdd(name, sku);
            else if (catalogRead)
            {
                // Without a readable catalog, its own error says it all.
                var where = catalogName is null ? "skuDefinitions (and no skuCatalog is set)" : $"skuDefinitions or {catalogName}";
                error(JsonPaths.Index("$.skus", i), $"unknown SKU '{name}': expected a SKU defined in {where}");
            }
        }
        return used;
    }

    private static Dictionary<string, SuitePackage> LoadSuites(MatrixDefinition matrix, string path, string folder, List<InputError> errors, Action<string, string> error)
    {
        var display = matrix.SuitesPath ?? DefaultSuitesPath;
        var root = System.IO.Path.GetFullPath(display, folder);
        var displayRoot = System.IO.Path.Combine(System.IO.Path.GetDirectoryName(path) ?? "", display);
        var suites = new Dictionary<string, SuitePackage>(StringComparer.Ordinal);
        for (var i = 0; i < matrix.Suites.Count; i++)
        {
            var name = matrix.Suites[i];
            if (suites.ContainsKey(name)) continue;
            if (!File.Exists(System.IO.Path.Combine(root, name, SuiteLoader.FileName)))
            {
                var available = Directory.Exists(root)
                    ? Directory.EnumerateDirectories(root).Where(d => File.Exists(System.IO.Path.Combine(d, SuiteLoader.FileName))).Select(System.IO.Path.GetFileName).Order(StringComparer.Ordinal).ToList()
                    : [];
                var hint = available.Count > 0 ? $"; suites found: {string.Join(", ", available)}" : $"; {displayRoot}/ holds no suite";
                error(JsonPaths.Index("$.suites", i), $"unknown suite '{name}': expected {displayRoot}/{name}/{SuiteLoader.FileName}{hint}");
                continue;
            }
            try
            {
                suites[name] = SuiteLoader.Load(root, displayRoot, name);
            }
            catch (InputException e)
            {
                errors.AddRange(e.Errors);
            }
        }
        return suites;
    }

    private static void CheckRules(MatrixDefinition matrix, IReadOnlyList<CellRule> rules, string array, Action<string, string> error)
    {
        for (var i = 0; i < rules.Count; i++)
        {
            var at = JsonPaths.Index(array, i);
            Check(rules[i].Image, matrix.Images.Select(x => x.Id).ToList(), $"{at}.image", "image");
            Check(rules[i].Sku, matrix.Skus, $"{at}.sku", "SKU");
            Check(rules[i].Region, matrix.Regions, $"{at}.region", "region");
        }

        void Check(string? pattern, IReadOnlyList<string> values, string at, string what)
        {
            if (pattern is null || values.Any(v => Glob.Matches(pattern, v))) return;
            error(at, $"'{pattern}' matches no {what} of the matrix; expected one of: {string.Join(", ", values)}");
        }
    }

    private static void CheckSelectors(IReadOnlyList<string> selectors, string array, MatrixDefinition matrix,
        IReadOnlyDictionary<string, SuitePackage> suites, Action<string, string> error, string field = "")
    {
        for (var i = 0; i < selectors.Count; i++)
        {
            var at = JsonPaths.Index(array, i) + field;
            var parts = selectors[i].Split('/', 2);
            if (!matrix.Suites.Contains(parts[0]))
                error(at, $"unknown suite '{parts[0]}': expected one of the matrix's suites: {string.Join(", ", matrix.Suites)}");
            else if (parts.Length == 2 && suites.TryGetValue(parts[0], out var suite) && suite.Suite.Tests.All(t => t.Id != parts[1]))
                error(at, $"unknown test '{parts[1]}' in suite '{parts[0]}': expected one of: {string.Join(", ", suite.Suite.Tests.Select(t => t.Id))}");
        }
    }
}
