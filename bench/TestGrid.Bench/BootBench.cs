using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using TestGrid.Attempts;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Qemu;
using TestGrid.Results;
using TestGrid.Ssh;
using TestGrid.Suites;

namespace TestGrid.Bench;

/// <summary>
/// Boot to SSH, measured by the runner on real QEMU guests of the repository's recipes: for each arch, N attempts one
/// after the other (one guest at a time, 2 vCPUs, 2 GiB), each running one trivial test. Prints every attempt's
/// milestones in seconds from QEMU's start and the median of each: first console byte, kernel start, SSH banner,
/// SSH login, first test command (the runner's overhead is the last minus the banner); and the boot detection lag
/// (<see cref="BootLag"/>): from the guest's own moment of sshd listening to the host noticing the banner.
/// </summary>
internal static class BootBench
{
    private static readonly string[] Milestones = ["boot.first_console_byte", "boot.kernel_start", "boot.ssh_banner", "boot.ssh_login", "suites.first_command"];

    public static async Task RunAsync(IReadOnlyList<Arch> arches, int runs, string accelerator)
    {
        var images = FindImagesFolder();
        var suite = new SuitePackage(
            // probe: before it runs (after noop, so the runner's overhead is not disturbed) the bench measures the boot detection lag.
            new SuiteDefinition { Name = "bench", Tests = [new TestDefinition("noop", 60, Script: "noop.sh"), new TestDefinition("probe", 60, Script: "noop.sh")], ContentHash = "bench" },
            [new SuiteFile("noop.sh", "#!/bin/sh\ntrue\n"u8.ToArray())]);
        var output = Path.Combine(Path.GetTempPath(), $"testgrid-boot-bench-{Environment.ProcessId}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"boot to SSH on QEMU ({accelerator}), {runs} attempts per arch, one at a time; {QemuHost.Cores} cores; seconds from QEMU's start"));
        foreach (var arch in arches)
        {
            var recipe = arch == Arch.X64 ? "debian12-vm-amd64" : "debian12-vm-arm64";
            var folder = (await Run(Path.Combine(images, "vm-image.sh"), recipe)).Split('\n')[^1].Trim();
            var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "image.json"))).RootElement;
            var image = new QemuImage(arch, Path.Combine(folder, "disk.qcow2"), Path.Combine(folder, "vmlinuz"), Path.Combine(folder, "initrd.img"),
                manifest.GetProperty("append").GetString()!, recipe);
            var provider = new RememberingProvider(new QemuProvider(new QemuSpec(new Dictionary<string, QemuImage> { ["bench"] = image }, 600, accelerator)));
            var runner = new AttemptRunner(provider, new SshSessionOptions(), NullLogger<AttemptRunner>.Instance);
            var cell = new Cell
            {
                Id = "bench", Name = $"bench/{arch.Name()}", Provider = QemuProvider.ProviderName, Region = "local", Suites = [new SuiteRef("bench", "bench")],
                Image = new CellImage { Id = "bench", Family = "debian", Arch = arch, Source = JsonDocument.Parse("{}").RootElement },
                Sku = new SkuDefinition("bench", arch, 2, 2),
            };
            var results = new List<IReadOnlyDictionary<string, double>>();
            var lags = new List<BootLag>();
            for (var i = 1; i <= runs; i++)
            {
                BootLag? lag = null;
                var result = await runner.RunAsync(new AttemptRequest("bench", cell, i, $"bench-{Environment.ProcessId}-{arch.Name()}-{i}", [suite], new PolicyDefinition(), null, output),
                    async (_, detail) =>
                    {
                        if (detail == "bench/probe") lag = await BootLag.MeasureAsync(provider.Last!, CancellationToken.None);
                    }, CancellationToken.None);
                if (result.Outcome != AttemptOutcome.Completed) throw new InvalidOperationException($"attempt {i} on {arch.Name()} ended {result.Outcome}: {result.Error}");
                if (lag is null) throw new InvalidOperationException($"attempt {i} on {arch.Name()}: the probe test did not run");
                lag = lag with { NoticedUnix = result.Metrics["boot.ssh_banner_unix"] };
                results.Add(result.Metrics);
                lags.Add(lag);
                Console.WriteLine($"  {arch.Name(),-5} #{i}  " + string.Join("  ", Milestones.Select(m => string.Create(CultureInfo.InvariantCulture, $"{Short(m)} {result.Metrics[m],6:0.00}")))
                    + "  " + LagColumns(lag, result.Metrics));
            }
            Console.WriteLine($"  {arch.Name(),-5} median " + string.Join("  ", Milestones.Select(m => string.Create(CultureInfo.InvariantCulture, $"{Short(m)} {Median(results.Select(r => r[m])),6:0.00}")))
                + string.Create(CultureInfo.InvariantCulture, $"  lag {Median(lags.Select(l => l.SshdLagSeconds)) * 1000,5:0} ms from sshd listening, {Median(lags.Select(l => l.LagSeconds)) * 1000,5:0} ms from ready")
                + string.Create(CultureInfo.InvariantCulture, $"   runner overhead banner→first command {Median(results.Select(r => r["suites.first_command"] - r["boot.ssh_banner"])):0.00} s"));
            Figures.Add(new Figure("boot", $"{arch.Name()}: boot detection lag (sshd started in the guest → TestGrid noticed its banner), median", Median(lags.Select(l => l.SshdLagSeconds)) * 1000, "ms", Target: 200,
                Note: "sshd started = sshd's own 'Server listening on' (guest journal; Debian 12's ssh.socket starts the one sshd at the first connection), on the host clock by an NTP-style offset over SSH; noticed = boot.ssh_banner_unix; includes the guest's own per-connection sshd start (next figure)"));
            Figures.Add(new Figure("boot", $"{arch.Name()}: the guest's share: a fresh connection's SSH banner once booted, median", Median(lags.Select(l => l.FreshBannerSeconds)) * 1000, "ms",
                Note: "connect → banner on the booted guest: sshd forks and re-executes itself per connection; no prober notices sooner"));
            Figures.Add(new Figure("boot", $"{arch.Name()}: TestGrid's own share: sshd answering a fresh connection → the probe read the banner, median", Median(lags.Select(l => l.BannerReadSeconds).Where(double.IsFinite)) * 1000, "ms",
                Note: "once booted, with sshd at LogLevel VERBOSE for this: its 'Connection from' line comes just before the banner (guest clock → host clock, ± the offset's uncertainty)"));
            Figures.Add(new Figure("boot", $"{arch.Name()}: the guest logged the answered probe's close, relative to TestGrid noticing, median", Median(lags.Select(l => l.CloseSeenSeconds).Where(double.IsFinite)) * 1000, "ms",
                Note: "the reverse path (host close → slirp → sshd → journal; negative: the probe is closed before the moment is recorded), for the scale of the banner's way to TestGrid, which the guest does not log"));
            Figures.Add(new Figure("boot", $"{arch.Name()}: from ssh.socket listening (and the guest's network up) to TestGrid noticing, median", Median(lags.Select(l => l.LagSeconds)) * 1000, "ms",
                Note: "the first connection that reaches the socket starts sshd (under TCG its start takes seconds of the guest's own time), then sshd answers"));
            Figures.Add(new Figure("boot", $"{arch.Name()}: guest ready (socket and network) → the first connection reached it, median", Median(lags.Select(l => l.TriggerSeconds)) * 1000, "ms",
                Note: "systemd's 'Starting ssh.service': how soon a probe got through user-mode networking once the guest could take it"));
            Figures.Add(new Figure("boot", $"{arch.Name()}: probe connections sshd served before the banner was noticed, median", Median(lags.Select(l => (double)l.UnansweredBeforeNotice)), "connections",
                Note: "each costs an sshd start in the guest; the one that answered counts too"));
            Figures.Add(new Figure("boot", $"{arch.Name()}: boot detection lag, clock-offset uncertainty (half the smallest round trip, worst attempt)", lags.Max(l => l.UncertaintySeconds) * 1000, "ms"));
            Figures.Add(new Figure("boot", $"{arch.Name()}: SSH banner from QEMU's start, median", Median(results.Select(r => r["boot.ssh_banner"])), "s"));
            Figures.Add(new Figure("boot", $"{arch.Name()}: SSH login from QEMU's start, median", Median(results.Select(r => r["boot.ssh_login"])), "s"));
        }
        Directory.Delete(output, recursive: true);
    }

    private static string Short(string metric) => metric.Split('.')[1];

    /// <summary>The lag and what it is made of, in seconds from QEMU's start (the host's start: noticed minus <c>boot.ssh_banner</c>).</summary>
    private static string LagColumns(BootLag lag, IReadOnlyDictionary<string, double> metrics)
    {
        var start = lag.NoticedUnix - metrics["boot.ssh_banner"];
        double Host(double guestUnix) => guestUnix - lag.OffsetSeconds - start;
        return string.Create(CultureInfo.InvariantCulture,
            $"lag {lag.SshdLagSeconds * 1000,5:0} ms ±{lag.UncertaintySeconds * 1000:0.0} from sshd listening, {lag.LagSeconds * 1000,5:0} ms from ready; fresh banner {lag.FreshBannerSeconds * 1000:0} ms (read {lag.BannerReadSeconds * 1000:0} ms after sshd answered), answered probe's close logged {lag.CloseSeenSeconds * 1000:+0;-0} ms from notice  "
            + $"(socket {Host(lag.ListeningUnix):0.00}, network {Host(lag.NetworkUnix):0.00}, first connection in {(lag.TriggeredUnix is { } t ? Host(t).ToString("0.00", CultureInfo.InvariantCulture) : "?")}, "
            + $"sshd listening {(lag.SshdListeningUnix is { } up ? Host(up).ToString("0.00", CultureInfo.InvariantCulture) : "?")}, {lag.UnansweredBeforeNotice} probes served before notice, {lag.DropsBeforeNotice} MaxStartups drops; guest clock {lag.OffsetSeconds:+0.000;-0.000} s)");
    }

    private static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        if (sorted.Count == 0) return double.NaN;
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static string FindImagesFolder()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var images = Path.Combine(dir.FullName, "deploy", "images");
            if (File.Exists(Path.Combine(images, "vm-image.sh"))) return images;
        }
        throw new InvalidOperationException("no deploy/images above the benchmark");
    }

    private static async Task<string> Run(string file, string argument)
    {
        var start = new ProcessStartInfo(file, [argument]) { RedirectStandardOutput = true };
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{file} {argument} exited {process.ExitCode}");
        return output.Trim();
    }
}
