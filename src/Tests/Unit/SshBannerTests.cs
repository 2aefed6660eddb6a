using System.Net;
using System.Net.Sockets;
using System.Text;
using TestGrid.Ssh;

namespace TestGrid.Tests.Unit;

/// <summary>
/// The banner probe against real sockets of this machine: a server that takes connections and answers when the test
/// says, as a guest behind user-mode networking does (slirp accepts at once; sshd answers, or not yet).
/// </summary>
[TestFixture]
public sealed class SshBannerTests
{
    [Test]
    public async Task A_waiting_probe_stays_open_while_another_starts_and_any_banner_is_the_answer()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var waiting = SshBanner.WaitAsync("127.0.0.1", port, TimeSpan.FromMinutes(2), CancellationToken.None);

        using var first = await listener.AcceptTcpClientAsync();
        using var second = await listener.AcceptTcpClientAsync();
        // The first probe got nothing and is still open: closing it would leave a connection for the guest to serve later.
        Assert.That(first.Client.Poll(0, SelectMode.SelectRead), Is.False, "the first probe was closed before any answer");
        await first.GetStream().WriteAsync(Encoding.ASCII.GetBytes("SSH-2.0-First\r\n"));

        Assert.That(await waiting, Is.EqualTo("SSH-2.0-First"));
        // Once answered, the other probe is closed.
        Assert.That(await second.GetStream().ReadAsync(new byte[1]), Is.Zero);
    }

    [Test]
    public async Task A_probe_closed_without_a_banner_is_replaced_and_lines_before_the_banner_are_skipped()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var waiting = SshBanner.WaitAsync("127.0.0.1", port, TimeSpan.FromMinutes(2), CancellationToken.None);

        using (var refused = await listener.AcceptTcpClientAsync()) refused.Close();
        using var next = await listener.AcceptTcpClientAsync();
        await next.GetStream().WriteAsync(Encoding.ASCII.GetBytes("hello\r\nSSH-2.0-Next\r\n"));

        Assert.That(await waiting, Is.EqualTo("SSH-2.0-Next"));
    }

    [Test]
    public void Nothing_listening_is_unreachable_once_the_time_is_up()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var failure = Assert.ThrowsAsync<SshFailure>(() => SshBanner.WaitAsync("127.0.0.1", port, TimeSpan.FromSeconds(1), CancellationToken.None));
        Assert.That(failure!.Kind, Is.EqualTo(SshFailureKind.Unreachable));
    }
}
