using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json;
using Azure.Storage.Blobs;
using ImageGen.Cli.Hosting;
using ImageGen.Core.Data;
using ImageGen.Core.Metrics;
using ImageGen.Core.Models;
using ImageGen.Pipeline.Endpoints;
using ImageGen.Pipeline.Orchestration;
using ImageGen.Pipeline.Serve;
using ImageGen.Pipeline.Storage;
using SkiaSharp;

namespace ImageGen.Tests;

/// <summary>Blob helpers for the pipeline tests: drop images the way users do, and wait for what the pipeline writes.</summary>
public static class Drops
{
    /// <summary>Small, quick to train: a narrow DCGAN on 32x32 greyscale.</summary>
    public const string FastOptions = "{\"model\": \"dcgan\", \"ngf\": 16, \"ndf\": 16, \"nz\": 32, \"batchSize\": 16, \"seed\": 3";

    public static byte[] Png(int seed) => TestImages.Encode(TestImages.Shape(seed), SKEncodedImageFormat.Png);

    public static async Task UploadAsync(BlobServiceClient storage, string dataset, string name, byte[] data)
    {
        var container = storage.GetBlobContainerClient(StorageLayout.TrainingImagesContainer);
        await container.CreateIfNotExistsAsync();
        await container.GetBlobClient($"{dataset}/{name}").UploadAsync(BinaryData.FromBytes(data), overwrite: true);
    }

    public static Task UploadOptionsAsync(BlobServiceClient storage, string dataset, string extraJson) =>
        UploadAsync(storage, dataset, StorageLayout.OptionsFile, Encoding.UTF8.GetBytes(FastOptions + extraJson + "}"));

    public static async Task UploadImagesAsync(BlobServiceClient storage, string dataset, int first, int count)
    {
        for (int i = first; i < first + count; i++) await UploadAsync(storage, dataset, $"batch{first}/img{i:D3}.png", Png(i));
    }

    public static async Task<T> WaitForAsync<T>(Func<Task<T?>> probe, TimeSpan timeout, string what) where T : class
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (await probe() is { } value) return value;
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"gave up after {timeout.TotalSeconds:0}s waiting for {what}");
            await Task.Delay(300);
        }
    }

    /// <summary>
    /// Waits for a probe while a run keeps moving: gives up when its progress fingerprint (what the run has written so far)
    /// stays the same for stallTimeout, or after overallTimeout in all. Work whose duration scales with the machine's speed
    /// (training chunks bounded by time, not steps) waits on progress, not on a wall-clock budget sized for one machine.
    /// </summary>
    public static async Task<T> WaitWhileProgressingAsync<T>(Func<Task<T?>> probe, Func<Task<string>> progress, TimeSpan stallTimeout,
        TimeSpan overallTimeout, string what) where T : class
    {
        var overall = DateTime.UtcNow + overallTimeout;
        string seen = await progress();
        var stall = DateTime.UtcNow + stallTimeout;
        while (true)
        {
            if (await probe() is { } value) return value;
            string now = await progress();
            if (now != seen) (seen, stall) = (now, DateTime.UtcNow + stallTimeout);
            if (DateTime.UtcNow > stall) throw new TimeoutException($"gave up waiting for {what}: no progress for {stallTimeout.TotalSeconds:0}s (last: {seen})");
            if (DateTime.UtcNow > overall) throw new TimeoutException($"gave up after {overallTimeout.TotalSeconds:0}s waiting for {what}, though the run was still moving");
            await Task.Delay(300);
        }
    }

    public static async Task<LatestPointer?> LatestAsync(BlobServiceClient storage, string dataset)
    {
        var lookup = await new ModelRegistry(storage).GetLatestAsync(dataset, null);
        return lookup.Pointer;
    }

    public static Task<LatestPointer> WaitForVersionAsync(BlobServiceClient storage, string dataset, string version, TimeSpan timeout) =>
        WaitForAsync(async () => await LatestAsync(storage, dataset) is { } p && p.Version == version ? p : null, timeout, $"{dataset} {version} to be published");

    public static async Task<DatasetManifest> ManifestAsync(BlobServiceClient storage, string dataset, string datasetVersion)
    {
        var blob = storage.GetBlobContainerClient(StorageLayout.DatasetsContainer).GetBlobClient(StorageLayout.PackedFolder(dataset, datasetVersion) + DatasetManifest.FileName);
        return (await blob.DownloadContentAsync()).Value.Content.ToObjectFromJson<DatasetManifest>(Json.Options)!;
    }
}

/// <summary>Azurite plus the whole app in-process (LocalPipelineHost): real blobs, real durable backend, real training.</summary>
public sealed class PipelineHostFixture : IAsyncLifetime
{
    public AzuriteFixture Azurite { get; } = new();
    public LocalPipelineHost Host { get; private set; } = null!;
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        TestImages.EnsureRuntime();
        Host = await LocalPipelineHost.StartAsync(new LocalPipelineOptions
        {
            StorageConnection = Azurite.ConnectionString, Urls = "http://127.0.0.1:0", TaskHub = "IntegrationTests",
            Pipeline = new PipelineSettings
            {
                QuietPeriod = TimeSpan.FromSeconds(1.5), ChunkSteps = 20, FirstRetryInterval = TimeSpan.FromMilliseconds(200), EvalSamples = 200, ExtractorSteps = 20,
            },
            PollInterval = TimeSpan.FromMilliseconds(300), MaxQueuePollingInterval = TimeSpan.FromMilliseconds(300),
            Serve = new ServeOptions { WarmDatasets = PipelineIntegrationTests.Observed, LatestCheckInterval = TimeSpan.FromSeconds(1) },
            Metrics = true,
        });
        Http = new HttpClient { BaseAddress = new Uri(Host.Addresses.First()) };
    }

    public async Task DisposeAsync()
    {
        Http.Dispose();
        await Host.DisposeAsync();
        Azurite.Dispose();
    }
}

public class PipelineIntegrationTests(PipelineHostFixture fixture) : IClassFixture<PipelineHostFixture>
{
    /// <summary>The dataset the host warms for readiness and the metrics test follows (no other test drops into it).</summary>
    public const string Observed = "observed";
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(180);
    private BlobServiceClient Storage => fixture.Azurite.Client();

