using System.Globalization;
using System.Text;

namespace TestGrid.Tests.Azure.Arm;

/// <summary>Plausible serial console logs of a Debian 12 VM on Azure, as the boot diagnostics blob serves them.</summary>
internal static class SerialLogs
{
    /// <summary>What the console shows while the VM is still starting.</summary>
    public static string Starting(string vmName, bool arm64) => Kernel(vmName, arm64);

    /// <summary>A full boot: kernel, systemd, cloud-init with the host key fingerprint block the runner parses, a login prompt.</summary>
    public static string Booted(string vmName, bool arm64, string? fingerprint)
    {
        var log = new StringBuilder(Kernel(vmName, arm64));
        var now = DateTimeOffset.UtcNow.ToString("ddd, dd MMM yyyy HH:mm:ss +0000", CultureInfo.InvariantCulture);
        log.Append(CultureInfo.InvariantCulture, $"""
            [  OK  ] Started systemd-journald.service - Journal Service.
            [  OK  ] Finished systemd-remount-fs.service - Remount Root and Kernel File Systems.
            [  OK  ] Reached target network.target - Network.
                     Starting cloud-init.service - Initial cloud-init job (metadata service crawler)...
            [    4.512034] cloud-init[402]: Cloud-init v. 22.4.2 running 'init' at {now}. Up 4.51 seconds.
            [    4.733120] cloud-init[402]: Generating public/private ed25519 key pair.
            [    4.801377] cloud-init[402]: Your identification has been saved in /etc/ssh/ssh_host_ed25519_key
            [  OK  ] Finished cloud-init.service - Initial cloud-init job (metadata service crawler).
            [  OK  ] Reached target network-online.target - Network is Online.
            [  OK  ] Started ssh.service - OpenBSD Secure Shell server.

            """);
        if (fingerprint is not null)
        {
            log.Append(CultureInfo.InvariantCulture, $"""
                -----BEGIN SSH HOST KEY FINGERPRINTS-----
                256 {fingerprint} root@{vmName} (ED25519)
                -----END SSH HOST KEY FINGERPRINTS-----

                """);
        }
        log.Append(CultureInfo.InvariantCulture, $"""
            [  OK  ] Reached target multi-user.target - Multi-User System.
            [    6.020551] cloud-init[611]: Cloud-init v. 22.4.2 finished at {now}. Datasource DataSourceAzure [seed=/dev/sr0].  Up 6.02 seconds

            Debian GNU/Linux 12 {vmName} {Console(arm64)}

            {vmName} login: 
            """);
        return log.ToString();
    }

    /// <summary>A boot in which sshd never comes up and the guest finally panics.</summary>
    public static string NeverSsh(string vmName, bool arm64) => Kernel(vmName, arm64) + """
        [  OK  ] Started systemd-journald.service - Journal Service.
        [  OK  ] Reached target network.target - Network.
        [FAILED] Failed to start ssh.service - OpenBSD Secure Shell server.
        See 'systemctl status ssh.service' for details.
        [FAILED] Failed to start ssh.service - OpenBSD Secure Shell server.
        [FAILED] Failed to start cloud-init.service - Initial cloud-init job (metadata service crawler).
        [   31.337001] systemd[1]: ssh.service: Start request repeated too quickly.
        [   31.337952] systemd[1]: ssh.service: Failed with result 'exit-code'.
        [   62.104211] Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100
        [   62.104998] ---[ end Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000100 ]---

        """;

    private static string Console(bool arm64) => arm64 ? "ttyAMA0" : "ttyS0";

    private static string Kernel(string vmName, bool arm64)
    {
        var flavour = arm64 ? "cloud-arm64" : "cloud-amd64";
        var arch = arm64 ? "arm64" : "x86-64";
        return $"""
            [    0.000000] Linux version 6.1.0-28-{flavour} (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)
            [    0.000000] Command line: BOOT_IMAGE=/boot/vmlinuz-6.1.0-28-{flavour} root=PARTUUID=6d2f7a0e-01 ro console=tty0 console={Console(arm64)},115200n8 earlyprintk={Console(arm64)},115200
            [    0.000000] Hypervisor detected: Microsoft Hyper-V
            [    0.412345] Run /sbin/init as init process
            [    1.021345] systemd[1]: systemd 252.33-1~deb12u1 running in system mode (+PAM +AUDIT +SELINUX +APPARMOR +IMA +SMACK +SECCOMP +GCRYPT)
            [    1.023456] systemd[1]: Detected virtualization microsoft.
            [    1.024567] systemd[1]: Detected architecture {arch}.
            [    1.030000] systemd[1]: Hostname set to <{vmName}>.

            """;
    }
}
