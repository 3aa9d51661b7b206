using ImageGen.Cli.Hosting;
using ImageGen.Pipeline.Serve;
using ImageGen.Pipeline.Storage;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ImageGen.Cli;

/// <summary>imagegen serve: the HTTP endpoints on Kestrel, reading published models from blob storage (Azurite locally).</summary>
public static class ServeCommand
{

    public static async Task<int> RunAsync(string[] rawArgs, TextWriter output)
    {
        var args = Args.Parse(CommandTree.Serve, rawArgs);
        var options = new ServeOptions
        {
            Batching = !args.Has("--no-batching"),
            MaxLoadedModels = args.Int("--max-models", 1, 64) ?? 4,
            BatchWindow = TimeSpan.FromMilliseconds(args.Int("--batch-window-ms", 0, 1000) ?? 0),
            MaxQueuedRequests = args.Int("--max-queue", 1, 100_000) ?? 64,
            MaxRequestPixels = args.Long("--max-request-pixels", 1, 1L << 32) ?? new ServeOptions().MaxRequestPixels,
            MaxPixelsInFlight = args.Long("--max-pixels-in-flight", 1, 1L << 34) ?? new ServeOptions().MaxPixelsInFlight,
            MaxConcurrentEncodes = args.Int("--max-encodes", 1, 1024) ?? new ServeOptions().MaxConcurrentEncodes,
            WarmDatasets = args.String("--warm") ?? "",
            Backend = args.Enum<ServeBackend>("--backend") ?? ServeBackend.Auto,
            OnnxThreads = args.Int("--threads", 1, 1024) ?? 0,
        };
        // --lean: composed as the lean Functions build (functions/ImageGen.Functions.Front) is, ONNX Runtime alone; libtorch
        // is never configured or loaded, so its cold start and memory are the lean build's.
        bool lean = args.Has("--lean");
        if (lean && options.Backend == ServeBackend.Libtorch) throw new UsageException("--lean serves with ONNX Runtime alone; it takes --backend auto or onnx");
        if (!lean) CliApp.ConfigureRuntime(args, serving: true);
        string storage = StorageConnection.LocalConnectionString(args.String("--storage"));
        var access = LocalAccess.FromArgs(args);
        await using var app = LocalServeHost.Build(storage, options, args.String("--urls") ?? "http://127.0.0.1:5080", access, metrics: args.Has("--metrics"), libtorch: !lean);
        await LocalServeHost.StartAsync(app, access);
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        output.WriteLine($"serving on {string.Join(", ", addresses)} (batching {(options.Batching ? "on" : "off")}, backend {options.Backend.ToString().ToLowerInvariant()}{(lean ? ", lean: no libtorch" : "")}); Ctrl+C stops");
        await app.WaitForShutdownAsync();
        return 0;
    }
}
