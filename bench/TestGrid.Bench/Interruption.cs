using System.Runtime.InteropServices;

namespace TestGrid.Bench;

/// <summary>
/// Ctrl-C (SIGINT) or SIGTERM cancels <see cref="Token"/> instead of ending the process, so that a benchmark which
/// started processes (silos, Azurite) stops them and deletes its folders before it exits.
/// </summary>
internal sealed class Interruption : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration[] _signals;

    public Interruption(string bench)
    {
        _signals = [.. new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM }.Select(signal => PosixSignalRegistration.Create(signal, context =>
        {
            context.Cancel = true;
            Console.Error.WriteLine($"{bench}: interrupted; stopping everything it started");
            _cancel.Cancel();
        }))];
    }

    public CancellationToken Token => _cancel.Token;

    public void Dispose()
    {
        foreach (var signal in _signals) signal.Dispose();
        _cancel.Dispose();
    }
}
