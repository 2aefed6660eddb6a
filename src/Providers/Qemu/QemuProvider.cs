using System.Diagnostics;
using System.Globalization;
using System.Text;
using TestGrid.Matrix;
using TestGrid.Plan;
using TestGrid.Provision;
using TestGrid.Results;
using TestGrid.Ssh;

namespace TestGrid.Qemu;

/// <summary>
/// Boots the image file itself in QEMU, one fresh machine per attempt: a copy-on-write overlay over the image (which
/// is never written), a new ed25519 key given to the guest as a systemd credential (SMBIOS on x64, the kernel command
/// line on arm64), user networking with SSH forwarded from a free port of 127.0.0.1 and nothing else reachable
/// (<c>restrict=on</c>), KVM when it works for the guest's arch and TCG otherwise. Every machine is recorded with its
/// run, attempt, runner and expiry so that <see cref="QemuJanitor"/> ends what a crashed runner left.
/// </summary>
/// <param name="reboot">Let guests reboot (see <see cref="CommandLine"/>): only a test's stand-in for a partner's rebootable host does.</param>
public sealed class QemuProvider(QemuSpec spec, bool reboot = false) : IMachineProvider
{
    public const string ProviderName = "qemu";

    /// <summary>The QEMU processes this provider started, by attempt id, until they are destroyed or kept.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Process> _processes = new(StringComparer.Ordinal);

    public string Name => ProviderName;

    public Task<CapacityNeed> CapacityForAsync(Cell cell, CancellationToken cancellationToken)
    {
        if (!spec.Images.ContainsKey(cell.Image.Id))
            throw new NoCapacityException($"no QEMU image was resolved for image '{cell.Image.Id}'");
        return Task.FromResult(new CapacityNeed([], Math.Min(cell.Sku.Vcpus, QemuHost.Cores)));
    }

