using System.Collections.Immutable;
using System.Text.Json;
using Spectre.Console;
using TestGrid.Client.Progress;
using TestGrid.Engine;
using TestGrid.Results;

namespace TestGrid.Tests.Unit;

/// <summary>The live grid renders each cell's state, counts per state and elapsed time; plain mode prints a line per change.</summary>
[TestFixture]
public sealed class LiveGridTests
{
    private static readonly DateTimeOffset Start = DateTimeOffset.UtcNow.AddSeconds(-75);

    [Test]
    public async Task The_live_grid_shows_cells_states_and_counts()
    {
        using var writer = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer), Ansi = AnsiSupport.Yes, ColorSystem = ColorSystemSupport.NoColors, Interactive = InteractionSupport.Yes,
        });
        console.Profile.Width = 160;
        console.Profile.Height = 40;

        await new LiveGridView(console).ShowAsync(null!, update =>
        {
            update(Progress(false, new CellEvent(1, "c1", "al4/D2s/eastus", CellState.RunningSuites, 1, "smoke/disk", Start.AddSeconds(10)),
                                   new CellEvent(2, "c2", "al4/D4s/eastus", CellState.Passed, 1, "5 passed", Start.AddSeconds(20))));
            return Task.CompletedTask;
        });

        var screen = writer.ToString();
        Assert.That(screen, Does.Contain("2 cells").And.Contain("01:1").And.Contain("al4/D2s/eastus").And.Contain("running suites").And.Contain("smoke/disk"));
        Assert.That(screen, Does.Contain("passed 1").And.Contain("running suites 1"));
    }

    [Test]
    public async Task Plain_progress_prints_one_line_per_state_change()
    {
        using var writer = new StringWriter();
        await new PlainProgressView(writer).ShowAsync(null!, update =>
        {
            update(Progress(false, new CellEvent(1, "c1", "al4/D2s/eastus", CellState.Booting, 2, "host-3", Start.AddSeconds(5))));
            update(Progress(true, new CellEvent(2, "c1", "al4/D2s/eastus", CellState.Error, 2, "unreachable: no banner", Start.AddSeconds(65))));
            return Task.CompletedTask;
        });
        Assert.That(writer.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[]
        {
            "[00:05] al4/D2s/eastus (c1) booting attempt 2: host-3",
            "[01:05] al4/D2s/eastus (c1) error attempt 2: unreachable: no banner",
        }));
    }

    private static RunProgress Progress(bool done, params CellEvent[] events) => new()
    {
        Events = [.. events],
        Counts = Enum.GetValues<CellState>().ToImmutableDictionary(s => s, s => events.Count(e => e.State == s)),
        Done = done,
        StartedAt = Start,
        Cells = 2,
    };
}
