using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using TestGrid.Results;

namespace TestGrid.Simulation;

/// <summary>
/// The simulated cloud's machines: one small file per live machine in a folder, so that every silo process of a
/// cluster sees the same cloud, and a silo killed with <c>kill -9</c> leaves its machines behind exactly as a real
/// cloud would. A file holds the machine's tags: its run and its expiry.
/// </summary>
public sealed class SimulatedCloud
{
    public SimulatedCloud(string folder)
    {
        Folder = Path.GetFullPath(folder);
        Directory.CreateDirectory(Folder);
    }

    public string Folder { get; }

    public static string MachineName(string attemptId) => $"sim-{attemptId.Replace('/', '_')}";

    public void Create(string name, string runId, DateTimeOffset expires) =>
        File.WriteAllText(Path.Combine(Folder, name), string.Create(CultureInfo.InvariantCulture, $"{runId}\n{expires.ToUnixTimeSeconds()}\n"));

    /// <summary>Deletes a machine; true if it existed.</summary>
    public bool Delete(string name)
    {
        var path = Path.Combine(Folder, name);
        if (!File.Exists(path)) return false;
        File.Delete(path);
        return true;
    }

    /// <summary>Every live machine with its tags.</summary>
    public IReadOnlyList<LeftOver> Machines()
    {
        var machines = new List<LeftOver>();
        foreach (var path in Directory.EnumerateFiles(Folder, "sim-*"))
        {
            string[] tags;
            try
            {
                tags = File.ReadAllLines(path);
            }
            catch (FileNotFoundException)
            {
                continue;
            }
            DateTimeOffset? expires = tags.Length > 1 && long.TryParse(tags[1], CultureInfo.InvariantCulture, out var seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : null;
            machines.Add(new LeftOver(Path.GetFileName(path), "simulated machine", tags.Length > 0 ? tags[0] : null, expires, "running"));
        }
        return machines;
    }
}

/// <summary>Seeded draws: the same inputs give the same number in every process (no process-randomised hashing).</summary>
public static class Draw
{
    /// <summary>A uniform number in (0, 1) from the seed and the parts naming what is drawn.</summary>
    public static double Uniform(int seed, params ReadOnlySpan<string> parts)
    {
        var text = new StringBuilder().Append(seed.ToString(CultureInfo.InvariantCulture));
        foreach (var part in parts) text.Append('\u001f').Append(part);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString()), hash);
        var bits = BitConverter.ToUInt64(hash) >> 11;
        return (bits + 0.5) / (1UL << 53);
    }
}
