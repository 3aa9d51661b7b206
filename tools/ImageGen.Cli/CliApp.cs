using ImageGen.Core.Runtime;

namespace ImageGen.Cli;

public static class CliApp
{
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error)
    {
        try
        {
            if (args.Length == 0) return QuickstartCommand.Run(output, error);
            // Help (imagegen --help, imagegen CMD --help), --version and completions ([suggest]) come from System.CommandLine,
            // drawn from the command table; every command parses its own arguments from the same table.
            var parsed = CommandTree.Build().Parse(args[0] == "help" ? ["--help", .. args[1..]] : args);
            // The commands set no action of their own: any action but a parse error is help, --version or [suggest].
            if (parsed.Action is { } action && action is not System.CommandLine.Invocation.ParseErrorAction)
                return await parsed.InvokeAsync(new System.CommandLine.InvocationConfiguration { Output = output, Error = error });
            string command = args[0];
            var rest = args.Skip(1).ToArray();
            switch (command)
            {
                case "train": return TrainCommand.Run(rest, output, error);
                case "sample": return SampleCommand.Run(rest, output);
                case "ingest": return IngestCommand.Run(rest, output);
                case "bench": return BenchCommand.Run(rest, output);
                case "serve": return await ServeCommand.RunAsync(rest, output);
                case "publish": return await PublishCommand.RunAsync(rest, output);
                case "export": return ExportCommand.Run(rest, output);
                case "extractor": return EvalCommand.TrainExtractor(rest, output);
                case "eval": return EvalCommand.Run(rest, output);
                case "host": return await HostCommand.RunAsync(rest, output);
                case "up": return await UpCommand.RunAsync(rest, output);
                case "drop": return await DropCommand.RunAsync(rest, output);
                case "completion":
                    if (rest is not ["bash"]) throw new UsageException("'completion' takes the shell: imagegen completion bash");
                    output.WriteLine(CommandTree.BashCompletion);
                    return 0;
                default:
                    throw new UsageException($"unknown command '{command}'; use {string.Join(", ", CommandTree.All.Select(c => c.Name))} (imagegen --help)");
            }
        }
        // Errors in what the user gave: their message is the whole story. A disposed object is a bug in the code, not the
        // input, so it is left to surface with its stack trace.
        catch (Exception e) when (e is UsageException or ArgumentException or FormatException or FileNotFoundException
                                       or DirectoryNotFoundException or InvalidDataException
                                       or InvalidOperationException and not ObjectDisposedException)
        {
            error.WriteLine($"error: {e.Message}");
            return 2;
        }
        // What the machine around the command refused: a port already taken, storage that does not answer or refuses.
        // The message names what failed; a stack trace would only hide it.
        catch (Exception e) when (EnvironmentFailure(e) is { } message)
        {
            error.WriteLine($"error: {message}");
            return 1;
        }
        finally { await error.FlushAsync(); }
    }

    /// <summary>The one-line message of a failure outside the command (network, disk, storage), or null for anything else.</summary>
    private static string? EnvironmentFailure(Exception e) => e switch
    {
        AggregateException { InnerExceptions.Count: > 0 } all when all.InnerExceptions.All(i => EnvironmentFailure(i) is not null) =>
            $"{FirstLine(all.Message)}: {EnvironmentFailure(all.InnerExceptions[^1])}",
        Azure.RequestFailedException storage => $"storage answered {(storage.Status > 0 ? $"HTTP {storage.Status}" : "nothing")}: {FirstLine(storage.Message)}",
        HttpRequestException or IOException or System.Net.Sockets.SocketException => FirstLine(e.Message),
        _ => null,
    };

    private static string FirstLine(string text) => text.Split('\n', 2)[0].TrimEnd();

    /// <summary>Threads and allocator settings, applied before the first tensor is made.</summary>
    public static void ConfigureRuntime(Args args, bool serving = false)
    {
        TorchRuntime.Configure(args.Int("--threads", 1, 1024), serving: serving);
    }
}