    private async Task<JsonElement> GetJsonAsync(string path, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var response = await fixture.Http.GetAsync(path);
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"GET {path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement;
    }

    /// <summary>Waits until the dataset's run has ended in <paramref name="state"/> (any end when null) and nothing runs.</summary>
    private async Task<JsonElement> WaitForStateAsync(string dataset, string? state)
    {
        JsonElement last = default;
        try
        {
            return await Drops.WaitForAsync<object>(async () =>
            {
                var status = last = await GetJsonAsync($"/api/datasets/{dataset}/training");
                return status.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Object && (state is null ? s.GetProperty("state").GetString() is "published" or "failed" or "cancelled" or "diverged" : s.GetProperty("state").GetString() == state)
                    && !status.GetProperty("running").GetBoolean() ? status : null;
            }, RunTimeout, $"{dataset} to end {state ?? "its run"}") is JsonElement e ? e : default;
        }
        catch (TimeoutException t) { throw new TimeoutException($"{t.Message}; the last status: {last}", t); }
    }

    [Fact]
    public async Task Dropped_images_are_ingested_trained_and_published_bad_inputs_rejected_and_a_second_drop_makes_v0002()
    {
        const string dataset = "shapes";
        await Drops.UploadOptionsAsync(Storage, dataset, ", \"maxSteps\": 40");
        await Drops.UploadImagesAsync(Storage, dataset, 0, 40);
        // The bad drops, beside the good ones.
        await Drops.UploadAsync(Storage, dataset, "bad/empty.png", []);
        await Drops.UploadAsync(Storage, dataset, "bad/notes.txt", Encoding.UTF8.GetBytes("not an image at all"));
        byte[] png = Drops.Png(99);
        await Drops.UploadAsync(Storage, dataset, "bad/corrupt.png", png[..(png.Length / 2)]);
        await Drops.UploadAsync(Storage, dataset, "bad/bomb.png", TestImages.PngHeaderOnly(50_000, 50_000));
        await Drops.UploadAsync(Storage, dataset, "more.zip", ZipWithTraps(first: 100, count: 8));

        try { await Drops.WaitForVersionAsync(Storage, dataset, "v0001", RunTimeout); }
        catch (TimeoutException t) { throw new TimeoutException($"{t.Message}; the status: {await fixture.Http.GetStringAsync($"/api/datasets/{dataset}/training")}", t); }
        var models = Storage.GetBlobContainerClient(StorageLayout.ModelsContainer);
        Assert.True(await models.GetBlobClient(StorageLayout.ModelCheckpoint(dataset, "v0001")).ExistsAsync());
        Assert.True(await models.GetBlobClient(StorageLayout.ModelSamples(dataset, "v0001")).ExistsAsync());
        var card = (await models.GetBlobClient(StorageLayout.ModelCard(dataset, "v0001")).DownloadContentAsync()).Value.Content.ToObjectFromJson<ModelCard>(Json.Options)!;
        Assert.Equal(40, card.Steps);
        Assert.Equal(16, card.Spec.Ngf);
        Assert.Contains("pixelMeanGap", card.Metrics.Keys);
        Assert.Equal(ExtractorInfo.ContrastiveKind, card.Quality!.ExtractorKind);
        Assert.Equal(200, card.Quality.GeneratedImages);
        Assert.Equal(16, card.Quality.ExtractorId.Length);
        Assert.True(card.Quality.Fd > 0);
        Assert.Equal((true, "the dataset's first model"), (card.Publish!.Passed, card.Publish.Reason));

        var manifest = await Drops.ManifestAsync(Storage, dataset, card.DatasetVersion!);
        Assert.Equal(48, manifest.Count); // 40 loose + 8 from the zip
        var reasons = manifest.Rejected.ToDictionary(r => r.Name, r => r.Reason);
        Assert.Equal(6, reasons.Count);
        Assert.Contains("empty", reasons["bad/empty.png"]);
        Assert.Contains("bad/notes.txt", reasons.Keys);
        Assert.Contains("bad/corrupt.png", reasons.Keys);
        Assert.Contains("50000x50000", reasons["bad/bomb.png"]);
        Assert.Contains("'..'", reasons["more.zip:../../x.png"]);
        Assert.Contains("ratio", reasons["more.zip:zeros.png"]);

        var status = await WaitForStateAsync(dataset, "published");
        Assert.Equal("v0001", status.GetProperty("status").GetProperty("publishedVersion").GetString());
        Assert.Null(card.Parent);
        Assert.Equal("fresh start: the dataset has no published model yet", status.GetProperty("status").GetProperty("start").GetString());
        Assert.Equal(6, status.GetProperty("status").GetProperty("rejected").GetInt32());
        // The newest training grid, where the status points.
        var grid = await fixture.Http.GetAsync(new Uri(status.GetProperty("sampleGridUri").GetString()!).PathAndQuery);
        Assert.Equal(HttpStatusCode.OK, grid.StatusCode);
        Assert.Equal("image/png", grid.Content.Headers.ContentType!.MediaType);
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47 }, (await grid.Content.ReadAsByteArrayAsync())[..4]);
        // The published generator is served at once.
        var sample = await fixture.Http.GetAsync($"/api/datasets/{dataset}/samples?seeds=1-4");
        Assert.Equal(HttpStatusCode.OK, sample.StatusCode);
        Assert.Equal("v0001", sample.Headers.GetValues("X-Model-Version").Single());

        // Its classes: the first-level folders, the zip's counted as unpacked where it lies.
        Assert.Equal(["batch0", "inner"], card.Classes);
        // More images of a class it has: the follow-up keeps the spec, so it can start from v0001.
        for (int i = 200; i < 208; i++) await Drops.UploadAsync(Storage, dataset, $"batch0/img{i:D3}.png", Drops.Png(i));
        var second = await Drops.WaitForAsync<object>(async () => await GetJsonAsync($"/api/datasets/{dataset}/training") is var s
            && s.GetProperty("status").TryGetProperty("publishedVersion", out var v) && v.GetString() == "v0002" && !s.GetProperty("running").GetBoolean() ? s : null,
            RunTimeout, $"{dataset} v0002 to be published") is JsonElement e ? e.GetProperty("status") : default;
        var listed = await GetJsonAsync($"/api/datasets/{dataset}/models");
        Assert.Equal(["v0001", "v0002"], listed.GetProperty("models").EnumerateArray().Select(m => m.GetProperty("version").GetString()));
        var card2 = listed.GetProperty("models")[1];
        // The follow-up started from the published v0001 (same spec), and says so in its status and its card.
        Assert.StartsWith($"warm start from {dataset}/v0001", second.GetProperty("start").GetString());
        Assert.Equal($"{dataset}/v0001", card2.GetProperty("parent").GetString());
        Assert.Equal(56, (await Drops.ManifestAsync(Storage, dataset, card2.GetProperty("datasetVersion").GetString()!)).Count);
        Assert.Contains(dataset, (await GetJsonAsync("/api/datasets")).GetProperty("datasets").EnumerateArray().Select(d => d.GetProperty("name").GetString()));

        // The gate compared v0002 with v0001 in v0002's feature space; whichever it decided, the status, the card and latest agree.
        var gate = card2.GetProperty("publish");
        Assert.Equal("v0001", gate.GetProperty("baselineVersion").GetString());
        Assert.True(gate.GetProperty("baselineFd").GetDouble() > 0);
        bool passed = gate.GetProperty("passed").GetBoolean();
        Assert.Equal(passed, second.GetProperty("latest").GetBoolean());
        Assert.Equal(gate.GetProperty("reason").GetString(), second.GetProperty("publishNote").GetString());
        Assert.Equal(passed ? "v0002" : "v0001", listed.GetProperty("latestVersion").GetString());
        Assert.Equal(passed, card2.GetProperty("latest").GetBoolean());
        Assert.NotEqual(passed, listed.GetProperty("models")[0].GetProperty("latest").GetBoolean());

        // Promotion and rollback: JSON only; serving follows latest.
        var notJson = await fixture.Http.PostAsync($"/api/datasets/{dataset}/models/v0002/promote", new StringContent("", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, notJson.StatusCode);
        var unknown = await PostJsonAsync($"/api/datasets/{dataset}/models/v0009/promote", HttpStatusCode.NotFound);
        Assert.Contains("v0001, v0002", unknown.GetProperty("allowed").GetString());
        var promoted = await PostJsonAsync($"/api/datasets/{dataset}/models/v0002/promote");
        Assert.Equal("v0002", promoted.GetProperty("latestVersion").GetString());
        await WaitForServedVersionAsync(dataset, "v0002");
        var rolledBack = await PostJsonAsync($"/api/datasets/{dataset}/models/rollback");
        Assert.Equal("v0001", rolledBack.GetProperty("latestVersion").GetString());
        await WaitForServedVersionAsync(dataset, "v0001");
        var nothingLeft = await PostJsonAsync($"/api/datasets/{dataset}/models/rollback", HttpStatusCode.Conflict);
        Assert.Contains("no earlier latest version", nothingLeft.GetProperty("error").GetString());
        // A candidate stays addressable by version.
        var byVersion = await fixture.Http.GetAsync($"/api/datasets/{dataset}/samples?seeds=1-2&version=v0002");
        Assert.Equal("v0002", byVersion.Headers.GetValues("X-Model-Version").Single());
    }

    /// <summary>
    /// The host's /metrics (OpenTelemetry's Prometheus endpoint) and /api/health/ready follow one dataset from its drop
    /// through training to requests: ingest counts, trained images and chunks, the warm load, then per request the
    /// count, latency, queue wait, batch size and cache hit, each moved by exactly what was done; and the spans of
    /// every step and of a request carry the dataset (a request's Server-Timing parts as attributes).
    /// </summary>
    [Fact]
    public async Task Metrics_and_readiness_follow_a_drop_through_training_to_requests()
    {
        var spans = new System.Collections.Concurrent.ConcurrentQueue<System.Diagnostics.Activity>();
        using var listener = new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name == ImageGen.Pipeline.Telemetry.ImageGenTelemetry.Name,
            Sample = (ref System.Diagnostics.ActivityCreationOptions<System.Diagnostics.ActivityContext> _) => System.Diagnostics.ActivitySamplingResult.AllData,
            ActivityStopped = activity => { if (activity.GetTagItem("imagegen.dataset") as string == Observed) spans.Enqueue(activity); },
        };
        System.Diagnostics.ActivitySource.AddActivityListener(listener);
        var ours = new Dictionary<string, string> { ["dataset"] = Observed };

        // Not ready while the configured dataset has no model; ready names what it waits for.
        var notReady = await fixture.Http.GetAsync("/api/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
        Assert.Contains(Observed, (await ReadJsonAsync(notReady)).GetProperty("waiting").EnumerateObject().Select(p => p.Name));
        Assert.Equal(HttpStatusCode.OK, (await fixture.Http.GetAsync("/api/health")).StatusCode); // liveness is not readiness

        await Drops.UploadOptionsAsync(Storage, Observed, ", \"maxSteps\": 40");
        await Drops.UploadImagesAsync(Storage, Observed, 0, 24);
        await Drops.UploadAsync(Storage, Observed, "bad/notes.txt", Encoding.UTF8.GetBytes("not an image"));
        await Drops.WaitForVersionAsync(Storage, Observed, "v0001", RunTimeout);
        var ready = (JsonElement)await Drops.WaitForAsync<object>(async () =>
        {
            var response = await fixture.Http.GetAsync("/api/health/ready");
            return response.StatusCode == HttpStatusCode.OK ? await ReadJsonAsync(response) : null;
        }, TimeSpan.FromSeconds(60), "the host to warm observed/v0001");
        Assert.Equal("v0001", ready.GetProperty("warm").GetProperty(Observed).GetString());

        var afterTraining = await Metrics.ScrapeAsync(fixture.Http);
        Assert.Equal(24, afterTraining.Sum("imagegen_ingest_images_total", new Dictionary<string, string>(ours) { ["outcome"] = "accepted" }));
        Assert.Equal(1, afterTraining.Sum("imagegen_ingest_images_total", new Dictionary<string, string>(ours) { ["outcome"] = "rejected" }));
        Assert.Equal(40 * 16, afterTraining.Sum("imagegen_train_images_total", ours)); // 40 steps of batch 16
        Assert.Equal(2, afterTraining.Sum("imagegen_train_chunk_duration_seconds_count", ours)); // chunks of 20 steps
        Assert.True(afterTraining.Sum("imagegen_train_loss", new Dictionary<string, string>(ours) { ["loss"] = "loss_g" }) > 0, "the generator's loss gauge");
        Assert.Equal(1, afterTraining.Sum("imagegen_serve_model_loads_total", new Dictionary<string, string>(ours) { ["outcome"] = "loaded" })); // the warm load, before any request

        const int requests = 3, imagesEach = 2;
        for (int i = 0; i < requests; i++)
            Assert.Equal(HttpStatusCode.OK, (await fixture.Http.GetAsync($"/api/datasets/{Observed}/samples?count={imagesEach}&seed={i}")).StatusCode);
        var badRoute = new Dictionary<string, string> { ["route"] = "Samples", ["status"] = "400" };
        Assert.Equal(HttpStatusCode.BadRequest, (await fixture.Http.GetAsync($"/api/datasets/{Observed}/samples?count=zero")).StatusCode);
        var after = await Metrics.ScrapeAsync(fixture.Http);
        var served = new Dictionary<string, string>(ours) { ["route"] = "Samples", ["status"] = "200" };
        Assert.Equal(requests, after.Sum("imagegen_http_requests_total", served) - afterTraining.Sum("imagegen_http_requests_total", served));
        Assert.Equal(requests, after.Sum("imagegen_http_request_duration_seconds_count", served) - afterTraining.Sum("imagegen_http_request_duration_seconds_count", served));
        Assert.True(after.Sum("imagegen_http_request_duration_seconds_sum", served) > afterTraining.Sum("imagegen_http_request_duration_seconds_sum", served));
        // A failing request is counted, without the dataset it names (other tests' 400s may add to the same series).
        Assert.True(after.Sum("imagegen_http_requests_total", badRoute) >= afterTraining.Sum("imagegen_http_requests_total", badRoute) + 1);
        Assert.Equal(0, after.Sum("imagegen_http_requests_total", new Dictionary<string, string>(ours) { ["status"] = "400" }));
        Assert.Equal(requests, after.Sum("imagegen_serve_queue_wait_seconds_count", ours) - afterTraining.Sum("imagegen_serve_queue_wait_seconds_count", ours));
        Assert.Equal(requests * imagesEach, after.Sum("imagegen_serve_batch_images_sum", ours) - afterTraining.Sum("imagegen_serve_batch_images_sum", ours));
        Assert.Equal(requests, after.Sum("imagegen_serve_cache_hits_total", ours) - afterTraining.Sum("imagegen_serve_cache_hits_total", ours));
        Assert.Equal(1, after.Sum("imagegen_serve_model_loads_total", ours)); // every request found it warm

        // Spans: every step of the run, and the requests with their Server-Timing parts.
        var names = spans.Select(s => s.OperationName).ToList();
        foreach (string step in new[] { "imagegen.ingest", "imagegen.evaluate", "imagegen.publish" }) Assert.Contains(step, names);
        Assert.Equal(2, names.Count(n => n == "imagegen.trainchunk"));
        var sampleSpans = spans.Where(s => s.OperationName == "imagegen.samples").ToList();
        Assert.Equal(requests + 1, sampleSpans.Count); // the bad request too
        Assert.All(sampleSpans.Where(s => s.GetTagItem("imagegen.version") is not null), s => Assert.True((double)s.GetTagItem("imagegen.forward_ms")! > 0));
    }

    private static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response) => JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    [Fact]
    public async Task Images_in_class_folders_train_a_conditional_model_that_serves_each_class_by_name()
    {
        const string dataset = "classes";
        await Drops.UploadOptionsAsync(Storage, dataset, ", \"maxSteps\": 20");
        for (int i = 0; i < 16; i++)
            await Drops.UploadAsync(Storage, dataset, $"{(i % 2 == 0 ? "even" : "odd")}/{i:D2}.png", Drops.Png(i));
        await Drops.WaitForVersionAsync(Storage, dataset, "v0001", RunTimeout);
        await WaitForStateAsync(dataset, state: null);
        var models = await GetJsonAsync($"/api/datasets/{dataset}/models");
        var card = models.GetProperty("models")[0];
        Assert.Equal(["even", "odd"], card.GetProperty("classes").EnumerateArray().Select(c => c.GetString()));
        Assert.Equal(2, card.GetProperty("spec").GetProperty("classes").GetInt32());
        Assert.Equal(0.5, card.GetProperty("options").GetProperty("modeSeeking").GetDouble()); // the DCGAN's default on a drop's own classes
        var manifest = await Drops.ManifestAsync(Storage, dataset, card.GetProperty("datasetVersion").GetString()!);
        Assert.Equal(["even", "odd"], manifest.Classes);
        var sample = await fixture.Http.GetAsync($"/api/datasets/{dataset}/samples?seeds=1-3&class=odd");
        Assert.Equal(HttpStatusCode.OK, sample.StatusCode);
        Assert.Equal("odd,odd,odd", sample.Headers.GetValues("X-Classes").Single());
    }

    private async Task<JsonElement> PostJsonAsync(string path, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var response = await fixture.Http.PostAsync(path, JsonContent("{}"));
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"POST {path}: {(int)response.StatusCode} {body}");
        return JsonDocument.Parse(body).RootElement;
    }

    /// <summary>Serving revalidates latest.json every few seconds: wait until samples come from the version.</summary>
    private Task WaitForServedVersionAsync(string dataset, string version) =>
        Drops.WaitForAsync(async () =>
        {
            var response = await fixture.Http.GetAsync($"/api/datasets/{dataset}/samples?seeds=1");
            return response.Headers.TryGetValues("X-Model-Version", out var v) && v.Single() == version ? response : null;
        }, TimeSpan.FromSeconds(30), $"{dataset} to be served from {version}");

    /// <summary>
    /// Waits until the dataset's running run (not <paramref name="notRun"/>, one that ended) reports a training step,
    /// then cancels it; returns its status once cancelled.
    /// </summary>
    private async Task<JsonElement> CancelOnceTrainingAsync(string dataset, string? notRun = null)
    {
        await Drops.WaitForAsync<object>(async () =>
        {
            var status = await GetJsonAsync($"/api/datasets/{dataset}/training");
            return status.GetProperty("running").GetBoolean()
                && status.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.Object
                && s.TryGetProperty("runId", out var run) && run.GetString() != notRun
                && status.TryGetProperty("live", out var live) && live.ValueKind == JsonValueKind.Object
                && live.GetProperty("stage").GetString() == "training" && live.GetProperty("step").GetInt64() > 0 ? status : null;
        }, RunTimeout, "training progress");
        var cancel = await fixture.Http.PostAsync($"/api/datasets/{dataset}/training/cancel", JsonContent());
        Assert.Equal(HttpStatusCode.Accepted, cancel.StatusCode);
        return (await WaitForStateAsync(dataset, "cancelled")).GetProperty("status");
    }

    [Fact]
    public async Task Cancel_stops_training_keeps_the_checkpoint_and_publishes_nothing()
    {
        // The drop starts the run. A train request sent now could land after its ingest began and be queued after it
        // (as the API answers), which would start a new run the moment this one is cancelled; so it comes later.
        const string dataset = "endless";
        await Drops.UploadOptionsAsync(Storage, dataset, ", \"maxSteps\": 1000000");
        await Drops.UploadImagesAsync(Storage, dataset, 0, 32);
        var ended = await CancelOnceTrainingAsync(dataset);
        long step = ended.GetProperty("step").GetInt64();
        Assert.InRange(step, 1, 999_999);
        var checkpoint = Storage.GetBlobContainerClient(StorageLayout.CheckpointsContainer)
            .GetBlobClient(StorageLayout.RunCheckpoint(dataset, ended.GetProperty("runId").GetString()!));
        Assert.Equal(step, Core.Checkpoints.Checkpoint.Read((await checkpoint.DownloadContentAsync()).Value.Content.ToStream(), new HashSet<string>()).header.Step);
        Assert.Null(await Drops.LatestAsync(Storage, dataset));
        Assert.Equal(HttpStatusCode.Conflict, (await fixture.Http.PostAsync($"/api/datasets/{dataset}/training/cancel", JsonContent())).StatusCode);

        // With nothing running, a train request starts a new run at once, and cancelling it stops that one too.
        var start = await fixture.Http.PostAsync($"/api/datasets/{dataset}/train", JsonContent());
        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        Assert.EndsWith($"/api/datasets/{dataset}/training", start.Headers.Location!.ToString());
        Assert.Equal("started", JsonDocument.Parse(await start.Content.ReadAsStringAsync()).RootElement.GetProperty("accepted").GetString());
        var second = await CancelOnceTrainingAsync(dataset, notRun: ended.GetProperty("runId").GetString());
        Assert.NotEqual(ended.GetProperty("runId").GetString(), second.GetProperty("runId").GetString());
        Assert.Null(await Drops.LatestAsync(Storage, dataset));
    }

    [Fact]
    public async Task Bad_options_in_imagegen_json_fail_the_run_naming_the_key()
    {
        const string dataset = "typo";
        await Drops.UploadAsync(Storage, dataset, StorageLayout.OptionsFile, Encoding.UTF8.GetBytes("{\"epoch\": 3}"));
        await Drops.UploadImagesAsync(Storage, dataset, 0, 4);
        var status = (await WaitForStateAsync(dataset, "failed")).GetProperty("status");
        Assert.Contains("unknown key 'epoch'", status.GetProperty("error").GetString());
        Assert.Null(await Drops.LatestAsync(Storage, dataset));
    }

    [Fact]
    public async Task Train_requests_are_checked_before_anything_starts()
    {
        var unknown = await fixture.Http.PostAsync("/api/datasets/nobody/train", JsonContent());
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        // The drop starts a run of its own: a short one, waited for below, so that no training outlives this test.
        // (The host runs one activity at a time: a run left going would slow every later test behind it.)
        await Drops.UploadOptionsAsync(Storage, "checked", ", \"maxSteps\": 2, \"augment\": \"translation\"");
        await Drops.UploadImagesAsync(Storage, "checked", 0, 2);
        var bad = await fixture.Http.PostAsync("/api/datasets/checked/train", JsonContent("{\"batchSize\": 0}"));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.Contains("batchSize '0' is not an integer in 1..4096", JsonDocument.Parse(await bad.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString());
        // Valid alone, not over the dataset's imagegen.json (augmentation is a GAN's): refused now, naming both.
        var clash = await fixture.Http.PostAsync("/api/datasets/checked/train", JsonContent("{\"model\": \"vae\"}"));
        Assert.Equal(HttpStatusCode.BadRequest, clash.StatusCode);
        Assert.StartsWith("training-images/checked/imagegen.json with the train request's options over it: augment translation: augmentation feeds a GAN's discriminator",
            JsonDocument.Parse(await clash.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString());
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Http.GetAsync("/api/datasets/..%2F..%2Fetc/training")).StatusCode);
        await WaitForStateAsync("checked", state: null);
    }

    [Fact]
    public async Task Uploads_store_each_file_ingest_would_accept_refuse_the_rest_by_name_overwrite_nothing_and_start_a_run()
    {
        const string dataset = "uploaded";
        object File(string name, byte[] data) => new { name, data = Convert.ToBase64String(data) };
        byte[] png = Drops.Png(7);
        var body = new
        {
            files = new[]
            {
                File(StorageLayout.OptionsFile, Encoding.UTF8.GetBytes(Drops.FastOptions + ", \"maxSteps\": 2}")),
                File("a.png", Drops.Png(1)), File("sub/b.png", Drops.Png(2)),
                File("cut.png", png[..(png.Length / 2)]), File("../escape.png", Drops.Png(3)), File("bomb.png", TestImages.PngHeaderOnly(50_000, 50_000)),
                new { name = "c.png", data = "not base64!" },
            },
        };
        var response = await fixture.Http.PostAsync($"/api/datasets/{dataset}/uploads", JsonContent(JsonSerializer.Serialize(body)));
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var answer = JsonDocument.Parse(text).RootElement;
        Assert.Equal([StorageLayout.OptionsFile, "a.png", "sub/b.png"], answer.GetProperty("accepted").EnumerateArray().Select(a => a.GetString()));
        var reasons = answer.GetProperty("rejected").EnumerateArray().ToDictionary(r => r.GetProperty("name").GetString()!, r => r.GetProperty("reason").GetString()!);
        Assert.Contains("truncated", reasons["cut.png"]);
        Assert.Contains("start with '.'", reasons["../escape.png"]);
        Assert.Contains("50000x50000", reasons["bomb.png"]);
        Assert.Contains("not base64", reasons["c.png"]);

        // The same name again is refused, and the stored file is kept.
        var again = await fixture.Http.PostAsync($"/api/datasets/{dataset}/uploads", JsonContent(JsonSerializer.Serialize(new { files = new[] { File("a.png", Drops.Png(5)) } })));
        var againAnswer = JsonDocument.Parse(await again.Content.ReadAsStringAsync()).RootElement;
        Assert.Empty(againAnswer.GetProperty("accepted").EnumerateArray());
        Assert.Contains("holds a file named 'a.png' already", againAnswer.GetProperty("rejected")[0].GetProperty("reason").GetString());
        var optionsAgain = await fixture.Http.PostAsync($"/api/datasets/{dataset}/uploads",
            JsonContent(JsonSerializer.Serialize(new { files = new[] { File(StorageLayout.OptionsFile, Encoding.UTF8.GetBytes("{\"maxSteps\": 3}")) } })));
        Assert.Contains("holds its imagegen.json already, and uploads never overwrite; replace it with imagegen drop --overwrite",
            JsonDocument.Parse(await optionsAgain.Content.ReadAsStringAsync()).RootElement.GetProperty("rejected")[0].GetProperty("reason").GetString());
        var stored = Storage.GetBlobContainerClient(StorageLayout.TrainingImagesContainer).GetBlobClient($"{dataset}/a.png");
        Assert.Equal(Drops.Png(1), (await stored.DownloadContentAsync()).Value.Content.ToArray());

        // Refused whole: a bad dataset name, no files, a body that is not the JSON expected.
        Assert.Equal(HttpStatusCode.BadRequest, (await fixture.Http.PostAsync("/api/datasets/Not-OK/uploads", JsonContent(JsonSerializer.Serialize(body)))).StatusCode);
        var noFiles = await fixture.Http.PostAsync($"/api/datasets/{dataset}/uploads", JsonContent("{\"files\": []}"));
        Assert.Equal(HttpStatusCode.BadRequest, noFiles.StatusCode);
        Assert.Contains("names no files", await noFiles.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.BadRequest, (await fixture.Http.PostAsync($"/api/datasets/{dataset}/uploads", JsonContent("[1, 2]"))).StatusCode);
        var withNull = await fixture.Http.PostAsync($"/api/datasets/{dataset}/uploads",
            JsonContent($"{{\"files\": [{JsonSerializer.Serialize(File("n.png", Drops.Png(8)))}, null]}}"));
        Assert.Equal(HttpStatusCode.BadRequest, withNull.StatusCode);
        Assert.Contains("files[1] is null", await withNull.Content.ReadAsStringAsync());
        Assert.False(await Storage.GetBlobContainerClient(StorageLayout.TrainingImagesContainer).GetBlobClient($"{dataset}/n.png").ExistsAsync());
        var tooMany = await fixture.Http.PostAsync($"/api/datasets/{dataset}/uploads",
            JsonContent(JsonSerializer.Serialize(new { files = Enumerable.Range(0, 257).Select(i => new { name = $"x{i}.png", data = "" }) })));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooMany.StatusCode);
        Assert.Contains("at most 256", await tooMany.Content.ReadAsStringAsync());
        // A body past the server's default limit (30,000,000 bytes) but within the endpoint's is read and answered per file.
        string large = $"{{\"files\": [{{\"name\": \"large.png\", \"data\": \"{new string('A', 31_000_000)}\"}}]}}";
        var largeAnswer = await fixture.Http.PostAsync($"/api/datasets/{dataset}/uploads", JsonContent(large));
        string largeText = await largeAnswer.Content.ReadAsStringAsync();
        Assert.True(largeAnswer.StatusCode == HttpStatusCode.OK, largeText);
        Assert.Equal("large.png", JsonDocument.Parse(largeText).RootElement.GetProperty("rejected")[0].GetProperty("name").GetString());

        // The upload is a drop: a (short) run starts and ends.
        var ended = (await WaitForStateAsync(dataset, state: null)).GetProperty("status");
        Assert.Equal(2, ended.GetProperty("accepted").GetInt32());
    }

    private static StringContent JsonContent(string body = "") => new(body, Encoding.UTF8, "application/json");

    /// <summary>
    /// What a page on another site can send without a CORS preflight (a form post, a no-cors fetch): every
    /// state-changing training endpoint refuses it with 415 before acting, and still takes JSON.
    /// </summary>
    [Fact]
    public async Task State_changing_endpoints_take_json_only_so_a_cross_site_form_cannot_start_or_cancel_training()
    {
        var changing = ApiRoutes.Training.Where(r => r.Method != "get").ToList();
        Assert.Equal(["TrainStart", "TrainingCancel", "DatasetUpload", "ModelPromote", "ModelRollback"], changing.Select(r => r.Function));
        foreach (var route in changing)
        {
            string path = "/api/" + route.Route.Replace("{dataset}", "nobody").Replace("{version}", "v0001");
            HttpContent?[] crossSite =
            [
                null,
                new StringContent("batchSize=8", Encoding.UTF8, "application/x-www-form-urlencoded"),
                new MultipartFormDataContent { { new StringContent("8"), "batchSize" } },
                new StringContent("{}", Encoding.UTF8, "text/plain"),
            ];
            foreach (var content in crossSite)
            {
                var refused = await fixture.Http.PostAsync(path, content);
                Assert.True(refused.StatusCode == HttpStatusCode.UnsupportedMediaType,
                    $"POST {path} with {content?.Headers.ContentType?.MediaType ?? "no body"}: {(int)refused.StatusCode} {await refused.Content.ReadAsStringAsync()}");
                Assert.Contains("application/json", JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString());
            }
            var json = await fixture.Http.PostAsync(path, JsonContent());
            Assert.NotEqual(HttpStatusCode.UnsupportedMediaType, json.StatusCode);
        }
    }

    /// <summary>DNS rebinding: a page whose name now resolves to 127.0.0.1 reaches the port, but its requests carry its own Host.</summary>
    [Fact]
    public async Task The_local_host_answers_only_requests_that_name_it_as_a_local_host()
    {
        int port = new Uri(fixture.Host.Addresses.First()).Port;
        foreach (var name in new[] { "localhost", "127.0.0.1", "[::1]", "LOCALHOST" })
        {
            using var local = new HttpRequestMessage(HttpMethod.Get, "/api/health") { Headers = { Host = $"{name}:{port}" } };
            Assert.Equal(HttpStatusCode.OK, (await fixture.Http.SendAsync(local)).StatusCode);
        }
        foreach (var name in new[] { $"rebound.example:{port}", "rebound.example", $"127.0.0.1.rebound.example:{port}", $"localhost.rebound.example:{port}" })
        {
            using var rebound = new HttpRequestMessage(HttpMethod.Get, "/api/datasets") { Headers = { Host = name } };
            var response = await fixture.Http.SendAsync(rebound);
            Assert.Equal(HttpStatusCode.MisdirectedRequest, response.StatusCode);
            Assert.Contains("--allowed-hosts", await response.Content.ReadAsStringAsync());
            using var start = new HttpRequestMessage(HttpMethod.Post, "/api/datasets/nobody/train") { Headers = { Host = name }, Content = JsonContent() };
            Assert.Equal(HttpStatusCode.MisdirectedRequest, (await fixture.Http.SendAsync(start)).StatusCode);
        }
    }

    [Theory]
    [InlineData("http://0.0.0.0:0")]
    [InlineData("http://*:0")]
    [InlineData("http://[::]:0")]
    [InlineData("http://127.0.0.1:0;http://+:0")]
    public async Task The_local_hosts_refuse_to_listen_beyond_loopback_unless_told_to(string urls)
    {
        var serve = Assert.Throws<ArgumentException>(() => LocalServeHost.Build(fixture.Azurite.ConnectionString, new ServeOptions(), urls));
        Assert.Contains("--allow-remote", serve.Message);
        LocalPipelineHost? started = null;
        var host = await Record.ExceptionAsync(async () => started = await LocalPipelineHost.StartAsync(new LocalPipelineOptions
        {
            StorageConnection = fixture.Azurite.ConnectionString, Urls = urls, TaskHub = "Refused",
        }));
        if (started is not null) await started.DisposeAsync();
        Assert.IsType<ArgumentException>(host);
        Assert.Contains("--allow-remote", host.Message);
    }

    [Fact]
    public async Task The_task_hub_side_channel_listens_on_loopback_only()
    {
        var address = fixture.Host.TaskHubAddress;
        Assert.True(IPAddress.IsLoopback(IPAddress.Parse(address.Host.Trim('[', ']'))), $"the side channel is at {address}");
        // From this machine's other addresses the port is closed (as it is from other machines).
        var others = System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == System.Net.NetworkInformation.OperationalStatus.Up)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses).Select(a => a.Address)
            .Where(a => a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork && !IPAddress.IsLoopback(a)).ToList();
        foreach (var other in others)
        {
            using var client = new System.Net.Sockets.TcpClient();
            await Assert.ThrowsAnyAsync<System.Net.Sockets.SocketException>(() => client.ConnectAsync(other, address.Port));
        }
    }

    /// <summary>A zip of good shapes plus a path-traversal member and a zip bomb member (50 MB of zeros).</summary>
    public static byte[] ZipWithTraps(int first, int count)
    {
        using var buffer = new MemoryStream();
        using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
        {
            for (int i = first; i < first + count; i++)
            {
                using var entry = zip.CreateEntry($"inner/shape{i}.png").Open();
                entry.Write(Drops.Png(i));
            }
            using (var traversal = zip.CreateEntry("../../x.png").Open()) traversal.Write(Drops.Png(7));
            using var bomb = zip.CreateEntry("zeros.png", CompressionLevel.SmallestSize).Open();
            var zeros = new byte[1 << 20];
            for (int i = 0; i < 50; i++) bomb.Write(zeros);
        }
        return buffer.ToArray();
    }
}

