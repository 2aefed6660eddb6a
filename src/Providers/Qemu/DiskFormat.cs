namespace TestGrid.Qemu;

/// <summary>Tells a disk image's format from its bytes, never from its name.</summary>
public static class DiskFormat
{
    public const string Qcow2 = "qcow2";
    public const string Vhd = "vpc";
    public const string Vmdk = "vmdk";
    public const string Raw = "raw";

    /// <summary>"QFI" and 0xFB.</summary>
    private static ReadOnlySpan<byte> Qcow2Magic => [0x51, 0x46, 0x49, 0xFB];

    /// <summary>QEMU's name for the format of <paramref name="path"/>: qcow2, vpc (VHD, fixed or dynamic), vmdk or raw.</summary>
    /// <exception cref="NotSupportedException">VHDX, which QEMU reads but Azure does not take.</exception>
    public static string Detect(string path)
    {
        using var file = File.OpenRead(path);
        Span<byte> head = stackalloc byte[8];
        var read = file.Read(head);
        if (read >= 4 && head[..4].SequenceEqual(Qcow2Magic)) return Qcow2;
        if (read >= 8 && head.SequenceEqual("conectix"u8)) return Vhd; // a dynamic VHD starts with a copy of its footer
        if (read >= 8 && head.SequenceEqual("vhdxfile"u8)) throw new NotSupportedException($"{path} is VHDX; convert it to a fixed VHD or qcow2");
        if (read >= 4 && head[..4].SequenceEqual("KDMV"u8)) return Vmdk;
        if (file.Length >= 512)
        {
            // A fixed VHD is raw data followed by a 512-byte footer; QEMU would take it for raw unless told.
            Span<byte> footer = stackalloc byte[8];
            file.Seek(-512, SeekOrigin.End);
            if (file.Read(footer) == 8 && footer.SequenceEqual("conectix"u8)) return Vhd;
        }
        return Raw;
    }
}