    public async Task<Machine> ProvisionAsync(ProvisionRequest request, CancellationToken cancellationToken)
    {
        var folder = QemuInstance.Folder(request.AttemptId);
        Directory.CreateDirectory(folder);
        try
        {
            return await StartAsync(request, folder, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Nothing of a machine that never came to be may stay behind: no process, no overlay, no key.
            if (_processes.TryRemove(request.AttemptId, out var process))
            {
                process.Kill(entireProcessTree: true);
                process.Dispose();
            }
            Directory.Delete(folder, recursive: true);
            throw;
        }
    }

    private async Task<Machine> StartAsync(ProvisionRequest request, string folder, CancellationToken cancellationToken)
    {
        var image = spec.Images[request.Cell.Image.Id];
        var log = request.Log;

        var format = DiskFormat.Detect(image.Disk);
        var overlay = Path.Combine(folder, "overlay.qcow2");
        await HostTool.RunAsync("qemu-img", ["create", "-q", "-f", "qcow2", "-F", format, "-b", Path.GetFullPath(image.Disk), overlay], cancellationToken, "disk").ConfigureAwait(false);
        log.Write($"image {image.Name}: {image.Disk} ({format}, detected); overlay {overlay}, the image itself is never written");

        var key = Path.Combine(folder, "id_ed25519");
        await HostTool.RunAsync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", $"testgrid-{request.AttemptId}", "-f", key], cancellationToken, "key").ConfigureAwait(false);
        var publicKey = string.Join(' ', (await File.ReadAllTextAsync(key + ".pub", cancellationToken).ConfigureAwait(false)).Split(' ').Take(2));

        var (vcpus, memory) = Size(request.Cell.Sku, log);
        var kvm = UseKvm(image.Arch, log);
        var port = LocalPorts.Free();
        var arguments = CommandLine(image, overlay, vcpus, memory, kvm, port, publicKey, request.AttemptId, reboot);

        // setsid: the guest gets its own session, so a Ctrl-C at the terminal reaches the runner (which tears the
        // machine down) and not QEMU; stdin is a pipe, so QEMU never touches the terminal.
        var start = new ProcessStartInfo("setsid") { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(QemuHost.Binary(image.Arch));
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        log.Write($"starting {QemuHost.Binary(image.Arch)} {string.Join(' ', arguments.Select(Quote))}");

        var clock = Stopwatch.StartNew();
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new ProvisionException("qemu", $"cannot start {QemuHost.Binary(image.Arch)}: {e.Message}", e);
        }
        _processes[request.AttemptId] = process;
        process.StandardInput.Close();
        var now = DateTimeOffset.UtcNow;
        new QemuInstance(request.AttemptId, request.RunId, request.Cell.Id, process.Id, QemuInstance.StartTicks(process.Id),
            Environment.ProcessId, QemuInstance.StartTicks(Environment.ProcessId), now, now + QemuInstance.MaxLifetime).Save(folder);

        var console = new ConsoleCapture(Path.Combine(request.ArtifactsPath, "console.log"), clock);
        var errors = process.StandardError.ReadToEndAsync(CancellationToken.None);
        _ = console.PumpAsync(process.StandardOutput.BaseStream, async () =>
        {
            await process.WaitForExitAsync().ConfigureAwait(false);
            var error = (await errors.ConfigureAwait(false)).Trim();
            return $"QEMU exited with code {process.ExitCode} after {clock.Elapsed.TotalSeconds:0.0} s" + (error.Length > 0 ? $": {Last(error, 400)}" : "");
        });

        var name = $"qemu-{image.Arch.Name()}-{request.AttemptId}";
        var target = new SshTarget("127.0.0.1", port, "root", key, HostKeys: []);
        return new Machine(name, target, TimeSpan.FromSeconds(spec.BootTimeoutSeconds), console)
        {
            Handle = request.AttemptId,
            NotRebootable = reboot ? null : "the QEMU provider's guests run with -no-reboot: a reboot would end the machine",
        };
    }

    public async Task DestroyAsync(Machine machine, CancellationToken cancellationToken)
    {
        var attemptId = machine.Handle!;
        if (_processes.TryRemove(attemptId, out var process))
        {
            using (process)
            {
                if (!process.HasExited) process.Kill(entireProcessTree: true);
                await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
                // The console pump ends with the process, closes the log and asks the process how it ended: only
                // then may the process object go.
                if (machine.Console is { } console) await console.Stopped.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false);
            }
        }
        else if (QemuInstance.Load(QemuInstance.Folder(attemptId)) is { IsAlive: true } instance)
        {
            QemuJanitor.Kill(instance.Pid);
        }
        Directory.Delete(QemuInstance.Folder(attemptId), recursive: true);
    }

