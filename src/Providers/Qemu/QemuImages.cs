using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using TestGrid.Input;
using TestGrid.Matrix;
using TestGrid.Plan;

namespace TestGrid.Qemu;

/// <summary>
/// Turns the matrix's <c>qemu</c> sources into files to boot and into identities for cell ids. A recipe source is
/// built (or found in the cache) by deploy/images/vm-image.sh and identified by its recipe hash; a file source is
/// identified by the SHA-256 of its disk, kernel and initramfs. Either way the cell id changes when what boots changes.
/// </summary>
public static class QemuImages
{
    public const string BuildScript = "vm-image.sh";

    /// <param name="imagesFolder">deploy/images: its recipes and vm-image.sh.</param>
    /// <param name="build">Build recipe images that are not cached (run); otherwise only hash them (plan).</param>
    public static async Task<(LoadedMatrix Matrix, IReadOnlyDictionary<string, QemuImage> Images)> ResolveAsync(
        LoadedMatrix matrix, string imagesFolder, bool build, Action<string> progress, CancellationToken cancellationToken)
    {
        var folder = Path.GetDirectoryName(Path.GetFullPath(matrix.Path))!;
        var images = new Dictionary<string, QemuImage>(StringComparer.Ordinal);
        var resolved = new List<ImageDefinition>();
        var errors = new List<InputError>();
        for (var i = 0; i < matrix.Definition.Images.Count; i++)
        {
            var image = matrix.Definition.Images[i];
            if (!image.Sources.TryGetValue(QemuProvider.ProviderName, out var source))
            {
                resolved.Add(image);
                continue;
            }
            var at = $"$.images[{i}].sources.qemu";
            try
            {
                var (identity, files) = source.TryGetProperty("recipe", out var recipe)
                    ? await FromRecipeAsync(image, recipe.GetString()!, source, imagesFolder, build, progress, at, matrix.Path, cancellationToken).ConfigureAwait(false)
                    : await FromFilesAsync(image, source, folder, at, matrix.Path, cancellationToken).ConfigureAwait(false);
                if (files is not null) images[image.Id] = files;
                var sources = new Dictionary<string, JsonElement>(image.Sources, StringComparer.Ordinal) { [QemuProvider.ProviderName] = identity };
                resolved.Add(image with { Sources = sources });
            }
            catch (InputException e)
            {
                errors.AddRange(e.Errors);
            }
        }
        if (errors.Count > 0) throw new InputException(errors);
        return (matrix with { Definition = matrix.Definition with { Images = resolved } }, images);
    }

