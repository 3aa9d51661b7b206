using System.Diagnostics;
using System.Net.Http.Json;
using System.Runtime.InteropServices;
using System.Text.Json;
using Azure.Storage.Blobs;
using ImageGen.Cli.Hosting;
using ImageGen.Core.Data;
using ImageGen.Core.Imaging;
using ImageGen.Pipeline.Orchestration;
using ImageGen.Pipeline.Storage;
using Spectre.Console;
using TorchSharp;

namespace ImageGen.Cli;

/// <summary>
/// imagegen up: the whole system on this machine in one command. Azurite (installed from the pinned lock file when
/// missing, data in a local folder), the pipeline host on :7071 (Core Tools' port, so the README's curl lines work
/// against func start and this alike), a demo drop, the run followed live, and once v0001 is published a sample
/// grid saved and the URLs to try; then it serves until Ctrl+C. A second up on the same data folder resumes: a
/// published demo is not trained again, a run stopped mid-training carries on from its checkpoint.
/// </summary>
public static class UpCommand
{
    public const string Dataset = "demo";

    public static async Task<int> RunAsync(string[] rawArgs, TextWriter output)
    {
        var args = Args.Parse(CommandTree.Up, rawArgs);
        string root = RepositoryRoot.Find();
        string dataFolder = Path.GetFullPath(args.String("--data") ?? Path.Combine(root, ".imagegen"));
        string urls = args.String("--urls") ?? "http://localhost:7071";
        var ports = args.String("--azurite-ports") switch
        {
            null or "default" => (10000, 10001, 10002),
            "0" or "auto" => (0, 0, 0),
            var other => throw new UsageException($"--azurite-ports '{other}' is not default (10000-10002) or auto (0: the OS picks)"),
        };
        int steps = args.Int("--steps", 10, 1_000_000) ?? 400;
        int images = args.Int("--images", 64, 60_000) ?? 2000;
        CliApp.ConfigureRuntime(args, serving: true);

        LocalAzurite.EnsureInstalled(root, output);
        using var azurite = LocalAzurite.Start(root, Path.Combine(dataFolder, "azurite"), ports);
        output.WriteLine($"Azurite: blob {azurite.BlobPort}, queue {azurite.QueuePort}, table {azurite.TablePort}; data in {dataFolder}");
        await using var host = await LocalPipelineHost.StartAsync(new LocalPipelineOptions
        {
            StorageConnection = azurite.ConnectionString, Urls = urls, TaskHub = "ImageGen", Access = LocalAccess.FromArgs(args),
            // A demo's pace: a short quiet period, short chunks, a small evaluation. A chunk cut short by a stop is
            // handed out again once its lock expires, so the lock is short too: a restarted up resumes within 90 s.
            Pipeline = new PipelineSettings
            {
                QuietPeriod = TimeSpan.FromSeconds(2), ChunkSteps = 100, ChunkTime = TimeSpan.FromSeconds(45), EvalSamples = 500, ExtractorSteps = 100,
            },
            ActivityLock = TimeSpan.FromSeconds(90),
            PollInterval = TimeSpan.FromSeconds(1), MaxQueuePollingInterval = TimeSpan.FromMilliseconds(500),
        });
        string baseUrl = host.Addresses.First().TrimEnd('/');
        output.WriteLine($"host: {baseUrl} (the Functions app's endpoints and pipeline, without the Functions host)");
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromMinutes(5) };
        var storage = new BlobServiceClient(azurite.ConnectionString);

