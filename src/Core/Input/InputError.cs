namespace TestGrid.Input;

/// <summary>One problem in a user's input: the file, the JSON path inside it, and what was expected.</summary>
/// <param name="File">The file as the user named it (relative paths stay relative).</param>
/// <param name="Path">A JSONPath such as <c>$.images[1].arch</c>; <c>$</c> for the whole document.</param>
/// <param name="Message">What was expected, and what was found.</param>
/// <param name="Line">1-based line of the offending value, when known.</param>
public sealed record InputError(string File, string Path, string Message, int? Line = null)
{
    public override string ToString() =>
        Line is int line ? $"{File}:{line}: {Path}: {Message}" : $"{File}: {Path}: {Message}";
}

/// <summary>Thrown when input files are invalid; carries every problem found, not just the first.</summary>
public sealed class InputException : Exception
{
    public InputException(IReadOnlyList<InputError> errors)
        : base(Describe(errors)) => Errors = errors;

    public InputException(InputError error) : this([error]) { }

    public IReadOnlyList<InputError> Errors { get; }

    private static string Describe(IReadOnlyList<InputError> errors) =>
        errors.Count == 1 ? errors[0].ToString() : $"{errors.Count} input errors:\n  " + string.Join("\n  ", errors);
}
