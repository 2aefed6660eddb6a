using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace TestGrid.Qemu;

/// <summary>
/// The record of one QEMU process, in <c>$TESTGRID_STATE/qemu/&lt;attempt id&gt;/instance.json</c> beside its overlay
/// and key: tagged with its run, cell and attempt, who started it and until when it may live. It is what lets a sweep
/// end machines a crashed runner left, and never another process that reused the pid.
/// </summary>
public sealed record QemuInstance(
    string AttemptId,
    string RunId,
    string CellId,
    int Pid,
    long ProcessStartTicks,
    int RunnerPid,
    long RunnerStartTicks,
    DateTimeOffset CreatedAt,
    DateTimeOffset ExpiresAt,
    bool Kept = false,
    string? Reach = null)
{
    public const string FileName = "instance.json";

    /// <summary>A machine nobody keeps is ended this long after it started, whatever its runner does.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromHours(26);

    public static string Folder(string attemptId) => Path.Combine(TestGridPaths.State, "qemu", attemptId);

    public void Save(string folder) =>
        File.WriteAllText(Path.Combine(folder, FileName), JsonSerializer.Serialize(this, QemuJsonContext.Default.QemuInstance));

    public static QemuInstance? Load(string folder)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(Path.Combine(folder, FileName)), QemuJsonContext.Default.QemuInstance);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Whether the QEMU process is still the one this record describes.</summary>
    [JsonIgnore] public bool IsAlive => StartTicks(Pid) == ProcessStartTicks;

    /// <summary>Whether the runner (CLI or silo) that started it still lives.</summary>
    [JsonIgnore] public bool RunnerAlive => StartTicks(RunnerPid) == RunnerStartTicks;

    /// <summary>A process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or -1 if there is no such process.</summary>
    public static long StartTicks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) is in parentheses and may hold spaces: count fields after its closing one.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[19], CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return -1;
        }
    }
}

/// <summary>A recipe image's manifest, <c>image.json</c>, as deploy/images/vm-image.sh writes it.</summary>
public sealed record RecipeManifest(string Recipe, string Hash, string Arch, string Disk, string Kernel, string Initrd, string Append);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(QemuInstance))]
[JsonSerializable(typeof(RecipeManifest))]
internal sealed partial class QemuJsonContext : JsonSerializerContext;
