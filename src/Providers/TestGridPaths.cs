namespace TestGrid;

/// <summary>Where TestGrid keeps things outside a clone, the same places deploy/images/lib.sh uses.</summary>
public static class TestGridPaths
{
    /// <summary>Built images and root filesystems: <c>$TESTGRID_CACHE</c>, else <c>$XDG_CACHE_HOME/testgrid</c>, else <c>~/.cache/testgrid</c>.</summary>
    public static string Cache =>
        Variable("TESTGRID_CACHE") ?? Path.Combine(Variable("XDG_CACHE_HOME") ?? Path.Combine(Home, ".cache"), "testgrid");

    /// <summary>Live machines' records (so that a sweep finds what a crashed runner left): <c>$TESTGRID_STATE</c>, else <c>$XDG_STATE_HOME/testgrid</c>, else <c>~/.local/state/testgrid</c>.</summary>
    public static string State =>
        Variable("TESTGRID_STATE") ?? Path.Combine(Variable("XDG_STATE_HOME") ?? Path.Combine(Home, ".local", "state"), "testgrid");

    private static string Home => Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    private static string? Variable(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } value ? value : null;
}
