namespace TestGrid.Results;

/// <summary>Something a provider made that is (or was, when swept) still alive: a VM, a resource group, a QEMU process.</summary>
/// <param name="Id">The provider's id for it (an Azure resource id, a QEMU attempt id).</param>
/// <param name="Run">The run that made it, from its tags or records.</param>
/// <param name="ExpiresAt">Its recorded expiry.</param>
/// <param name="State">What happened to it: <c>alive</c>, <c>kept</c>, <c>deleted</c>, <c>would delete</c> (dry run), <c>delete failed: …</c>.</param>
public sealed record LeftOver(string Id, string Kind, string? Run, DateTimeOffset? ExpiresAt, string State);