    public Task ReclaimAsync(string runId, string attemptId, string? resource, CancellationToken cancellationToken)
    {
        // The runner that started it is gone (a crash of this or another process on this host); it may have died
        // before recording the process, so the guest is found by its name.
        foreach (var pid in QemuJanitor.ProcessesOf(attemptId)) QemuJanitor.Kill(pid);
        var folder = QemuInstance.Folder(attemptId);
        if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<LeftOver>> SweepAsync(DateTimeOffset now, bool dryRun, CancellationToken cancellationToken) =>
        Task.FromResult(QemuJanitor.Sweep(now, dryRun));

    public async Task<string?> KeepAsync(Machine machine, DateTimeOffset until, CancellationToken cancellationToken)
    {
        var attemptId = machine.Handle!;
        var folder = QemuInstance.Folder(attemptId);
        var instance = QemuInstance.Load(folder);
        if (instance is not { IsAlive: true }) return null;
        var reach = await KnownHosts.ReachAsync(machine.Ssh, Path.Combine(folder, "known_hosts"), cancellationToken).ConfigureAwait(false);
        (instance with { Kept = true, ExpiresAt = until, Reach = reach }).Save(folder);
        // The runner may exit now: the process stays, and so does its console pipe's reader for as long as the runner lives.
        _processes.TryRemove(attemptId, out _);
        return $"{reach}   (kept until {until:u}; then the next run's sweep ends it)";
    }

    /// <summary>The SKU's size, capped to what this host can give.</summary>
    private static (int Vcpus, int MemoryMiB) Size(SkuDefinition sku, IAttemptLog log)
    {
        var vcpus = Math.Min(sku.Vcpus, QemuHost.Cores);
        var wanted = (int)Math.Round(sku.MemoryGiB * 1024);
        var memory = Math.Min(wanted, QemuHost.MemoryMiB * 3 / 4);
        if (vcpus < sku.Vcpus || memory < wanted)
            log.Write($"SKU {sku.Name} asks for {sku.Vcpus} vCPUs and {wanted} MiB; this host gives {vcpus} vCPUs and {memory} MiB (capped to {QemuHost.Cores} cores, 3/4 of {QemuHost.MemoryMiB} MiB)");
        else
            log.Write($"SKU {sku.Name}: {vcpus} vCPUs, {memory} MiB");
        return (vcpus, memory);
    }

    private bool UseKvm(Arch arch, IAttemptLog log)
    {
        var (kvm, reason) = spec.Accelerator == "tcg" ? (false, "TCG was asked for") : QemuHost.KvmFor(arch);
        log.Write(kvm ? $"accelerator KVM ({reason})" : $"accelerator TCG, software emulation ({reason})");
        return kvm;
    }

    /// <summary>QEMU's arguments: direct kernel boot of the overlay, console on stdout, SSH forwarded from 127.0.0.1 only.</summary>
    /// <param name="reboot">Let a reboot in the guest restart it; the provider's guests end instead (<c>-no-reboot</c>), so
    /// a machine that reboots by accident cannot run on unnoticed. A test's stand-in for a partner's host reboots.</param>
    public static IReadOnlyList<string> CommandLine(QemuImage image, string overlay, int vcpus, int memoryMiB, bool kvm, int sshPort, string publicKey, string attemptId, bool reboot = false)
    {
        var arm = image.Arch == Arch.Arm64;
        var append = new StringBuilder(image.Append).Append(" panic=-1");
        var arguments = new List<string>
        {
            "-name", $"testgrid-{attemptId}",
            "-machine", arm ? "virt" : "q35",
            "-accel", kvm ? "kvm" : "tcg,thread=multi",
            "-cpu", kvm ? "host" : arm ? "max,pauth-impdef=on" : "max",
            "-smp", vcpus.ToString(CultureInfo.InvariantCulture),
            "-m", memoryMiB.ToString(CultureInfo.InvariantCulture),
            "-nodefaults", "-display", "none", "-monitor", "none", "-serial", "stdio",
            "-kernel", image.Kernel, "-initrd", image.Initrd,
            "-drive", $"file={overlay},if=none,id=disk0,format=qcow2,cache=unsafe",
            "-device", "virtio-blk-pci,drive=disk0",
            "-netdev", $"user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:{sshPort.ToString(CultureInfo.InvariantCulture)}-:22",
            "-device", "virtio-net-pci,netdev=net0",
            "-object", "rng-random,id=rng0,filename=/dev/urandom", "-device", "virtio-rng-pci,rng=rng0",
        };
        if (!reboot) arguments.Add("-no-reboot");
        if (arm)
        {
            // No firmware, so no SMBIOS: the credential travels on the kernel command line (systemd ≥ 252).
            append.Append(CultureInfo.InvariantCulture, $" \"systemd.set_credential=ssh.authorized_keys.root:{publicKey}\"");
        }
        else
        {
            arguments.AddRange(["-smbios", $"type=11,value=io.systemd.credential:ssh.authorized_keys.root={publicKey}"]);
        }
        arguments.AddRange(["-append", append.ToString()]);
        return arguments;
    }

    private static string Quote(string argument) => argument.Contains(' ', StringComparison.Ordinal) || argument.Length == 0 ? $"'{argument}'" : argument;

    private static string Last(string text, int length) => text.Length <= length ? text : "…" + text[^length..];
}