/// <summary>The local host's stand-in for the blob trigger, scan by scan against Azurite.</summary>
public class DropScannerTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task Every_drop_is_signalled_once_even_in_the_same_second_as_the_last_scan_and_a_failed_signal_is_sent_again()
    {
        var storage = azurite.Client();
        await new ModelRegistry(storage).EnsureContainersAsync();
        var signalled = new List<string>();
        string? failOnce = null;
        Task<string> Signal(string name, CancellationToken _)
        {
            if (name == failOnce) { failOnce = null; throw new InvalidOperationException("the task hub is down"); }
            signalled.Add(name);
            return Task.FromResult(name);
        }
        var scanner = new DropScanner(storage, Signal, TimeSpan.FromSeconds(1), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance);
        var drops = storage.GetBlobContainerClient(StorageLayout.TrainingImagesContainer);

        // Blob times have one-second resolution: find a blob dropped in the same second as the one the last scan saw.
        bool sameSecond = false;
        for (int i = 0; i < 20 && !sameSecond; i++)
        {
            await Drops.UploadAsync(storage, "scan", $"early{i}.png", Drops.Png(i));
            await scanner.ScanOnceAsync(default);
            await Drops.UploadAsync(storage, "scan", $"late{i}.png", Drops.Png(i));
            sameSecond = (await drops.GetBlobClient($"scan/early{i}.png").GetPropertiesAsync()).Value.LastModified
                == (await drops.GetBlobClient($"scan/late{i}.png").GetPropertiesAsync()).Value.LastModified;
            await scanner.ScanOnceAsync(default);
            Assert.Equal([$"scan/early{i}.png", $"scan/late{i}.png"], signalled.TakeLast(2));
        }
        Assert.True(sameSecond, "no two uploads landed in the same second in 20 tries");
        Assert.Equal(signalled.Count, signalled.Distinct().Count());

        // A signal that fails is sent on the next scan; nothing signalled before is sent again.
        int before = signalled.Count;
        failOnce = "scan/retried.png";
        await Task.Delay(1100); // a second later than the drops above
        await Drops.UploadAsync(storage, "scan", "retried.png", Drops.Png(50));
        await Assert.ThrowsAsync<InvalidOperationException>(() => scanner.ScanOnceAsync(default));
        await scanner.ScanOnceAsync(default);
        Assert.Equal(["scan/retried.png"], signalled.Skip(before));

        // A restarted host picks up from the stored watermark (its second is rescanned): older drops are not signalled again.
        await Drops.UploadAsync(storage, "scan", "after-restart.png", Drops.Png(51));
        before = signalled.Count;
        await new DropScanner(storage, Signal, TimeSpan.FromSeconds(1), Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance).ScanOnceAsync(default);
        Assert.Contains("scan/after-restart.png", signalled.Skip(before));
        Assert.DoesNotContain("scan/early0.png", signalled.Skip(before));
    }
}

