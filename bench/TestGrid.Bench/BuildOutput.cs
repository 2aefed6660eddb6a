using System.Reflection;

namespace TestGrid.Bench;

/// <summary>Where the checkout's other programs are built: bin/<see cref="Configuration"/>/net10.0 of their projects.</summary>
internal static class BuildOutput
{
    /// <summary>
    /// The configuration this benchmark was built in, which the other programs are built in too: from the assembly, not
    /// from the folder it runs in (bench/run runs it from a publish folder).
    /// </summary>
    public static string Configuration { get; } =
        typeof(BuildOutput).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Release";
}
