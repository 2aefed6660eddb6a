namespace TestGrid.Engine;

/// <summary>How the engine's grains behave on a silo.</summary>
public sealed class EngineOptions
{
    /// <summary>
    /// How often an active run checks that its dispatched cells are alive (a cell whose silo died is resumed on
    /// another). A reminder every <see cref="ReminderPeriod"/> brings the run itself back after its own silo died.
    /// </summary>
    public TimeSpan WatchdogPeriod { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The run's reminder period (Orleans' minimum is one minute).</summary>
    public TimeSpan ReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Whether runs resume by themselves: a cluster's silos do; the CLI's embedded engine resumes only on
    /// <c>testgrid resume</c>, and <c>testgrid status</c> reads a checkpoint without touching it.
    /// </summary>
    public bool AutoResume { get; set; } = true;

    /// <summary>
    /// Where attempt artefacts go on this silo (<c>&lt;root&gt;/&lt;run id&gt;</c>); null keeps the folder the client named
    /// (right when client and silos share a machine or a volume).
    /// </summary>
    public string? ArtifactsRoot { get; set; }

    /// <summary>How many attempts of a cell may be lost with their silo (crash, shutdown) before the cell ends in error.</summary>
    public int MaxLostAttempts { get; set; } = 3;
}
