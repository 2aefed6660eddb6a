namespace TestGrid.Tests.Support;

/// <summary>Paths in the repository the tests run from.</summary>
public static class Repo
{
    public static string Root { get; } = Find();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    /// <summary>
    /// A program of the solution in its own build output, beside its own dependencies (<c>testgrid.dll</c> of
    /// src/Client, <c>testgrid-silo.dll</c> of src/Silo), built in the tests' configuration. Not the copy in the
    /// tests' folder: that folder lacks what the ASP.NET Core shared framework (which the ARM contract server uses)
    /// provides, and the programs do not run on that framework.
    /// </summary>
    public static string Program(string project, string dll)
    {
        var configuration = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(System.IO.Path.DirectorySeparatorChar)).Parent!.Name;
        var path = Path("src", project, "bin", configuration, "net10.0", dll);
        return File.Exists(path) ? path : throw new FileNotFoundException($"{path} is not built: build the solution (dotnet build TestGrid.sln)", path);
    }

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "TestGrid.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException($"no TestGrid.sln above {AppContext.BaseDirectory}");
    }
}
