using System.Text.Json;
using System.Text.Json.Nodes;

namespace TestGrid.Tests.Support;

/// <summary>A throwaway folder with a matrix, suites and an inventory, removed after the test.</summary>
public sealed class Workspace : IDisposable
{
    public Workspace()
    {
        Root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "testgrid-tests", $"{DateTime.UtcNow:HHmmss}-{Guid.NewGuid().ToString("N")[..8]}");
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    public string Write(string relative, string text)
    {
        var path = Path(relative);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
        return path;
    }

    public string WriteJson(string relative, JsonNode node) =>
        Write(relative, node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

    /// <summary>A suite folder: suite.json listing the scripts, each script written executable.</summary>
    public void Suite(string name, params TestScript[] tests)
    {
        var list = new JsonArray();
        foreach (var test in tests)
        {
            var entry = new JsonObject { ["id"] = test.Id, ["script"] = $"{test.Id}.sh", ["timeoutSeconds"] = test.TimeoutSeconds };
            if (!test.Blocking) entry["blocking"] = false;
            list.Add(entry);
            var script = Write($"suites/{name}/{test.Id}.sh", "#!/bin/sh\n" + test.Body + "\n");
            File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        WriteJson($"suites/{name}/suite.json", new JsonObject { ["tests"] = list });
    }

    /// <summary>Copies a suite of the repository (e.g. smoke) into this workspace.</summary>
    public void CopySuite(string name)
    {
        var source = Repo.Path("suites", name);
        foreach (var file in Directory.EnumerateFiles(source))
        {
            var target = Path("suites", name, System.IO.Path.GetFileName(file));
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(target)!);
            File.Copy(file, target, overwrite: true);
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A run still writing; the temp folder is cleaned by the OS.
        }
    }
}

public sealed record TestScript(string Id, string Body, int TimeoutSeconds = 30, bool Blocking = true);
