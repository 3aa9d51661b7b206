using System.Diagnostics;
using System.Text.Json;
using Azure.Storage.Blobs;
using ImageGen.Cli.Hosting;
using ImageGen.Core.Data;
using ImageGen.Core.Runtime;
using ImageGen.Pipeline.Orchestration;
using ImageGen.Pipeline.Storage;
using SkiaSharp;

namespace ImageGen.Cli;

/// <summary>
/// imagegen bench pipeline: the whole path a user sees, timed. Drops N images (plus imagegen.json) into
/// training-images as fast as the storage takes them, runs the local pipeline host in this process, and prints
/// the time from the last upload to each stage, the ingest rate, how many runs the drop caused, and the
/// process's peak RSS. Needs a storage emulator or account (Azurite: queues and tables too).
/// </summary>
public static class PipelineBenchCommand
{
    public static async Task<int> RunAsync(Args args, TextWriter output)
    {
        int images = args.Int("--images", 1, 1_000_000) ?? 2000;
        int concurrency = args.Int("--concurrency", 1, 512) ?? 32;
        long maxSteps = args.Long("--max-steps", 1, 1_000_000) ?? 100;
        var quiet = args.Duration("--quiet") ?? TimeSpan.FromSeconds(5);
        int runCount = args.Int("--runs", 1, 100) ?? 1;
        CliApp.ConfigureRuntime(args);
        string connection = StorageConnection.LocalConnectionString(args.String("--storage"));
        string stamp = $"bench-{DateTime.UtcNow:yyyyMMddHHmmss}";
        var storage = new BlobServiceClient(connection);
        output.WriteLine($"bench pipeline: {images} PNG images (48x48 shapes) at upload concurrency {concurrency}, quiet period {quiet.TotalSeconds:0}s, " +
                         $"DCGAN ngf/ndf 32, batch 64, {maxSteps} steps; {runCount} run(s) on datasets {stamp}-N");
        output.WriteLine($"machine: {TorchRuntime.Describe()}");

        await using var host = await LocalPipelineHost.StartAsync(new LocalPipelineOptions
        {
            StorageConnection = connection, Urls = "http://127.0.0.1:0", TaskHub = "Bench" + DateTime.UtcNow.ToString("HHmmss"),
            Pipeline = new PipelineSettings
            {
                QuietPeriod = quiet, ChunkSteps = 50,
                EvalSamples = args.Int("--eval-samples", 100, 50_000) ?? new PipelineSettings().EvalSamples,
                ExtractorSteps = args.Int("--extractor-steps", 1, 100_000) ?? new PipelineSettings().ExtractorSteps,
            },
            PollInterval = TimeSpan.FromSeconds(1),
            MaxQueuePollingInterval = TimeSpan.FromMilliseconds(500),
        });
        var peakRss = TorchRuntime.ResidentBytes();
        using var sampler = new Timer(_ => peakRss = Math.Max(peakRss, TorchRuntime.ResidentBytes()), null, 0, 200);

        long diskBefore = LocalDisk.UsedBytes();
        int failures = 0;
        for (int run = 1; run <= runCount; run++)
            if (await RunOnceAsync($"{stamp}-{run}") != "published") failures++;
        if (runCount > 1)
            output.WriteLine($"local disk after {runCount} runs: {LocalDisk.UsedBytes() / 1048576.0:0.0} MiB under imagegen-* in the temp folder " +
                             $"(before {diskBefore / 1048576.0:0.0} MiB; caches capped at {new LocalDiskLimits().MaxCacheBytes / 1073741824.0:0} GiB, scratch removed per activity)");
        return failures == 0 ? 0 : 1;

        async Task<string?> RunOnceAsync(string dataset)
        {
        output.WriteLine($"== dataset {dataset}");
        var drops = storage.GetBlobContainerClient(StorageLayout.TrainingImagesContainer);
        await drops.GetBlobClient(StorageLayout.DatasetOptions(dataset)).UploadAsync(
            BinaryData.FromString($"{{\"ngf\": 32, \"ndf\": 32, \"batchSize\": 64, \"maxSteps\": {maxSteps}, \"seed\": 1}}"), overwrite: true);
        var uploadClock = Stopwatch.StartNew();
        int uploaded = 0;
        await Parallel.ForEachAsync(Enumerable.Range(0, images), new ParallelOptions { MaxDegreeOfParallelism = concurrency }, async (i, ct) =>
        {
            using var bitmap = SyntheticShapes.Draw(new Random(i), 48);
            using var png = bitmap.Encode(SKEncodedImageFormat.Png, 100);
            await drops.GetBlobClient($"{dataset}/part{i % 16:D2}/img{i:D7}.png").UploadAsync(BinaryData.FromBytes(png.ToArray()), overwrite: true, ct);
            if (Interlocked.Increment(ref uploaded) % 1000 == 0) output.WriteLine($"  uploaded {uploaded}/{images}");
        });
        double uploadSeconds = uploadClock.Elapsed.TotalSeconds;
        output.WriteLine($"upload: {images} blobs in {uploadSeconds:0.0}s ({images / uploadSeconds:0} blobs/s)");

        // Follow the status endpoint and note when each state is first seen.
        using var http = new HttpClient { BaseAddress = new Uri(host.Addresses.First()) };
        var seen = new Dictionary<string, double>();
        var clock = Stopwatch.StartNew();
        string? lastState = null;
        JsonElement status = default;
        while (clock.Elapsed < TimeSpan.FromHours(2))
        {
            var body = JsonDocument.Parse(await http.GetStringAsync($"/api/datasets/{dataset}/training")).RootElement;
            if (body.TryGetProperty("status", out status) && status.ValueKind == JsonValueKind.Object)
            {
                string state = status.GetProperty("state").GetString()!;
                if (state != lastState)
                {
                    seen[state] = clock.Elapsed.TotalSeconds; // the last run's times
                    string live = body.TryGetProperty("live", out var l) && l.ValueKind == JsonValueKind.Object ? " " + l.GetRawText() : "";
                    output.WriteLine($"  {clock.Elapsed.TotalSeconds,7:0.0}s {state}{live}");
                }
                lastState = state;
                if (state is "published" or "failed" or "cancelled" or "diverged" && !body.GetProperty("running").GetBoolean()) break;
            }
            await Task.Delay(250);
        }
        var manifest = DatasetManifestFrom(storage, dataset, status.GetProperty("datasetVersion").GetString()!);
        int runs = 0;
        await foreach (var _ in storage.GetBlobContainerClient(StorageLayout.DatasetsContainer).GetBlobsByHierarchyAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, "/", $"{dataset}/", default)) runs++;
        double ingestSeconds = seen.GetValueOrDefault("training", double.NaN) - seen.GetValueOrDefault("ingesting", double.NaN);
        output.WriteLine($"result: state {lastState}, {runs} run(s) for the whole drop, {manifest.Count} images accepted, {manifest.Rejected.Count} rejected");
        output.WriteLine($"after the last upload: ingest started at {seen.GetValueOrDefault("ingesting"):0.0}s (quiet period {quiet.TotalSeconds:0}s + scan), " +
                         $"training at {seen.GetValueOrDefault("training"):0.0}s, published at {seen.GetValueOrDefault("published"):0.0}s");
        output.WriteLine($"ingest: {manifest.Count} images in about {ingestSeconds:0.0}s ({manifest.Count / ingestSeconds:0} images/s, status polled every 0.25s); " +
                         $"peak RSS of the process {peakRss / (1024.0 * 1024):0} MiB");
        return lastState;
        }
    }

    private static DatasetManifest DatasetManifestFrom(BlobServiceClient storage, string dataset, string version)
    {
        var blob = storage.GetBlobContainerClient(StorageLayout.DatasetsContainer).GetBlobClient(StorageLayout.PackedFolder(dataset, version) + DatasetManifest.FileName);
        return blob.DownloadContent().Value.Content.ToObjectFromJson<DatasetManifest>(Core.Models.Json.Options)!;
    }
}
