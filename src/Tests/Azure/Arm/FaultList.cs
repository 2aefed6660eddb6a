namespace TestGrid.Tests.Azure.Arm;

/// <summary>
/// A rule that answers matching requests with an ARM error instead of handling them, <see cref="Times"/> times.
/// </summary>
/// <param name="Method">The HTTP method to match (<c>*</c> for any).</param>
/// <param name="PathContains">A part of the request path (case-insensitive; the query is not matched).</param>
/// <param name="Status">The status code to answer.</param>
/// <param name="Code">The error code; null: one derived from the status (<c>TooManyRequests</c>, <c>InternalServerError</c>…).</param>
/// <param name="Message">The error message; null: a generic one.</param>
/// <param name="Times">How many matching requests it answers before it is spent.</param>
/// <param name="RetryAfterSeconds">The <c>Retry-After</c> header to send, if any.</param>
public sealed record Fault(string Method, string PathContains, int Status, string? Code = null, string? Message = null, int Times = 1, int? RetryAfterSeconds = null)
{
    internal bool Matches(string method, string path) =>
        (Method == "*" || Method.Equals(method, StringComparison.OrdinalIgnoreCase)) &&
        path.Contains(PathContains, StringComparison.OrdinalIgnoreCase);

    internal string ErrorCode => Code ?? Status switch
    {
        400 => "BadRequest",
        401 => "AuthenticationFailed",
        403 => "AuthorizationFailed",
        404 => "NotFound",
        409 => "Conflict",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "Error",
    };

    internal string ErrorMessage => Message ?? Status switch
    {
        429 => "The request is being throttled as the limit has been reached for operation type. Retry after the interval in the Retry-After header.",
        500 => "The server encountered an internal error. Please retry the request.",
        503 => "The service is temporarily unavailable. Please retry the request.",
        _ => $"Injected fault {Status}.",
    };
}

/// <summary>The faults a <see cref="FakeArm"/> injects: request rules, and behaviours of the fake Compute provider.</summary>
public sealed class FaultList
{
    private readonly Lock _gate = new();
    private readonly List<(Fault Rule, int Left)> _rules = [];
    private readonly HashSet<string> _allocationFailureZones = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Adds a rule; it intercepts matching requests (after the authorization check) before normal handling.</summary>
    public FaultList Add(Fault fault)
    {
        ArgumentNullException.ThrowIfNull(fault);
        lock (_gate) _rules.Add((fault, fault.Times));
        return this;
    }

    /// <summary>
    /// VM creates whose <c>zones</c> name one of <paramref name="zones"/> are accepted (201) but their operation ends
    /// <c>Failed</c> with <c>ZonalAllocationFailed</c>, leaving the VM in <c>provisioningState: Failed</c> (the client must delete it).
    /// Holds until <see cref="Clear"/>.
    /// </summary>
    public FaultList AllocationFailureInZones(params string[] zones)
    {
        ArgumentNullException.ThrowIfNull(zones);
        lock (_gate) _allocationFailureZones.UnionWith(zones);
        return this;
    }

    /// <summary>Removes every rule and behaviour.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            _rules.Clear();
            _allocationFailureZones.Clear();
        }
    }

    /// <summary>The rules that are not spent yet, with how many times each still fires.</summary>
    public IReadOnlyList<(Fault Rule, int Left)> Pending
    {
        get
        {
            lock (_gate) return [.. _rules];
        }
    }

    internal Fault? Take(string method, string path)
    {
        lock (_gate)
        {
            for (var i = 0; i < _rules.Count; i++)
            {
                var (rule, left) = _rules[i];
                if (!rule.Matches(method, path)) continue;
                if (left <= 1) _rules.RemoveAt(i);
                else _rules[i] = (rule, left - 1);
                return rule;
            }
            return null;
        }
    }

    internal bool FailsAllocationIn(IEnumerable<string> zones)
    {
        lock (_gate) return zones.Any(_allocationFailureZones.Contains);
    }
}