        // Ctrl+C (SIGINT) or SIGTERM: stop following, then shut the host down (its chunk stops at a step boundary and
        // keeps that checkpoint) and Azurite (cleanly, so it saves its data), so the next up resumes.
        using var stop = new CancellationTokenSource();
        using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        try
        {
            string? version = await PublishedVersionAsync(http, stop.Token);
            bool dropped = version is not null || await new ModelRegistry(storage).HasTrainingImagesAsync(Dataset, stop.Token);
            if (dropped && (args.Has("--steps") || args.Has("--images")))
                output.WriteLine($"--steps and --images shape a new demo drop; {dataFolder} holds one already (give another --data folder for a new demo)");
            if (version is not null) output.WriteLine($"{Dataset}: {version} is published already; not training again");
            else
            {
                if (!dropped)
                    await DropDemoAsync(storage, images, steps, output, stop.Token);
                else if (!await RunningAsync(http, stop.Token))
                {
                    // Images but no model and nothing running (a run that failed or was cancelled): train them.
                    using var body = JsonContent.Create(new { });
                    (await http.PostAsync($"/api/datasets/{Dataset}/train", body, stop.Token)).EnsureSuccessStatusCode();
                    output.WriteLine($"{Dataset}: images are there, no model: training them");
                }
                else output.WriteLine($"{Dataset}: a run is under way; following it");
                version = await FollowAsync(http, output, stop.Token);
                if (version is null) return 1;
            }
            string grid = Path.Combine(dataFolder, $"{Dataset}-samples.png");
            var response = await http.GetAsync($"/api/datasets/{Dataset}/samples?count=64&seed=0", stop.Token);
            response.EnsureSuccessStatusCode();
            await File.WriteAllBytesAsync(grid, await response.Content.ReadAsByteArrayAsync(stop.Token), stop.Token);
            output.WriteLine($"""
                {Dataset} {version}: 64 samples (seeds 0-63) saved to {grid}
                try:
                  curl -o grid.png "{baseUrl}/api/datasets/{Dataset}/samples?count=16&seed=1"
                  curl "{baseUrl}/api/datasets/{Dataset}/training"
                  curl "{baseUrl}/api/datasets/{Dataset}/models"
                  open {baseUrl}/api/ui in a browser
                  your own images: tools/imagegen drop <folder | .zip> --dataset NAME, or Upload in the console (a run starts after 2 s of quiet)
                """);
            if (args.Has("--once")) return 0;
            output.WriteLine("serving until Ctrl+C");
            await Task.Delay(Timeout.Infinite, stop.Token).ContinueWith(_ => { });
            output.WriteLine("stopping the host and Azurite");
            return 0;
        }
        catch (Exception) when (stop.IsCancellationRequested) // cancelled mid-request, or the host stopping on the same signal
        {
            output.WriteLine("stopped; the run's checkpoint is kept, and up carries on from it next time");
            return 130;
        }
    }

    private static async Task<JsonElement> StatusAsync(HttpClient http, CancellationToken cancellationToken) =>
        JsonDocument.Parse(await http.GetStringAsync($"/api/datasets/{Dataset}/training", cancellationToken)).RootElement;

    private static async Task<bool> RunningAsync(HttpClient http, CancellationToken cancellationToken)
    {
        var response = await http.GetAsync($"/api/datasets/{Dataset}/training", cancellationToken);
        if (!response.IsSuccessStatusCode) return false;
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken)).RootElement;
        return body.TryGetProperty("running", out var running) && running.GetBoolean();
    }

    private static async Task<string?> PublishedVersionAsync(HttpClient http, CancellationToken cancellationToken)
    {
        var response = await http.GetAsync($"/api/datasets/{Dataset}/models", cancellationToken);
        if (!response.IsSuccessStatusCode) return null;
        var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(cancellationToken)).RootElement;
        return body.TryGetProperty("latestVersion", out var latest) && latest.ValueKind == JsonValueKind.String ? latest.GetString() : null;
    }

    /// <summary>
    /// The demo dataset: Fashion-MNIST from Debian's dataset-fashion-mnist when installed, else synthetic shapes the
    /// project draws, in colour (so the RGB path is shown too), with an imagegen.json sized for a few minutes on 2 cores.
    /// </summary>
    private static async Task DropDemoAsync(BlobServiceClient storage, int count, int steps, TextWriter output, CancellationToken cancellationToken)
    {
        bool fashion = File.Exists(IdxReader.DebianFashionMnistTrain);
        int channels = fashion ? 1 : 3;
        var container = storage.GetBlobContainerClient(StorageLayout.TrainingImagesContainer);
        await container.EnsureExistsAsync(cancellationToken);
        // The options first: the drop's first image signals the pipeline, which reads them once uploads go quiet.
        await container.GetBlobClient(StorageLayout.DatasetOptions(Dataset)).UploadAsync(BinaryData.FromString(JsonSerializer.Serialize(new
        {
            model = "dcgan", imageSize = 32, channels, ngf = 32, ndf = 32, batchSize = 64, maxSteps = steps, seed = 1, publish = "always",
        })), overwrite: true, cancellationToken);
        List<byte[]> pngs;
        using (var data = fashion ? IdxReader.ReadImages(IdxReader.DebianFashionMnistTrain, count) : SyntheticShapes.Generate(count, 32, 3, seed: 1))
        using (var scope = torch.NewDisposeScope())
        {
            var pixels = TensorImages.ToPixels(data.Batch(torch.arange(data.Count)));
            pngs = Enumerable.Range(0, pixels.Count).Select(i => ImageGrid.EncodePng(pixels, i)).ToList();
        }
        output.WriteLine($"{Dataset}: dropping {pngs.Count} {(fashion ? "Fashion-MNIST" : "synthetic colour shape")} images into " +
                         $"{StorageLayout.TrainingImagesContainer}/{Dataset}/ ({steps} training steps)");
        var bar = new ProgressBar(output);
        int done = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, pngs.Count), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = cancellationToken }, async (i, ct) =>
        {
            await container.GetBlobClient($"{Dataset}/img{i:D5}.png").UploadAsync(BinaryData.FromBytes(pngs[i]), overwrite: true, ct);
            int n = Interlocked.Increment(ref done);
            if (n % 100 == 0 || n == pngs.Count) bar.Line($"uploaded {n}/{pngs.Count}");
        });
        bar.Finish();
    }

    /// <summary>
    /// Follows the run until it ends: its stage, then step, losses, images/s and ETA while it trains, as a live display
    /// in a terminal and as lines elsewhere. The published version, or null.
    /// </summary>
    private static async Task<string?> FollowAsync(HttpClient http, TextWriter output, CancellationToken cancellationToken)
    {
        var view = new RunView(Dataset);
        var clock = Stopwatch.StartNew();
        JsonElement last = default;
        if (RunView.Interactive(output))
        {
            await AnsiConsole.Live(view.Render()).StartAsync(async live =>
            {
                while (!view.Ended)
                {
                    view.Update(last = await StatusAsync(http, cancellationToken));
                    view.Elapsed = clock.Elapsed;
                    live.UpdateTarget(view.Render());
                    if (!view.Ended) await Task.Delay(500, cancellationToken);
                }
            });
        }
        else
        {
            var bar = new ProgressBar(output);
            while (!view.Ended)
            {
                long before = view.Step;
                string? activityBefore = view.Activity;
                if (view.Update(last = await StatusAsync(http, cancellationToken)))
                {
                    bar.Finish();
                    output.WriteLine($"[{clock.Elapsed:mm\\:ss}] {view.State}");
                }
                if (view.Activity is { } activity && activity != activityBefore) bar.Line(activity, force: true);
                if (view.State == "training" && view.Step > 0 && view.Step != before) bar.Line(view.Line());
                if (!view.Ended) await Task.Delay(500, cancellationToken);
            }
            bar.Finish();
        }
        var status = last.GetProperty("status");
        if (view.State == "published" && status.TryGetProperty("publishedVersion", out var version)) return version.GetString();
        output.WriteLine($"the run ended {view.State}: {(status.TryGetProperty("error", out var error) ? error.GetString() : "")}");
        return null;
    }
}
