using Spectre.Console;
using TestGrid.Input;
using TestGrid.Verdict;

namespace TestGrid.Client;

/// <summary>The CLI's two streams, and whether a person is watching (live grid, colours) or a pipeline (plain lines).</summary>
public sealed class CliConsole(TextWriter stdout, TextWriter stderr)
{
    public TextWriter Out { get; } = stdout;
    public TextWriter Error { get; } = stderr;

    /// <summary>A terminal is attached and this is not CI: show the live grid.</summary>
    public bool Interactive { get; } =
        ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected
        && !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Spectre.Console over stdout: ANSI only when interactive; wide enough that tables never wrap in logs.</summary>
    public IAnsiConsole Ansi => _ansi ??= CreateAnsi();

    private IAnsiConsole? _ansi;

    /// <summary>Prints input errors (file, line, JSON path, what was expected) and returns exit code 3.</summary>
    public int InvalidInput(IReadOnlyList<InputError> errors)
    {
        foreach (var error in errors) Error.WriteLine($"error: {error}");
        Error.WriteLine(errors.Count == 1 ? "1 error; nothing was run." : $"{errors.Count} errors; nothing was run.");
        return ExitCodes.InvalidInput;
    }

    private IAnsiConsole CreateAnsi()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Out),
            Ansi = Interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = Interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = Interactive ? InteractionSupport.Yes : InteractionSupport.No,
        });
        if (!Interactive) console.Profile.Width = 400;
        return console;
    }
}
