using TestGrid.Client;

return await Cli.InvokeAsync(args, Console.Out, Console.Error, handleTermination: true).ConfigureAwait(false);
