using TestGrid.Provision;
using TestGrid.Ssh;

namespace TestGrid.Attempts;

/// <summary>
/// An exception that ends an attempt in <see cref="Results.AttemptOutcome.InfrastructureError"/>: its stable kind, and a
/// summary fit for telemetry (the exception's own message may carry a command's output; the summary never does).
/// </summary>
internal sealed record InfrastructureError(string Kind, string Summary)
{
    public static InfrastructureError? Of(Exception exception) => exception switch
    {
        SshFailure e => new(e.KindName, e.Message),
        ProvisionException e => new(e.Kind, e.Message),
        // A housekeeping command on the machine failed (no writable /tmp, no sh): it cannot host tests. Its message
        // quotes the command's output, which stays in the attempt's log.
        RemoteCommandException => new("machine", "a housekeeping command failed on the machine; see the attempt's log"),
        _ => null,
    };
}