/// <summary>imagegen drop and the upload endpoint's checks (DropFiles), against Azurite.</summary>
public class DropCommandTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static (int code, string output) Drop(params string[] args)
    {
        var (code, output, error) = TestImages.RunCli(["drop", .. args]);
        return (code, output + error);
    }

    [Fact]
    public async Task Drop_uploads_a_folder_with_its_subfolders_refuses_what_ingest_would_with_the_reason_and_never_overwrites()
    {
        using var folder = new TempFolder();
        Directory.CreateDirectory(folder.File("shirts"));
        Directory.CreateDirectory(folder.File(".git"));
        await File.WriteAllBytesAsync(folder.File("a.png"), Drops.Png(1));
        await File.WriteAllBytesAsync(folder.File("shirts/b.png"), Drops.Png(2));
        await File.WriteAllBytesAsync(folder.File(".git/c.png"), Drops.Png(3));
        await File.WriteAllBytesAsync(folder.File("bomb.png"), TestImages.PngHeaderOnly(50_000, 50_000));
        await File.WriteAllTextAsync(folder.File("notes.txt"), "not an image");
        await File.WriteAllTextAsync(folder.File(StorageLayout.OptionsFile), "{\"epoch\": 3}");

        var (code, output) = Drop(folder.Path, "--dataset", "dropped", "--storage", azurite.ConnectionString);
        Assert.True(code == 0, output);
        Assert.Contains("dropped 2 of 5 files into training-images/dropped/", output);
        Assert.Contains("refused bomb.png: image is 50000x50000 pixels", output);
        Assert.Contains("refused notes.txt: not an image or archive name", output);
        Assert.Contains("refused imagegen.json: unknown key 'epoch'", output);
        var names = new List<string>();
        await foreach (var blob in azurite.Client().GetBlobContainerClient(StorageLayout.TrainingImagesContainer).GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, "dropped/", default))
            names.Add(blob.Name);
        Assert.Equal(["dropped/a.png", "dropped/shirts/b.png"], names);

        // Again: nothing accepted before is replaced; --overwrite does replace.
        await File.WriteAllBytesAsync(folder.File("a.png"), Drops.Png(9));
        var (again, secondOutput) = Drop(folder.Path, "--dataset", "dropped", "--storage", azurite.ConnectionString);
        Assert.Equal(1, again);
        Assert.Contains("refused a.png: the dataset holds a file of that name already", secondOutput);
        var blobA = azurite.Client().GetBlobContainerClient(StorageLayout.TrainingImagesContainer).GetBlobClient("dropped/a.png");
        Assert.Equal(Drops.Png(1), (await blobA.DownloadContentAsync()).Value.Content.ToArray());
        Assert.Equal(0, Drop(folder.Path, "--dataset", "dropped", "--storage", azurite.ConnectionString, "--overwrite").code);
        Assert.Equal(Drops.Png(9), (await blobA.DownloadContentAsync()).Value.Content.ToArray());

        // An archive goes up as it is (streamed; ingest reads its members later).
        await File.WriteAllBytesAsync(folder.File("more.zip"), PipelineIntegrationTests.ZipWithTraps(first: 0, count: 3));
        var (zipped, zipOutput) = Drop(folder.File("more.zip"), "--dataset", "zipped", "--storage", azurite.ConnectionString);
        Assert.True(zipped == 0, zipOutput);
        Assert.Contains("dropped 1 of 1 files into training-images/zipped/", zipOutput);
        var zipBlob = azurite.Client().GetBlobContainerClient(StorageLayout.TrainingImagesContainer).GetBlobClient("zipped/more.zip");
        Assert.Equal(await File.ReadAllBytesAsync(folder.File("more.zip")), (await zipBlob.DownloadContentAsync()).Value.Content.ToArray());

        // Bad arguments name what was wrong.
        Assert.Contains("--dataset 'Bad Name' is not a valid name", Drop(folder.Path, "--dataset", "Bad Name").output);
        Assert.Contains("is neither a folder nor a file", Drop(folder.File("missing"), "--dataset", "x").output);
        var (prefixCode, prefixOutput) = Drop(folder.Path, "--dataset", "x", "--prefix", ".");
        Assert.Equal(2, prefixCode);
        Assert.Contains("--prefix '.' cannot lead a file's name: no part of the name may be empty or start with '.'", prefixOutput);
    }

    [Theory]
    [InlineData("../x.png", "no part of the name may be empty or start with '.'")]
    [InlineData("a/./x.png", "no part of the name may be empty or start with '.'")]
    [InlineData("a\\x.png", "the name may hold letters")]
    [InlineData("x.exe", "not an image or archive name")]
    [InlineData("x.png\n", "the name may hold letters")]
    public void Upload_names_that_could_escape_the_dataset_or_are_not_images_are_refused(string name, string reason) =>
        Assert.Contains(reason, ImageGen.Pipeline.Ingest.DropFiles.Rejection(name, Drops.Png(1)));
}
