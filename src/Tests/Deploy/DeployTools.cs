using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using TestGrid.Tests.Support;

namespace TestGrid.Tests.Deploy;

/// <summary>
/// The validators of <c>deploy/</c> that <c>scripts/setup.sh</c> installs: the Bicep compiler (NuGet's
/// Azure.Bicep.CommandLine binary) and the Kubernetes schemas (npm kubernetes-models) in the TestGrid cache, and
/// kubectl (its kustomize) on PATH. A test whose tool is missing skips saying so, or fails when
/// <c>TESTGRID_REQUIRE_DEPLOY_TOOLS=1</c> (set by scripts/test.sh, which runs setup first).
/// </summary>
internal static class DeployTools
{
    public static bool Required => Environment.GetEnvironmentVariable("TESTGRID_REQUIRE_DEPLOY_TOOLS") == "1";

    /// <summary>$TESTGRID_CACHE, else $XDG_CACHE_HOME/testgrid, else ~/.cache/testgrid: the same cache as scripts/setup.sh.</summary>
    public static string Cache =>
        Environment.GetEnvironmentVariable("TESTGRID_CACHE") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } xdg
                ? xdg
                : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "testgrid");

    /// <summary>A version pinned in scripts/setup.sh (a line <c>NAME=VERSION</c>): the one place versions are named.</summary>
    public static string Pinned(string name)
    {
        var match = Regex.Match(File.ReadAllText(Repo.Path("scripts", "setup.sh")), $@"^{Regex.Escape(name)}=(\S+)$", RegexOptions.Multiline | RegexOptions.CultureInvariant);
        return match.Success ? match.Groups[1].Value : throw new InvalidOperationException($"scripts/setup.sh pins no {name}");
    }

    /// <summary>The Bicep compiler setup.sh installed.</summary>
    public static string Bicep()
    {
        if (System.Runtime.InteropServices.RuntimeInformation.OSArchitecture != System.Runtime.InteropServices.Architecture.X64)
            Assert.Ignore("the Bicep compiler is installed from NuGet's Azure.Bicep.CommandLine.linux-x64, and no build for this architecture is served here");
        var path = Path.Combine(Cache, $"bicep-{Pinned("bicep_version")}", "bicep");
        if (!File.Exists(path)) Missing($"the Bicep compiler is not at {path}");
        return path;
    }

    /// <summary>The node_modules folder with kubernetes-models and yaml that setup.sh installed.</summary>
    public static string KubernetesModels()
    {
        var path = Path.Combine(Cache, $"k8s-validate-{Pinned("kubernetes_models_version")}-{Pinned("yaml_version")}", "node_modules");
        if (!File.Exists(Path.Combine(path, "kubernetes-models", "package.json"))) Missing($"the Kubernetes schemas (npm kubernetes-models) are not in {path}");
        if (OnPath("node") is null) Missing("node is not on PATH");
        return path;
    }

    /// <summary>kubectl from PATH.</summary>
    public static string Kubectl() => OnPath("kubectl") ?? Missing("kubectl is not on PATH");

    public static string? OnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, name))
            .FirstOrDefault(File.Exists);

    /// <summary>Skips the calling test with the reason, or fails it when the tools are required.</summary>
    public static string Missing(string what)
    {
        var message = $"{what}: run scripts/setup.sh to install the deploy/ validators; set TESTGRID_REQUIRE_DEPLOY_TOOLS=1 to make this a failure.";
        if (Required) Assert.Fail(message);
        Assert.Ignore(message);
        return "";
    }

    /// <summary>Runs a program to its end within <paramref name="timeout"/> (killed after it), feeding <paramref name="input"/> on standard input.</summary>
    public static async Task<ProcessResult> RunAsync(string file, IEnumerable<string> args, string? input = null, TimeSpan? timeout = null, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Repo.Root,
        };
        foreach (var arg in args) start.ArgumentList.Add(arg);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (input is not null) await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(2));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', args)} did not end within {timeout ?? TimeSpan.FromMinutes(2)}: {stderr}");
        }
        process.WaitForExit();
        lock (stdout) lock (stderr) return new ProcessResult(process.ExitCode, stdout.ToString(), stderr.ToString());
    }
}

/// <summary>How a program ended.</summary>
internal sealed record ProcessResult(int ExitCode, string Out, string Err)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Out}\n--- stderr\n{Err}";
}