    /// <summary>Where deploy/images is: beside the matrix, else above the testgrid program (a checkout running its build).</summary>
    public static string? FindImagesFolder(string matrixPath)
    {
        var candidates = new[] { Path.GetDirectoryName(Path.GetFullPath(matrixPath))!, AppContext.BaseDirectory };
        foreach (var start in candidates)
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var images = Path.Combine(dir.FullName, "deploy", "images");
                if (File.Exists(Path.Combine(images, BuildScript))) return images;
            }
        }
        return null;
    }

    private static async Task<(JsonElement Identity, QemuImage? Files)> FromRecipeAsync(ImageDefinition image, string recipe, JsonElement source,
        string imagesFolder, bool build, Action<string> progress, string at, string matrixPath, CancellationToken cancellationToken)
    {
        if (!File.Exists(Path.Combine(imagesFolder, "recipes", recipe + ".conf")))
        {
            var known = Directory.Exists(Path.Combine(imagesFolder, "recipes"))
                ? string.Join(", ", Directory.EnumerateFiles(Path.Combine(imagesFolder, "recipes"), "*.conf").Select(Path.GetFileNameWithoutExtension).Order(StringComparer.Ordinal))
                : "none";
            throw new InputException(new InputError(matrixPath, $"{at}.recipe", $"unknown recipe '{recipe}' in {imagesFolder}/recipes; recipes: {known}"));
        }
        var script = Path.Combine(imagesFolder, BuildScript);
        var hash = await HostTool.RunAsync(script, ["--hash", recipe], cancellationToken, "image").ConfigureAwait(false);
        var identity = new JsonObject { ["recipe"] = recipe, ["hash"] = hash };
        if (source.TryGetProperty("kernelArgs", out var extra)) identity["kernelArgs"] = extra.GetString();
        if (!build) return (ToElement(identity), null);

        progress($"image {image.Id}: recipe {recipe} ({hash}), building it if it is not cached");
        var folder = (await HostTool.RunAsync(script, [recipe], cancellationToken, "image").ConfigureAwait(false)).Split('\n')[^1].Trim();
        var manifest = JsonSerializer.Deserialize(await File.ReadAllTextAsync(Path.Combine(folder, "image.json"), cancellationToken).ConfigureAwait(false), QemuJsonContext.Default.RecipeManifest)!;
        if (manifest.Arch != image.Arch.Name())
            throw new InputException(new InputError(matrixPath, $"{at}.recipe", $"recipe '{recipe}' makes {manifest.Arch} images, but image '{image.Id}' is {image.Arch.Name()}"));
        var append = Append(manifest.Append, source);
        return (ToElement(identity), new QemuImage(image.Arch, Path.Combine(folder, manifest.Disk), Path.Combine(folder, manifest.Kernel),
            Path.Combine(folder, manifest.Initrd), append, $"recipe {recipe} ({hash})"));
    }

    private static async Task<(JsonElement Identity, QemuImage? Files)> FromFilesAsync(ImageDefinition image, JsonElement source, string folder,
        string at, string matrixPath, CancellationToken cancellationToken)
    {
        string File(string field)
        {
            if (!source.TryGetProperty(field, out var value))
                throw new InputException(new InputError(matrixPath, $"{at}.{field}", "required field is missing: a qemu source names a recipe, or a disk with its kernel and initrd"));
            var path = Path.GetFullPath(value.GetString()!, folder);
            if (!System.IO.File.Exists(path))
                throw new InputException(new InputError(matrixPath, $"{at}.{field}", $"expected a file, but '{value.GetString()}' does not exist"));
            return path;
        }
        var (disk, kernel, initrd) = (File("disk"), File("kernel"), File("initrd"));
        try
        {
            DiskFormat.Detect(disk);
        }
        catch (NotSupportedException e)
        {
            throw new InputException(new InputError(matrixPath, $"{at}.disk", e.Message));
        }
        var identity = JsonNode.Parse(source.GetRawText())!.AsObject();
        identity["sha256"] = source.TryGetProperty("sha256", out var declared) ? declared.GetString() : await Sha256Async(disk, cancellationToken).ConfigureAwait(false);
        identity["kernelSha256"] = await Sha256Async(kernel, cancellationToken).ConfigureAwait(false);
        identity["initrdSha256"] = await Sha256Async(initrd, cancellationToken).ConfigureAwait(false);
        var defaultAppend = $"root=/dev/vda rw console={(image.Arch == Arch.Arm64 ? "ttyAMA0" : "ttyS0")}";
        var append = Append(source.TryGetProperty("append", out var given) ? given.GetString()! : defaultAppend, source);
        return (ToElement(identity), new QemuImage(image.Arch, disk, kernel, initrd, append, Path.GetFileName(disk)));
    }

    private static string Append(string append, JsonElement source) =>
        source.TryGetProperty("kernelArgs", out var extra) ? $"{append} {extra.GetString()}" : append;

    private static async Task<string> Sha256Async(string path, CancellationToken cancellationToken)
    {
        await using var file = System.IO.File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken).ConfigureAwait(false));
    }

    private static JsonElement ToElement(JsonNode node) => JsonDocument.Parse(node.ToJsonString()).RootElement.Clone();
}
