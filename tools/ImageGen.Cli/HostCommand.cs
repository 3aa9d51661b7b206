using ImageGen.Cli.Hosting;
using ImageGen.Pipeline.Orchestration;
using ImageGen.Pipeline.Serve;
using ImageGen.Pipeline.Storage;
using Microsoft.Extensions.Logging;

namespace ImageGen.Cli;

/// <summary>imagegen host: the whole app (blob drops -> durable pipeline -> published models -> serving) without the Functions host.</summary>
public static class HostCommand
{
    public static async Task<int> RunAsync(string[] rawArgs, TextWriter output)
    {
        var args = Args.Parse(CommandTree.Host, rawArgs);
        var pipeline = new PipelineSettings
        {
            QuietPeriod = args.Duration("--quiet") ?? new PipelineSettings().QuietPeriod,
            ChunkSteps = args.Int("--chunk-steps", 1, 1_000_000) ?? new PipelineSettings().ChunkSteps,
            ChunkTime = args.Duration("--chunk-time") ?? new PipelineSettings().ChunkTime,
            FirstRetryInterval = args.Duration("--retry-interval") ?? new PipelineSettings().FirstRetryInterval,
            EvalSamples = args.Int("--eval-samples", 100, 50_000) ?? new PipelineSettings().EvalSamples,
            ExtractorSteps = args.Int("--extractor-steps", 1, 100_000) ?? new PipelineSettings().ExtractorSteps,
        };
        CliApp.ConfigureRuntime(args, serving: true); // it serves as the Functions app does, which configures the same way
        var options = new LocalPipelineOptions
        {
            StorageConnection = StorageConnection.LocalConnectionString(args.String("--storage")),
            Urls = args.String("--urls") ?? "http://127.0.0.1:5080",
            Access = LocalAccess.FromArgs(args),
            TaskHub = args.String("--task-hub") ?? "ImageGen",
            Pipeline = pipeline,
            PollInterval = args.Duration("--poll") ?? TimeSpan.FromSeconds(5),
            ActivityLock = args.Duration("--activity-lock") ?? TimeSpan.FromMinutes(10),
            LogLevel = args.Has("--verbose") ? LogLevel.Information : LogLevel.Warning,
            Serve = new ServeOptions { WarmDatasets = args.String("--warm") ?? "" },
            Metrics = args.Has("--metrics"),
        };
        await using var host = await LocalPipelineHost.StartAsync(options);
        output.WriteLine($"imagegen host on {string.Join(", ", host.Addresses)}: drop images into training-images/{{dataset}}/; " +
                         $"runs start after {pipeline.QuietPeriod.TotalSeconds:0}s of quiet; GET /api/datasets/{{dataset}}/training for progress; Ctrl+C stops");
        await host.WaitForShutdownAsync();
        return 0;
    }
}
