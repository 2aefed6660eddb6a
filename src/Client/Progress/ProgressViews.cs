using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;
using TestGrid.Client.Commands;
using TestGrid.Engine;
using TestGrid.Results;

namespace TestGrid.Client.Progress;

/// <summary>Shows a run while it goes: <paramref name="follow"/> calls its update action with every progress poll until the run ends.</summary>
internal interface IProgressView
{
    Task ShowAsync(RunSpec spec, Func<Action<RunProgress>, Task> follow);
}

/// <summary>For logs and CI: one line per cell state change.</summary>
internal sealed class PlainProgressView(TextWriter writer) : IProgressView
{
    public Task ShowAsync(RunSpec spec, Func<Action<RunProgress>, Task> follow) => follow(progress =>
    {
        foreach (var e in progress.Events)
        {
            var attempt = e.Attempt > 0 ? $" attempt {e.Attempt}" : "";
            var detail = e.Detail is null ? "" : $": {e.Detail}";
            writer.WriteLine($"[{RunCommand.Elapsed(e.At - progress.StartedAt)}] {e.Cell} ({e.CellId}) {StateNames.Of(e.State)}{attempt}{detail}");
        }
    });
}

/// <summary>For a terminal: a live grid of cells with counts per state and elapsed time (Spectre.Console).</summary>
internal sealed class LiveGridView(IAnsiConsole console) : IProgressView
{
    private readonly Dictionary<string, CellEvent> _latest = new(StringComparer.Ordinal);

    public Task ShowAsync(RunSpec spec, Func<Action<RunProgress>, Task> follow) =>
        console.Live(new Text("starting…")).AutoClear(false).Overflow(VerticalOverflow.Ellipsis).StartAsync(context => follow(progress =>
        {
            foreach (var e in progress.Events) _latest[e.CellId] = e;
            context.UpdateTarget(Render(progress));
            context.Refresh();
        }));

    private Rows Render(RunProgress progress)
    {
        var now = DateTimeOffset.UtcNow;
        var summary = string.Join("  ", progress.Counts.Where(c => c.Value > 0)
            .Select(c => $"[{StateNames.Colour(c.Key)}]{StateNames.Of(c.Key)} {c.Value}[/]"));
        var header = new Markup($"[bold]{progress.Cells} cells[/]  {RunCommand.Elapsed(now - progress.StartedAt)}  {summary}");

        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn(new TableColumn("cell").NoWrap()).AddColumn(new TableColumn("state").NoWrap())
            .AddColumns("attempt", "for", "detail");
        // Cells at work first, then the most recently ended, as many as the terminal holds.
        var rows = _latest.Values
            .OrderBy(e => e.State.IsTerminal())
            .ThenByDescending(e => e.At)
            .Take(Math.Max(5, console.Profile.Height - 8))
            .ToList();
        foreach (var e in rows)
        {
            table.AddRow(
                new Markup(Markup.Escape(e.Cell)),
                new Markup($"[{StateNames.Colour(e.State)}]{StateNames.Of(e.State)}[/]"),
                new Text(e.Attempt > 0 ? e.Attempt.ToString(CultureInfo.InvariantCulture) : ""),
                new Text(RunCommand.Elapsed(now - e.At)),
                new Text(e.Detail ?? ""));
        }
        var more = _latest.Count - rows.Count;
        IRenderable footer = more > 0 ? new Markup($"[grey]… {more} more cells[/]") : new Text("");
        return new Rows(header, table, footer);
    }
}

internal static class StateNames
{
    public static string Of(CellState state) => state switch
    {
        CellState.RunningSuites => "running suites",
        _ => state.ToString().ToLowerInvariant(),
    };

    public static string Colour(CellState state) => state switch
    {
        CellState.Passed => "green",
        CellState.Failed => "red",
        CellState.Error => "yellow",
        CellState.Cancelled => "grey",
        CellState.Queued => "grey",
        _ => "blue",
    };
}
