using System.IO.Compression;
using System.Net;
using System.Text.Json;
using Azure.Storage.Blobs;
using ImageGen.Cli.Hosting;
using ImageGen.Core.Checkpoints;
using ImageGen.Core.Imaging;
using ImageGen.Core.Sampling;
using ImageGen.Core.Training;
using ImageGen.Pipeline.Http;
using ImageGen.Pipeline.Serve;
using ImageGen.Pipeline.Storage;
using ImageGen.Pipeline.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using SkiaSharp;
using TorchSharp;

namespace ImageGen.Tests;

/// <summary>
/// Publishes the shared trained models into a real Azurite and serves them over a real socket (Kestrel on 127.0.0.1).
/// Versions are published with model.onnx, so the default backend (Auto) serves them with ONNX Runtime.
/// </summary>
public class ServingFixture : IAsyncLifetime
{
    /// <summary>The backend every host this fixture starts uses, unless its options name one.</summary>
    public virtual ServeBackend Backend => ServeBackend.Auto;
    public virtual string ExpectedEngine => "onnxruntime";

    public AzuriteFixture Azurite { get; } = new();
    public const string Gan = "shapes", Vae = "shapes-vae", Pending = "pending", Conditional = "shapes-classes";

    public async Task PublishAsync(string dataset, string version, string checkpointPath)
    {
        var registry = new ModelRegistry(Azurite.Client());
        if (await registry.ReadCardAsync(dataset, version) is not null) return; // each test asks; versions are written once
        var header = Checkpoint.ReadHeader(checkpointPath);
        await using var file = File.OpenRead(checkpointPath);
        await registry.PublishAsync(new ModelCard { Dataset = dataset, Version = version, Spec = header.Spec, Steps = header.Step, PublishedAt = DateTimeOffset.UtcNow }, file, null);
    }

    /// <param name="libtorch">False: composed as the lean serving build is, with ONNX Runtime alone.</param>
    /// <param name="connectionString">The storage to serve from; Azurite's own (full rights) unless given.</param>
    public async Task<(WebApplication app, HttpClient client)> StartHostAsync(ServeOptions options, bool libtorch = true, string? connectionString = null)
    {
        var app = LocalServeHost.Build(connectionString ?? Azurite.ConnectionString, options.Backend == ServeBackend.Auto ? options with { Backend = Backend } : options, "http://127.0.0.1:0",
            libtorch: libtorch);
        await app.StartAsync();
        return (app, new HttpClient { BaseAddress = new Uri(app.Urls.First()) });
    }

    public async Task InitializeAsync()
    {
        var training = Azurite.Client().GetBlobContainerClient(StorageLayout.TrainingImagesContainer);
        await training.CreateIfNotExistsAsync();
        await training.UploadBlobAsync($"{Pending}/cat.png", BinaryData.FromBytes([1, 2, 3]));
    }

    public Task DisposeAsync() { Azurite.Dispose(); return Task.CompletedTask; }
}

/// <summary>The same published versions served from their checkpoints by libtorch.</summary>
public sealed class LibtorchServingFixture : ServingFixture
{
    public override ServeBackend Backend => ServeBackend.Libtorch;
    public override string ExpectedEngine => "libtorch";
}

/// <summary>Every serving test again, with libtorch running the generators instead of ONNX Runtime.</summary>
public sealed class LibtorchServingTests(TrainedRuns runs, LibtorchServingFixture serving) : ServingTests(runs, serving), IClassFixture<LibtorchServingFixture>;

/// <summary>
/// Serving as the lean build (functions/ImageGen.Functions.Front) composes it, without libtorch: model.onnx serves, a VAE
/// reconstructs through encoder.onnx, and what needs a checkpoint is refused with the reason.
/// </summary>
[Collection(TrainedRunsCollection.Name)]
public sealed class LeanServingTests(TrainedRuns runs, ServingFixture serving) : IClassFixture<ServingFixture>
{
    /// <summary>A libtorch that starts a load, waits to be let go, then finds the checkpoint broken.</summary>
    private sealed class BrokenCheckpoints : ICheckpointServing
    {
        public readonly SemaphoreSlim Started = new(0);
        public readonly ManualResetEventSlim Release = new();
        public int Calls;
        public string Device => "cpu";
        public int Threads => 1;
        public IImageReconstructor Load(Stream checkpoint)
        {
            Interlocked.Increment(ref Calls);
            Started.Release();
            Release.Wait(TimeSpan.FromSeconds(60));
            throw new InvalidDataException("broken on purpose");
        }
    }

    [Fact]
    public async Task A_warm_model_evicted_by_other_traffic_is_warmed_again()
    {
        await serving.PublishAsync(ServingFixture.Gan, "v0001", runs.Gan.CheckpointPath);
        await serving.PublishAsync(ServingFixture.Vae, "v0001", runs.Vae.CheckpointPath);
        const string other = "lean-other";
        await serving.PublishAsync(other, "v0001", runs.Gan.CheckpointPath);
        var (app, http) = await serving.StartHostAsync(new ServeOptions
        {
            WarmDatasets = $"{ServingFixture.Gan},{ServingFixture.Vae}", MaxLoadedModels = 2, LatestCheckInterval = TimeSpan.FromSeconds(1),
        }, libtorch: false);
        await using var _ = app;
        var cache = app.Services.GetRequiredService<SampleService>().Cache;
        bool BothWarm() => cache.IsLoaded(ServingFixture.Gan, "v0001") && cache.IsLoaded(ServingFixture.Vae, "v0001");
        for (int i = 0; i < 600 && (await http.GetAsync("/api/health/ready")).StatusCode != HttpStatusCode.OK; i++) await Task.Delay(50);
        Assert.True(BothWarm());

        // A third dataset's request takes one warm model's slot; the warmer loads it again (and the third makes way).
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/api/datasets/{other}/samples?seed=1")).StatusCode);
        for (int i = 0; i < 600 && !(BothWarm() && (await http.GetAsync("/api/health/ready")).StatusCode == HttpStatusCode.OK); i++) await Task.Delay(50);
        Assert.True(BothWarm());
        Assert.False(cache.IsLoaded(other, "v0001"));
    }

    [Fact]
    public async Task Readiness_turns_503_the_moment_a_warm_model_is_evicted_not_at_the_next_check()
    {
        await serving.PublishAsync(ServingFixture.Gan, "v0001", runs.Gan.CheckpointPath);
        const string other = "lean-other";
        await serving.PublishAsync(other, "v0001", runs.Gan.CheckpointPath);
        // The warmer checks at start and then not for a day, so what readiness says next is the eviction's doing alone.
        var (app, http) = await serving.StartHostAsync(new ServeOptions
        {
            WarmDatasets = ServingFixture.Gan, MaxLoadedModels = 1, LatestCheckInterval = TimeSpan.FromDays(1),
        }, libtorch: false);
        await using var _ = app;
        for (int i = 0; i < 600 && (await http.GetAsync("/api/health/ready")).StatusCode != HttpStatusCode.OK; i++) await Task.Delay(50);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/api/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/api/datasets/{other}/samples?seed=1")).StatusCode); // takes the only slot
        var evicted = await http.GetAsync("/api/health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, evicted.StatusCode);
        var body = JsonDocument.Parse(await evicted.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("v0001 was evicted; warming it again", body.GetProperty("waiting").GetProperty(ServingFixture.Gan).GetString());
        Assert.False(body.GetProperty("warm").TryGetProperty(ServingFixture.Gan, out var stillWarm), $"still warm: {stillWarm}");
    }

    [Fact]
    public async Task A_load_that_fails_after_its_callers_went_away_leaves_the_cache_and_its_failure_is_remembered()
    {
        await serving.PublishAsync(ServingFixture.Gan, "v0001", runs.Gan.CheckpointPath);
        var broken = new BrokenCheckpoints();
        var cache = new GeneratorCache(new ModelRegistry(serving.Azurite.Client()), new ServeOptions { Backend = ServeBackend.Libtorch }, broken);
        using var gone = new CancellationTokenSource();
        var doomed = cache.AcquireAsync(ServingFixture.Gan, "v0001", gone.Token);
        Assert.True(await broken.Started.WaitAsync(TimeSpan.FromSeconds(60)));
        gone.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => doomed);
        Assert.Equal(1, cache.Entries); // still loading, with no one waiting
        broken.Release.Set();
        for (int i = 0; i < 600 && (cache.ResidentModels > 0 || cache.Entries > 0); i++) await Task.Delay(50); // settled as it fails
        Assert.Equal(0, cache.ResidentModels);
        Assert.Equal(0, cache.Entries); // a failed load counts against no limit
        var remembered = await Assert.ThrowsAsync<ApiErrorException>(() => cache.AcquireAsync(ServingFixture.Gan, "v0001", CancellationToken.None));
        Assert.Equal(500, remembered.Error.Status);
        Assert.Contains("could not be loaded: broken on purpose", remembered.Error.Message);
        Assert.Equal(1, broken.Calls); // answered from memory, not loaded again
    }

    [Fact]
    public async Task Without_libtorch_model_onnx_serves_and_what_needs_a_checkpoint_is_refused_by_name()
    {
        await serving.PublishAsync(ServingFixture.Gan, "v0001", runs.Gan.CheckpointPath);
        await serving.PublishAsync(ServingFixture.Vae, "v0001", runs.Vae.CheckpointPath);
        const string conditionalVae = "lean-cvae";
        await serving.PublishAsync(conditionalVae, "v0001", runs.ConditionalVae.CheckpointPath);
        const string old = "lean-no-onnx"; // as published before export existed
        await serving.PublishAsync(old, "v0001", runs.Gan.CheckpointPath);
        await serving.Azurite.Client().GetBlobContainerClient(StorageLayout.ModelsContainer).DeleteBlobIfExistsAsync(StorageLayout.ModelOnnx(old, "v0001"));
        const string oldVae = "lean-vae-no-encoder"; // a VAE as published before its encoder was exported
        await serving.PublishAsync(oldVae, "v0001", runs.Vae.CheckpointPath);
        await serving.Azurite.Client().GetBlobContainerClient(StorageLayout.ModelsContainer).DeleteBlobIfExistsAsync(StorageLayout.ModelEncoderOnnx(oldVae, "v0001"));

        var (app, http) = await serving.StartHostAsync(new ServeOptions(), libtorch: false);
        await using (app)
        using (http)
        {
            var served = await http.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?seeds=1-4&format=zip");
            Assert.Equal(HttpStatusCode.OK, served.StatusCode);
            var status = JsonDocument.Parse(await http.GetStringAsync("/api/serve/status")).RootElement;
            Assert.False(status.GetProperty("libtorch").GetBoolean());
            Assert.Equal("onnxruntime", status.GetProperty("models").EnumerateArray().Single().GetProperty("backend").GetString());

            var old500 = await http.GetAsync($"/api/datasets/{old}/samples?seeds=1");
            Assert.Equal(HttpStatusCode.InternalServerError, old500.StatusCode);
            Assert.Contains("no libtorch", await old500.Content.ReadAsStringAsync());

            // A VAE reconstructs through its encoder.onnx; one published before the encoder was exported cannot here.
            using var shape = TestImages.Shape(3, 32);
            var body = TestImages.Encode(shape, SKEncodedImageFormat.Png);
            var reconstructed = await http.PostAsync($"/api/datasets/{ServingFixture.Vae}/reconstruct", new ByteArrayContent(body));
            Assert.Equal(HttpStatusCode.OK, reconstructed.StatusCode);
            using (var image = SKBitmap.Decode(await reconstructed.Content.ReadAsByteArrayAsync())) Assert.Equal(32, image.Width);
            // A class-conditional VAE too: its encoder.onnx takes the image's class.
            var conditional = await http.PostAsync($"/api/datasets/{conditionalVae}/reconstruct?class=inverted", new ByteArrayContent(body));
            Assert.True(conditional.StatusCode == HttpStatusCode.OK, $"{conditional.StatusCode}: {await conditional.Content.ReadAsStringAsync()}");
            using (var image = SKBitmap.Decode(await conditional.Content.ReadAsByteArrayAsync())) Assert.Equal(32, image.Width);
            var refused = await http.PostAsync($"/api/datasets/{oldVae}/reconstruct", new ByteArrayContent(body));
            Assert.Equal(HttpStatusCode.NotImplemented, refused.StatusCode);
            Assert.Contains("encoder.onnx", await refused.Content.ReadAsStringAsync());
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/api/datasets/{oldVae}/samples?seeds=1")).StatusCode); // it still samples
        }
        // Forcing libtorch where there is none fails at start-up, naming the setting.
        var error = Assert.Throws<InvalidOperationException>(() =>
            LocalServeHost.Build(serving.Azurite.ConnectionString, new ServeOptions { Backend = ServeBackend.Libtorch }, "http://127.0.0.1:0", libtorch: false)
                .Services.GetRequiredService<GeneratorCache>());
        Assert.Contains("Serve__Backend", error.Message);
    }

    /// <summary>`imagegen serve --lean`, a process of its own: it serves model.onnx and never maps libtorch (read from /proc/PID/maps).</summary>
    [Fact]
    public async Task Serve_lean_serves_without_ever_loading_libtorch()
    {
        await serving.PublishAsync(ServingFixture.Gan, "v0001", runs.Gan.CheckpointPath);
        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            ArgumentList = { Path.Combine(AppContext.BaseDirectory, "imagegen.dll"), "serve", "--lean", "--storage", serving.Azurite.ConnectionString,
                             "--urls", "http://127.0.0.1:0", "--threads", "2" },
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        // Both streams drained as they come (a full pipe would stop the server), the first "serving on" line awaited.
        var log = new System.Text.StringBuilder();
        var ready = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        using var process = new System.Diagnostics.Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); if (e.Data?.StartsWith("serving on ") == true) ready.TrySetResult(e.Data); };
        process.ErrorDataReceived += (_, e) => { lock (log) log.AppendLine(e.Data); };
        process.Exited += (_, _) => ready.TrySetException(new Exception("serve --lean exited before serving"));
        process.EnableRaisingEvents = true;
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            string line;
            try { line = await ready.Task.WaitAsync(TimeSpan.FromSeconds(60)); }
            catch (Exception e) { lock (log) throw new Exception($"{e.Message}; its output:\n{log}", e); }
            Assert.Contains("lean: no libtorch", line);
            string url = System.Text.RegularExpressions.Regex.Match(line, @"http://127\.0\.0\.1:\d+").Value;
            using var http = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromSeconds(60) };
            var response = await http.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?seeds=1-16");
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            var maps = await File.ReadAllLinesAsync($"/proc/{process.Id}/maps");
            Assert.Contains(maps, l => l.Contains("libonnxruntime"));
            Assert.DoesNotContain(maps, l => l.Contains("libtorch", StringComparison.OrdinalIgnoreCase));
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
    }
}

/// <summary>The serving endpoints end to end; run once per backend (this class: ONNX Runtime; LibtorchServingTests: libtorch).</summary>
[Collection(TrainedRunsCollection.Name)]
public class ServingTests(TrainedRuns runs, ServingFixture serving) : IClassFixture<ServingFixture>, IAsyncLifetime
{
    private WebApplication app = null!;
    private HttpClient http = null!;

    public async Task InitializeAsync()
    {
        await serving.PublishAsync(ServingFixture.Gan, "v0001", runs.Gan.CheckpointPath);
        await serving.PublishAsync(ServingFixture.Vae, "v0001", runs.Vae.CheckpointPath);
        await serving.PublishAsync(ServingFixture.Conditional, "v0001", runs.ConditionalGan.CheckpointPath);
        (app, http) = await serving.StartHostAsync(new ServeOptions { LatestCheckInterval = TimeSpan.Zero });
    }

    public async Task DisposeAsync() { http.Dispose(); await app.DisposeAsync(); }

    private static async Task<JsonElement> Json(HttpResponseMessage response) => JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    [Fact]
    public async Task The_configured_backend_runs_the_generators()
    {
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?seeds=1")).StatusCode);
        var models = (await Json(await http.GetAsync("/api/serve/status"))).GetProperty("models").EnumerateArray().ToList();
        Assert.NotEmpty(models);
        Assert.All(models, m => Assert.Equal(serving.ExpectedEngine, m.GetProperty("backend").GetString()));
    }

    [Fact]
    public async Task A_version_without_model_onnx_is_served_by_libtorch_unless_onnx_is_forced()
    {
        const string dataset = "no-onnx"; // as published before export existed
        await serving.PublishAsync(dataset, "v0001", runs.Gan.CheckpointPath);
        await serving.Azurite.Client().GetBlobContainerClient(StorageLayout.ModelsContainer).DeleteBlobIfExistsAsync(StorageLayout.ModelOnnx(dataset, "v0001"));
        var (autoApp, auto) = await serving.StartHostAsync(new ServeOptions());
        await using (autoApp)
        using (auto)
        {
            Assert.Equal(HttpStatusCode.OK, (await auto.GetAsync($"/api/datasets/{dataset}/samples?seeds=1")).StatusCode);
            var model = (await Json(await auto.GetAsync("/api/serve/status"))).GetProperty("models").EnumerateArray().Single();
            Assert.Equal("libtorch", model.GetProperty("backend").GetString());
        }
        var (onnxApp, onnx) = await serving.StartHostAsync(new ServeOptions { Backend = ServeBackend.Onnx });
        await using (onnxApp)
        using (onnx)
        {
            var refused = await onnx.GetAsync($"/api/datasets/{dataset}/samples?seeds=1");
            Assert.Equal(HttpStatusCode.InternalServerError, refused.StatusCode);
            string message = await refused.Content.ReadAsStringAsync();
            Assert.Contains("model.onnx", message);
            Assert.Contains("Serve__Backend", message);
            Assert.Equal(HttpStatusCode.OK, (await onnx.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?seeds=1")).StatusCode); // a version with it serves
        }
    }

    [Fact]
    public async Task Seeded_grid_carries_version_seeds_and_etag_and_a_repeat_gets_304()
    {
        var response = await http.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?count=4&seed=3&nrow=2");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("image/png", response.Content.Headers.ContentType!.MediaType);
        Assert.Equal("v0001", response.Headers.GetValues("X-Model-Version").Single());
        Assert.Equal("3,4,5,6", response.Headers.GetValues("X-Seeds").Single());
        var png = await response.Content.ReadAsByteArrayAsync();
        using (var grid = SKBitmap.Decode(png)) Assert.Equal((2 * 34 + 2, 2 * 34 + 2), (grid.Width, grid.Height));

        // The same images as the core sampler gives for these seeds (served by ONNX Runtime or libtorch: within a level).
        using (var sampler = ImageSampler.Load(runs.Gan.CheckpointPath))
        using (var expected = sampler.Generate(Seeds.Range(3, 4)))
            Assert.InRange(TestImages.MostDifferentLevel(TensorImages.EncodeGridPng(expected, 2, 2), png), 0, 1);

        // Server-Timing splits the handler's time: its parts are non-negative and fit inside the whole.
        var timing = ServerTiming(response);
        Assert.Equal(["queue", "latents", "forward", "pixels", "encode", "total"], timing.Keys);
        Assert.All(timing.Values, ms => Assert.True(ms >= 0));
        Assert.True(timing["forward"] > 0);
        Assert.True(timing.Where(t => t.Key != "total").Sum(t => t.Value) <= timing["total"] + 0.05, string.Join(", ", timing));
        Assert.Contains("desc=\"batch of 1\"", response.Headers.GetValues("Server-Timing").Single());

        // A weak ETag: batching may round a pixel differently, so the same images are promised, not the same bytes.
        var etag = response.Headers.ETag!;
        Assert.True(etag.IsWeak);
        var again = new HttpRequestMessage(HttpMethod.Get, $"/api/datasets/{ServingFixture.Gan}/samples?count=4&seed=3&nrow=2");
        again.Headers.IfNoneMatch.Add(etag);
        var cached = await http.SendAsync(again);
        Assert.Equal(HttpStatusCode.NotModified, cached.StatusCode);
        Assert.Equal(etag, cached.Headers.ETag);
        // If-None-Match compares weakly: the strong form of the same tag matches too; another request's does not.
        var strong = new HttpRequestMessage(HttpMethod.Get, $"/api/datasets/{ServingFixture.Gan}/samples?count=4&seed=3&nrow=2");
        strong.Headers.IfNoneMatch.Add(new System.Net.Http.Headers.EntityTagHeaderValue(etag.Tag));
        Assert.Equal(HttpStatusCode.NotModified, (await http.SendAsync(strong)).StatusCode);
        var other = new HttpRequestMessage(HttpMethod.Get, $"/api/datasets/{ServingFixture.Gan}/samples?count=4&seed=4&nrow=2");
        other.Headers.IfNoneMatch.Add(etag);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(other)).StatusCode);
        // "*" names no answer: a request only the model can refuse (a class this unconditional model lacks) is still refused, not 304.
        var any = new HttpRequestMessage(HttpMethod.Get, $"/api/datasets/{ServingFixture.Gan}/samples?count=1&seed=0&class=nosuch");
        any.Headers.IfNoneMatch.Add(System.Net.Http.Headers.EntityTagHeaderValue.Any);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.SendAsync(any)).StatusCode);

        var random = await http.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?count=2");
        Assert.Equal(HttpStatusCode.OK, random.StatusCode);
        Assert.Null(random.Headers.ETag);
        Assert.Equal(2, random.Headers.GetValues("X-Seeds").Single().Split(',').Length); // the random seeds are echoed
    }

    [Fact]
    public async Task A_conditional_model_draws_the_classes_asked_for_even_when_batched_together_and_names_bad_ones()
    {
        string url = $"/api/datasets/{ServingFixture.Conditional}/samples";
        using var sampler = ImageSampler.Load(runs.ConditionalGan.CheckpointPath);
        // Requests for different classes, sent at once so the batcher may run them in one forward pass.
        var asked = new[] { ("class=inverted", Enumerable.Repeat(1, 4).ToArray()), ("class=plain", Enumerable.Repeat(0, 4).ToArray()), ("classes=plain,inverted", new[] { 0, 1, 0, 1 }) };
        var responses = await Task.WhenAll(asked.Select(a => http.GetAsync($"{url}?count=4&seed=9&nrow=4&{a.Item1}")));
        for (int i = 0; i < asked.Length; i++)
        {
            Assert.Equal(HttpStatusCode.OK, responses[i].StatusCode);
            Assert.Equal(string.Join(',', asked[i].Item2.Select(c => sampler.ClassNames[c])), responses[i].Headers.GetValues("X-Classes").Single());
            using var expected = sampler.Generate(Seeds.Range(9, 4), classes: asked[i].Item2);
            using var served = SKBitmap.Decode(await responses[i].Content.ReadAsByteArrayAsync());
            using var wanted = SKBitmap.Decode(TensorImages.EncodeGridPng(expected, 4, 2));
            int worst = 0;
            for (int y = 0; y < wanted.Height; y++)
                for (int x = 0; x < wanted.Width; x++) worst = Math.Max(worst, Math.Abs(wanted.GetPixel(x, y).Red - served.GetPixel(x, y).Red));
            Assert.True(worst <= 1, $"{asked[i].Item1}: the served grid is {worst} levels from the sampler's");
        }
        // Without a class each seed brings its own, named in X-Classes.
        var own = await http.GetAsync($"{url}?seeds=1-8");
        Assert.Equal(string.Join(',', sampler.ClassesFor(Seeds.Range(1, 8)).Select(c => sampler.ClassNames[c])), own.Headers.GetValues("X-Classes").Single());

        var unknown = await http.GetAsync($"{url}?count=2&class=socks");
        Assert.Equal(HttpStatusCode.BadRequest, unknown.StatusCode);
        var error = await Json(unknown);
        Assert.Contains("'socks' is not one of version v0001's classes: plain, inverted", error.GetProperty("error").GetString());
        Assert.Equal("class", error.GetProperty("parameter").GetString());
        var unconditional = await http.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?count=2&class=plain");
        Assert.Equal(HttpStatusCode.BadRequest, unconditional.StatusCode);
        Assert.Contains("not class-conditional", (await Json(unconditional)).GetProperty("error").GetString());
        var both = await http.GetAsync($"{url}?count=2&class=plain&classes=plain");
        Assert.Equal(HttpStatusCode.BadRequest, both.StatusCode);
    }

    [Fact]
    public async Task Png_zip_and_json_formats_return_one_image_per_seed()
    {
        var one = await http.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?seeds=7&format=png&scale=4");
        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        using (var image = SKBitmap.Decode(await one.Content.ReadAsByteArrayAsync())) Assert.Equal(128, image.Width);

        var zip = await http.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?seeds=1,5-6&format=zip");
        using (var archive = new ZipArchive(await zip.Content.ReadAsStreamAsync()))
            Assert.Equal(new[] { "seed0001.png", "seed0005.png", "seed0006.png" }, archive.Entries.Select(e => e.Name));

        var json = await Json(await http.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?interpolate=1,2&steps=5&format=json"));
        Assert.Equal("v0001", json.GetProperty("modelVersion").GetString());
        Assert.Equal(5, json.GetProperty("images").GetArrayLength());
        using var first = SKBitmap.Decode(Convert.FromBase64String(json.GetProperty("images")[0].GetString()!));
        Assert.Equal(32, first.Width);
    }

    [Theory]
    [InlineData("count=100000", 400, "count")]
    [InlineData("scale=1000", 400, "scale")]
    [InlineData("seed=abc", 400, "seed")]
    [InlineData("seeds=0-9999", 400, "seeds")]
    [InlineData("seeds=,", 400, "seeds")]
    [InlineData("count=2&count=999", 400, "count")]
    [InlineData("format=gif", 400, "format")]
    [InlineData("count=3&format=png", 400, "format")]
    [InlineData("colour=red", 400, "colour")]
    [InlineData("version=v0099", 404, "version")]
    [InlineData("version=..%2F..%2Fetc", 404, "version")]
    public async Task Bad_parameters_get_a_json_error_naming_the_parameter(string query, int status, string parameter)
    {
        var response = await http.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?{query}");
        Assert.Equal(status, (int)response.StatusCode);
        var body = await Json(response);
        Assert.Equal(parameter, body.GetProperty("parameter").GetString());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("error").GetString()));
    }

    [Fact]
    public async Task Unknown_and_unsafe_datasets_are_404_and_a_dataset_still_training_is_503_with_retry_after()
    {
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/api/datasets/nosuch/samples")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync("/api/datasets/..%2F..%2Fetc/samples")).StatusCode);
        var pending = await http.GetAsync($"/api/datasets/{ServingFixture.Pending}/samples");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, pending.StatusCode);
        Assert.NotNull(pending.Headers.RetryAfter);
    }

    [Fact]
    public async Task A_newly_published_version_is_picked_up_without_a_restart_and_old_versions_stay_addressable()
    {
        const string dataset = "moving";
        await serving.PublishAsync(dataset, "v0001", runs.Gan.CheckpointPath);
        var first = await http.GetAsync($"/api/datasets/{dataset}/samples?seed=1&count=1");
        Assert.Equal("v0001", first.Headers.GetValues("X-Model-Version").Single());
        await serving.PublishAsync(dataset, "v0002", Path.Combine(runs.Gan.RunFolder, "checkpoints", "epoch_0001.ckpt"));
        var second = await http.GetAsync($"/api/datasets/{dataset}/samples?seed=1&count=1");
        Assert.Equal("v0002", second.Headers.GetValues("X-Model-Version").Single());
        Assert.NotEqual(await first.Content.ReadAsByteArrayAsync(), await second.Content.ReadAsByteArrayAsync());
        var pinned = await http.GetAsync($"/api/datasets/{dataset}/samples?seed=1&count=1&version=v0001");
        Assert.Equal(await first.Content.ReadAsByteArrayAsync(), await pinned.Content.ReadAsByteArrayAsync());
        Assert.Contains("immutable", pinned.Headers.CacheControl!.ToString());
    }

    /// <summary>A served model's worker kept busy (a job that waits) until disposed, so requests queue behind it.</summary>
    private sealed class HeldQueue(SampleService? service, ManualResetEventSlim release, Task<bool> blocker) : IDisposable
    {
        public bool StillHeld => !blocker.IsCompleted;

        public async Task WaitForPixelsInFlightAsync(long pixels)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (service!.PixelsInFlight.InUse < pixels) await Task.Delay(10, timeout.Token);
        }

        public void Dispose()
        {
            release.Set();
            Assert.True(blocker.Wait(TimeSpan.FromSeconds(60)) && blocker.Result);
            release.Dispose();
        }
    }

    /// <summary>Holds the dataset's latest (v0001) model busy; returns once its worker is inside the holding job.</summary>
    private static async Task<HeldQueue> HoldQueueAsync(WebApplication app, string dataset)
    {
        var service = app.Services.GetRequiredService<SampleService>();
        using var lease = await service.Cache.AcquireAsync(dataset, "v0001", CancellationToken.None);
        return await HoldAsync(lease.Model.Queue, service);
    }

    /// <summary>Holds a queue's worker busy; returns once the worker is inside the holding job, so the queue is empty.</summary>
    private static async Task<HeldQueue> HoldAsync(BatchQueue queue, SampleService? service = null)
    {
        var release = new ManualResetEventSlim();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocker = queue.RunAsync(() => { started.SetResult(); return release.Wait(TimeSpan.FromSeconds(60)); });
        await started.Task.WaitAsync(TimeSpan.FromSeconds(60));
        return new HeldQueue(service, release, blocker);
    }

    [Fact]
    public async Task Concurrent_requests_are_batched_into_fewer_forward_passes_with_the_same_images()
    {
        var (batchedApp, batched) = await serving.StartHostAsync(new ServeOptions { BatchWindow = TimeSpan.FromMilliseconds(50) });
        await using var _ = batchedApp;
        Assert.Equal(HttpStatusCode.OK, (await batched.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?seed=1")).StatusCode); // loaded: one pass
        // Every fourth request is enlarged 2x: it shares the forward pass and converts its own rows.
        static int ScaleOf(int i) => i % 4 == 3 ? 2 : 1;
        Task<HttpResponseMessage>[] requests;
        // The model is held busy until all 16 wait in its queue, so they meet there whatever the machine's speed.
        using (var held = await HoldQueueAsync(batchedApp, ServingFixture.Gan))
        {
            requests = Enumerable.Range(0, 16).Select(i => batched.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?seed={i * 10}&count=2&scale={ScaleOf(i)}")).ToArray();
            long pixels = Enumerable.Range(0, 16).Sum(i => 2L * (32 * ScaleOf(i)) * (32 * ScaleOf(i)));
            await held.WaitForPixelsInFlightAsync(pixels);
        }
        var responses = await Task.WhenAll(requests);
        var bodies = await Task.WhenAll(responses.Select(r => r.Content.ReadAsByteArrayAsync()));
        Assert.Contains(responses, r => r.Headers.GetValues("Server-Timing").Single() is var t && !t.Contains("batch of 1\""));
        var health = await Json(await batched.GetAsync("/api/serve/status"));
        var model = health.GetProperty("models").EnumerateArray().Single();
        Assert.Equal(1 + 1 + 16, model.GetProperty("requests").GetInt64()); // the first, the hold, the 16
        Assert.True(model.GetProperty("forwardPasses").GetInt64() - 1 < 16, $"forward passes: {model.GetProperty("forwardPasses")}");
        using var sampler = ImageSampler.Load(runs.Gan.CheckpointPath);
        foreach (int i in new[] { 0, 3, 5, 10, 15 })
        {
            using var alone = sampler.Generate(Seeds.Range(i * 10, 2));
            using var enlarged = alone.repeat_interleave(ScaleOf(i), 2).repeat_interleave(ScaleOf(i), 3);
            using var served = DecodeGrid(bodies[i], 2, 32 * ScaleOf(i));
            Assert.Equal(enlarged.shape, served.shape);
            Assert.True((served - ToBytes(enlarged)).abs().max().item<float>() <= 1, "a batched image may differ from a lone one by rounding only");
        }
    }

    [Fact]
    public void Overhead_bench_compares_the_served_grid_with_the_bare_one_and_refuses_a_different_checkpoint()
    {
        string url = http.BaseAddress!.ToString();
        var (code, output, error) = TestImages.RunCli("bench", "overhead", "--url", url, "--dataset", ServingFixture.Gan, "--checkpoint", runs.Gan.CheckpointPath,
            "--count", "4", "--rounds", "2", "--block", "2", "--warmup", "1");
        Assert.True(code == 0, error);
        Assert.Contains("through HTTP ms:", output);
        Assert.Contains("server timing p50 ms: queue", output);
        Assert.Matches(@"HTTP overhead at p50: [+-]\d+\.\d%", output);

        // The VAE's grid is not what the GAN dataset serves: the bench stops rather than compare different work.
        (code, _, error) = TestImages.RunCli("bench", "overhead", "--url", url, "--dataset", ServingFixture.Gan, "--checkpoint", runs.Vae.CheckpointPath,
            "--count", "4", "--rounds", "1", "--block", "1", "--warmup", "0");
        Assert.Equal(2, code);
        Assert.Contains("differs from", error);
    }

    [Fact]
    public async Task The_console_page_offers_only_parameters_the_samples_endpoint_accepts_and_fetches_nothing_from_elsewhere()
    {
        var response = await http.GetAsync("/api/ui");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType!.MediaType);
        Assert.Contains("default-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single());
        string html = await response.Content.ReadAsStringAsync();
        // The console's Generate form: every field it sends is a parameter the samples endpoint takes.
        string form = html[html.IndexOf("<form id=\"generate\"", StringComparison.Ordinal)..];
        form = form[..form.IndexOf("</form>", StringComparison.Ordinal)];
        var fields = System.Text.RegularExpressions.Regex.Matches(form, "<input [^>]*name=\"([a-z]+)\"").Select(m => m.Groups[1].Value).ToList();
        Assert.True(fields.Count >= 5, string.Join(", ", fields));
        Assert.All(fields, field => Assert.Contains(field, SampleQuery.Parameters));
        Assert.Contains("/samples?", html); // relative to /api/ui, so the same page works under any host prefix
        // Shipped whole: nothing is fetched from another origin (no CDN; the machine may reach nothing else).
        Assert.DoesNotMatch("(src|href)=\"(https?:)?//", html);
    }

    [Fact]
    public async Task Concurrent_requests_share_one_latest_json_lookup()
    {
        var lookups = new CountingPolicy(request => request.Uri.Path.EndsWith("/" + StorageLayout.LatestPointer(ServingFixture.Gan), StringComparison.Ordinal));
        var options = new BlobClientOptions();
        options.AddPolicy(lookups, Azure.Core.HttpPipelinePosition.PerCall);
        var cache = new GeneratorCache(new ModelRegistry(new BlobServiceClient(serving.Azurite.ConnectionString, options)), new ServeOptions { LatestCheckInterval = TimeSpan.Zero });
        Assert.Equal((ResolveStatus.Ok, "v0001"), await cache.ResolveAsync(ServingFixture.Gan, null, CancellationToken.None));
        Assert.Equal(1, lookups.Count);

        var answers = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => cache.ResolveAsync(ServingFixture.Gan, null, CancellationToken.None)).ToList());
        Assert.All(answers, answer => Assert.Equal((ResolveStatus.Ok, "v0001"), answer));
        // Every one of them had to revalidate (interval zero), but they joined the lookup in flight.
        Assert.True(lookups.Count <= 1 + 2, $"{lookups.Count - 1} lookups for 32 concurrent requests");
    }

    /// <summary>Counts the storage requests that match, as a pipeline policy of the blob client.</summary>
    private sealed class CountingPolicy(Func<Azure.Core.Request, bool> matches) : Azure.Core.Pipeline.HttpPipelineSynchronousPolicy
    {
        private int count;
        public int Count => Volatile.Read(ref count);
        public override void OnSendingRequest(Azure.Core.HttpMessage message)
        {
            if (matches(message.Request)) Interlocked.Increment(ref count);
        }
    }

    [Fact]
    public async Task Past_the_queue_limit_the_answer_is_429_with_retry_after_and_the_rest_succeed()
    {
        var (smallApp, small) = await serving.StartHostAsync(new ServeOptions { Batching = false, MaxQueuedRequests = 1 });
        await using var _ = smallApp;
        await small.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?count=1"); // load the model first
        long throttled = 0; // imagegen.serve.throttled for this dataset: one per 429
        using var listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, l) => { if (instrument.Name == "imagegen.serve.throttled") l.EnableMeasurementEvents(instrument); },
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags) if (tag is { Key: "dataset", Value: ServingFixture.Gan }) Interlocked.Add(ref throttled, value);
        });
        listener.Start();
        // The model is held busy: one request fits its queue (MaxQueuedRequests 1), the other three are turned away at once.
        Task<HttpResponseMessage>[] requests;
        using (var held = await HoldQueueAsync(smallApp, ServingFixture.Gan))
        {
            requests = Enumerable.Range(0, 4).Select(_ => small.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?count=256")).ToArray();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (requests.Count(r => r.IsCompleted) < 3) await Task.Delay(20, timeout.Token);
        }
        var responses = await Task.WhenAll(requests);
        Assert.Equal(3, responses.Count(r => r.StatusCode == HttpStatusCode.TooManyRequests));
        Assert.Equal(3, Interlocked.Read(ref throttled));
        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.All(responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests), r => Assert.NotNull(r.Headers.RetryAfter));
    }

    [Fact]
    public async Task A_caller_that_goes_away_while_queued_gives_back_its_pixels_at_once_and_is_recorded_as_499_not_500()
    {
        var (app, client) = await serving.StartHostAsync(new ServeOptions());
        await using var _ = app;
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?count=1&seed=1")).StatusCode);
        var statuses = new System.Collections.Concurrent.ConcurrentQueue<int>();
        using var listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, l) => { if (instrument.Name == "imagegen.http.requests") l.EnableMeasurementEvents(instrument); },
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            int? status = null;
            bool samples = false;
            foreach (var tag in tags)
            {
                if (tag is { Key: "route", Value: "Samples" }) samples = true;
                if (tag is { Key: "status", Value: int code }) status = code;
            }
            if (samples && status is { } s) statuses.Enqueue(s);
        });
        listener.Start();
        using (var held = await HoldQueueAsync(app, ServingFixture.Gan))
        {
            using var gone = new CancellationTokenSource();
            var pending = client.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?count=4&seed=2", gone.Token);
            async Task<long> InFlight() => (await Json(await client.GetAsync("/api/serve/status"))).GetProperty("pixelsInFlight").GetInt64();
            for (int i = 0; i < 600 && await InFlight() == 0; i++) await Task.Delay(50); // queued behind the blocker
            Assert.Equal(4 * 32 * 32, await InFlight());
            gone.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => pending);
            for (int i = 0; i < 600 && statuses.IsEmpty; i++) await Task.Delay(50);
            Assert.Equal([ImageGenTelemetry.ClientClosedRequest], statuses);
            Assert.Equal(0, await InFlight());
            Assert.True(held.StillHeld); // given back while the model was still busy
        }
    }

    [Fact]
    public async Task Least_recently_used_versions_are_dropped_beyond_the_limit()
    {
        var (lruApp, lru) = await serving.StartHostAsync(new ServeOptions { MaxLoadedModels = 1 });
        await using var _ = lruApp;
        await lru.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?count=1");
        await lru.GetAsync($"/api/datasets/{ServingFixture.Vae}/samples?count=1");
        var models = (await Json(await lru.GetAsync("/api/serve/status"))).GetProperty("models").EnumerateArray().ToList();
        Assert.Equal(ServingFixture.Vae, Assert.Single(models).GetProperty("dataset").GetString());
    }

    [Fact]
    public async Task Vae_reconstructs_an_uploaded_image_and_oversized_or_bad_bodies_are_refused()
    {
        using var shape = TestImages.Shape(3, 32);
        var response = await http.PostAsync($"/api/datasets/{ServingFixture.Vae}/reconstruct", new ByteArrayContent(TestImages.Encode(shape, SKEncodedImageFormat.Png)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using (var image = SKBitmap.Decode(await response.Content.ReadAsByteArrayAsync())) Assert.Equal(32, image.Width);

        var gan = await http.PostAsync($"/api/datasets/{ServingFixture.Gan}/reconstruct", new ByteArrayContent(TestImages.Encode(shape, SKEncodedImageFormat.Png)));
        Assert.Equal(HttpStatusCode.BadRequest, gan.StatusCode);
        var text = await http.PostAsync($"/api/datasets/{ServingFixture.Vae}/reconstruct", new StringContent("not an image"));
        Assert.Equal(HttpStatusCode.BadRequest, text.StatusCode);
        Assert.Contains("not a recognised image", (await Json(text)).GetProperty("error").GetString());
    }

    /// <summary>
    /// A class-conditional VAE, through the backend under test: an image is reconstructed with its class (class=NAME, which
    /// it needs); the name is checked against the model's classes, and an unconditional VAE takes none.
    /// </summary>
    [Fact]
    public async Task A_conditional_vae_reconstructs_an_image_with_its_class()
    {
        const string dataset = "shapes-cvae";
        await serving.PublishAsync(dataset, "v0001", runs.ConditionalVae.CheckpointPath);
        // Two held-out shapes, inverted (bright backgrounds): the first is posted, the second is what another image looks like.
        byte[] Inverted(int index) => [.. runs.HeldOut.Pixels[index].data<byte>().ToArray().Select(p => (byte)(255 - p))];
        byte[] shape = Inverted(0), another = Inverted(1);
        var body = PngEncoder.Encode(shape, 32, 32, 1);
        async Task<HttpResponseMessage> Post(string query) => await http.PostAsync($"/api/datasets/{dataset}/reconstruct{query}", new ByteArrayContent(body));
        async Task<JsonElement> Refused(string query)
        {
            var response = await Post(query);
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            return await Json(response);
        }

        var missing = await Refused("");
        Assert.Contains("is class-conditional: give the image's class (class=NAME)", missing.GetProperty("error").GetString());
        Assert.Equal(("class", "plain, inverted"), (missing.GetProperty("parameter").GetString(), missing.GetProperty("allowed").GetString()));
        Assert.Contains("'round' is not one of version v0001's classes: plain, inverted", (await Refused("?class=round")).GetProperty("error").GetString());
        Assert.Contains("unknown parameter 'clas'", (await Refused("?clas=inverted")).GetProperty("error").GetString());

        var response = await Post("?class=inverted");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("v0001", response.Headers.GetValues("X-Model-Version").Single());
        using var image = SKBitmap.Decode(await response.Content.ReadAsByteArrayAsync());
        Assert.Equal((32, 32), (image.Width, image.Height));
        double Distance(byte[] pixels) => image.Pixels.Select((p, i) => Math.Abs(p.Red - pixels[i])).Average();
        double own = Distance(shape), other = Distance(another);
        Console.WriteLine($"{serving.ExpectedEngine}: the reconstruction is {own:0.0} levels from its input on average, {other:0.0} from another inverted shape");
        Assert.True(own < 0.5 * other, $"the reconstruction should be its own input's ({own:0.0} levels off), not another's ({other:0.0})");

        var unconditional = await http.PostAsync($"/api/datasets/{ServingFixture.Vae}/reconstruct?class=plain", new ByteArrayContent(body));
        Assert.Equal(HttpStatusCode.BadRequest, unconditional.StatusCode);
        Assert.Contains("not class-conditional", (await Json(unconditional)).GetProperty("error").GetString());
    }

    /// <summary>A VAE published before its encoder was exported: served by the backend under test, reconstructed through its checkpoint's encoder.</summary>
    [Fact]
    public async Task A_vae_without_encoder_onnx_reconstructs_through_its_checkpoint()
    {
        const string dataset = "vae-no-encoder";
        await serving.PublishAsync(dataset, "v0001", runs.Vae.CheckpointPath);
        await serving.Azurite.Client().GetBlobContainerClient(StorageLayout.ModelsContainer).DeleteBlobIfExistsAsync(StorageLayout.ModelEncoderOnnx(dataset, "v0001"));
        using var shape = TestImages.Shape(3, 32);
        var response = await http.PostAsync($"/api/datasets/{dataset}/reconstruct", new ByteArrayContent(TestImages.Encode(shape, SKEncodedImageFormat.Png)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using (var image = SKBitmap.Decode(await response.Content.ReadAsByteArrayAsync())) Assert.Equal(32, image.Width);
        var model = (await Json(await http.GetAsync("/api/serve/status"))).GetProperty("models").EnumerateArray().Single(m => m.GetProperty("dataset").GetString() == dataset);
        Assert.Equal(serving.ExpectedEngine, model.GetProperty("backend").GetString());
    }

    [Fact]
    public async Task An_oversized_body_is_refused_with_413_before_it_is_read()
    {
        // Over a socket the server answers 413 and closes while a 50 MB upload is still being sent, so the
        // client sees a broken pipe; the service is checked directly, with a stream that counts what is read.
        var service = app.Services.GetRequiredService<SampleService>();
        var declared = new CountingStream(50 * 1024 * 1024);
        var result = await service.ReconstructAsync(ServingFixture.Vae, NoParameters, declared, declared.Length, CancellationToken.None);
        Assert.Equal(413, result.Status);
        Assert.Equal(0, declared.BytesRead);
        Assert.Contains("limit", JsonDocument.Parse(result.Body).RootElement.GetProperty("error").GetString());

        var undeclared = new CountingStream(50 * 1024 * 1024); // chunked upload: no Content-Length
        result = await service.ReconstructAsync(ServingFixture.Vae, NoParameters, undeclared, null, CancellationToken.None);
        Assert.Equal(413, result.Status);
        Assert.True(undeclared.BytesRead <= new ServeOptions().MaxReconstructBytes + 81920, $"read {undeclared.BytesRead} bytes");
    }

    private static readonly Dictionary<string, string?> NoParameters = [];

    private sealed class CountingStream(long length) : Stream
    {
        public long BytesRead { get; private set; }
        public override int Read(byte[] buffer, int offset, int count)
        {
            int n = (int)Math.Min(count, length - BytesRead);
            BytesRead += n;
            return n;
        }
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => length;
        public override long Position { get => BytesRead; set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    [Fact]
    public async Task Health_tells_anonymous_callers_only_that_the_app_is_up_and_the_status_behind_a_key_has_the_models()
    {
        await http.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?count=1");
        var health = await Json(await http.GetAsync("/api/health"));
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Equal(["status"], health.EnumerateObject().Select(p => p.Name));
        var status = await Json(await http.GetAsync("/api/serve/status"));
        Assert.Equal("cpu", status.GetProperty("device").GetString());
        Assert.Contains(status.GetProperty("models").EnumerateArray(), m => m.GetProperty("dataset").GetString() == ServingFixture.Gan);
    }

    /// <summary>
    /// An uploaded image to reconstruct is decoded within the serving pixel budget, as outputs are: a few kilobytes of flat
    /// PNG can decode to millions of pixels, so a burst of them waits instead of piling up in memory.
    /// </summary>
    [Fact]
    public async Task A_reconstruct_upload_is_decoded_within_the_pixel_budget()
    {
        await serving.PublishAsync(ServingFixture.Vae, "v0001", runs.Vae.CheckpointPath);
        var (app, client) = await serving.StartHostAsync(new ServeOptions());
        await using var _ = app;
        using var large = new SKBitmap(2000, 1500);
        large.Erase(SKColors.Gray);
        var body = TestImages.Encode(large, SKEncodedImageFormat.Png);
        Assert.True(body.Length < 100_000, $"{body.Length} bytes");
        var response = await client.PostAsync($"/api/datasets/{ServingFixture.Vae}/reconstruct", new ByteArrayContent(body));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var status = await Json(await client.GetAsync("/api/serve/status"));
        Assert.Equal(2000 * 1500, status.GetProperty("peakPixelsInFlight").GetInt64());
        Assert.Equal(0, status.GetProperty("pixelsInFlight").GetInt64());
    }

    /// <summary>A model store that refuses the app (here: a SAS that may only write) is a JSON 503 naming its answer, not a bare 500.</summary>
    [Fact]
    public async Task A_model_store_that_refuses_the_app_is_a_json_503_naming_its_answer()
    {
        var writeOnly = serving.Azurite.Client().GenerateAccountSasUri(Azure.Storage.Sas.AccountSasPermissions.Write, DateTimeOffset.UtcNow.AddHours(1),
            Azure.Storage.Sas.AccountSasResourceTypes.All);
        string connection = $"BlobEndpoint=http://127.0.0.1:{serving.Azurite.BlobPort}/devstoreaccount1;SharedAccessSignature={writeOnly.Query.TrimStart('?')}";
        var (app, client) = await serving.StartHostAsync(new ServeOptions(), connectionString: connection);
        await using var _ = app;
        foreach (var response in new[]
                 {
                     await client.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?seeds=1"),
                     await client.PostAsync($"/api/datasets/{ServingFixture.Vae}/reconstruct", new ByteArrayContent(TestImages.Encode(TestImages.Shape(3, 32), SKEncodedImageFormat.Png))),
                 })
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("5", response.Headers.GetValues("Retry-After").Single());
            Assert.Contains("the model store could not be read (HTTP 403", (await Json(response)).GetProperty("error").GetString());
        }
    }

    [Fact]
    public async Task A_request_past_the_pixel_budget_is_refused_naming_the_limit_before_any_image_is_made()
    {
        var (app, client) = await serving.StartHostAsync(new ServeOptions { MaxRequestPixels = 1_000_000 });
        await using var _ = app;
        // 64 images of 32x32 at scale 8 are 64 x 256^2 = 4.2 M pixels (json: base64 PNGs of them on top).
        var refused = await client.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?count=64&scale=8&format=json&seed=1");
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var error = await Json(refused);
        Assert.Contains("64 images of 256x256 (32x32 at scale 8) are 4,194,304 pixels, over the limit of 1,000,000 per request", error.GetProperty("error").GetString());
        Assert.Equal("scale", error.GetProperty("parameter").GetString());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"/api/datasets/{ServingFixture.Gan}/samples?count=64&scale=2&format=json&seed=1")).StatusCode);
        var status = await Json(await client.GetAsync("/api/serve/status"));
        Assert.Equal(0, status.GetProperty("pixelsInFlight").GetInt64()); // every request gave its pixels back
        Assert.Equal(64 * 64 * 64, status.GetProperty("peakPixelsInFlight").GetInt64()); // the refused one never held any
        Assert.Equal(1, status.GetProperty("models").EnumerateArray().Single().GetProperty("forwardPasses").GetInt64());
    }

    [Fact]
    public async Task Work_whose_caller_went_away_before_it_started_is_dropped_not_computed()
    {
        using var sampler = ImageSampler.Load(runs.Gan.CheckpointPath);
        await using var queue = new BatchQueue(sampler, new ServeOptions(), "test");
        using var hold = new ManualResetEventSlim();
        var blocker = queue.RunAsync(() => hold.Wait(TimeSpan.FromSeconds(30)));
        using var gone = new CancellationTokenSource();
        bool latentsMade = false;
        GeneratorInputs For(params long[] seeds) => new(LatentNoise.Draw(seeds, sampler.Spec.LatentSize), new int[seeds.Length], seeds.Length);
        var abandoned = queue.GenerateAsync(() => { latentsMade = true; return For(1, 2); }, 2, 1, gone.Token);
        var kept = queue.GenerateAsync(() => For(3), 1);
        gone.Cancel(); // the client disconnects while its work waits behind the blocker
        // Answered at once, so its caller gives back what it holds (pixel budget, model lease) while the blocker still runs.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => abandoned);
        Assert.False(blocker.IsCompleted);
        hold.Set();
        Assert.True(await blocker);
        Assert.Equal(1, (await kept).Pixels.Count);
        Assert.False(latentsMade);
        Assert.Equal(1, queue.RequestsDropped);
        Assert.Equal(1, queue.ForwardPasses);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queue.GenerateAsync(() => For(4), 1, 1, gone.Token)); // not even queued
    }

    [Fact]
    public async Task A_caller_that_went_away_gives_its_place_in_the_queue_limit_to_the_next()
    {
        using var sampler = ImageSampler.Load(runs.Gan.CheckpointPath);
        await using var queue = new BatchQueue(sampler, new ServeOptions { MaxQueuedRequests = 1 }, "test");
        GeneratorInputs For(params long[] seeds) => new(LatentNoise.Draw(seeds, sampler.Spec.LatentSize), new int[seeds.Length], seeds.Length);
        Task<GeneratedImages> next;
        using (await HoldAsync(queue)) // the worker is busy; the queue is empty
        {
            using var gone = new CancellationTokenSource();
            var left = queue.GenerateAsync(() => For(1), 1, 1, gone.Token);
            Assert.Throws<QueueFullException>(() => { _ = queue.GenerateAsync(() => For(2), 1); }); // the one place is taken (thrown as it is asked)
            gone.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => left);
            next = queue.GenerateAsync(() => For(3), 1); // its caller left, so its place is free
        }
        Assert.Equal(1, (await next).Pixels.Count);
        Assert.Equal(1, queue.RequestsDropped);
    }

    [Fact]
    public async Task A_reconstruction_runs_through_the_models_queue()
    {
        using var shape = TestImages.Shape(4, 32);
        async Task<long> Served() => (await Json(await http.GetAsync("/api/serve/status"))).GetProperty("models").EnumerateArray()
            .Where(m => m.GetProperty("dataset").GetString() == ServingFixture.Vae).Select(m => m.GetProperty("requests").GetInt64()).SingleOrDefault();
        await http.GetAsync($"/api/datasets/{ServingFixture.Vae}/samples?count=1"); // loaded
        long before = await Served();
        var response = await http.PostAsync($"/api/datasets/{ServingFixture.Vae}/reconstruct", new ByteArrayContent(TestImages.Encode(shape, SKEncodedImageFormat.Png)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(before + 1, await Served());
    }

    [Fact]
    public async Task A_latest_json_naming_an_unsafe_version_is_refused_not_followed()
    {
        const string dataset = "forged-latest";
        var models = serving.Azurite.Client().GetBlobContainerClient(StorageLayout.ModelsContainer);
        await models.GetBlobClient(StorageLayout.LatestPointer(dataset)).UploadAsync(
            BinaryData.FromObjectAsJson(new LatestPointer($"../{ServingFixture.Gan}/v0001", DateTimeOffset.UtcNow), Core.Models.Json.Options), overwrite: true);
        var response = await http.GetAsync($"/api/datasets/{dataset}/samples?count=1");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains($"names version '../{ServingFixture.Gan}/v0001', which is not a valid version name", (await Json(response)).GetProperty("error").GetString());
        Assert.False(response.Headers.Contains("X-Model-Version"));
    }

    /// <summary>
    /// A version whose publish has written its files but not yet its card (written last) is not served by name: it is not
    /// complete, and a model loaded or refused from half its files would be kept for the version's life.
    /// </summary>
    [Fact]
    public async Task A_version_is_served_by_name_only_once_its_card_is_written()
    {
        const string dataset = "half-published";
        await serving.PublishAsync(dataset, "v0001", runs.Gan.CheckpointPath);
        var models = serving.Azurite.Client().GetBlobContainerClient(StorageLayout.ModelsContainer);
        foreach (string blob in new[] { StorageLayout.ModelCheckpoint(dataset, "v0001"), StorageLayout.ModelOnnx(dataset, "v0001") })
        {
            var content = (await models.GetBlobClient(blob).DownloadContentAsync()).Value.Content;
            await models.GetBlobClient(blob.Replace("v0001", "v0002")).UploadAsync(content, overwrite: true);
        }
        var early = await http.GetAsync($"/api/datasets/{dataset}/samples?seeds=1&version=v0002");
        Assert.Equal(HttpStatusCode.NotFound, early.StatusCode);
        Assert.Contains("v0002", (await Json(early)).GetProperty("error").GetString());
        var card = (await new ModelRegistry(serving.Azurite.Client()).ReadCardAsync(dataset, "v0001"))! with { Version = "v0002" };
        await models.GetBlobClient(StorageLayout.ModelCard(dataset, "v0002")).UploadAsync(BinaryData.FromObjectAsJson(card, Core.Models.Json.Options));
        var complete = await http.GetAsync($"/api/datasets/{dataset}/samples?seeds=1&version=v0002");
        Assert.Equal(HttpStatusCode.OK, complete.StatusCode);
        Assert.Equal("v0002", complete.Headers.GetValues("X-Model-Version").Single());
    }

    [Fact]
    public async Task A_failed_load_is_remembered_for_a_while_instead_of_downloaded_by_every_request()
    {
        const string dataset = "broken-model";
        var models = serving.Azurite.Client().GetBlobContainerClient(StorageLayout.ModelsContainer);
        var checkpoint = models.GetBlobClient(StorageLayout.ModelCheckpoint(dataset, "v0001"));
        await checkpoint.UploadAsync(BinaryData.FromBytes(new byte[4096]), overwrite: true);
        var card = new ModelCard { Dataset = dataset, Version = "v0001", Spec = Checkpoint.ReadHeader(runs.Gan.CheckpointPath).Spec, PublishedAt = DateTimeOffset.UtcNow };
        await models.GetBlobClient(StorageLayout.ModelCard(dataset, "v0001")).UploadAsync(BinaryData.FromObjectAsJson(card, Core.Models.Json.Options), overwrite: true);
        var (app, client) = await serving.StartHostAsync(new ServeOptions { FailedLoadRetryAfter = TimeSpan.FromHours(1) });
        await using var _ = app;
        var (eagerApp, eager) = await serving.StartHostAsync(new ServeOptions { FailedLoadRetryAfter = TimeSpan.Zero });
        await using var __ = eagerApp;
        foreach (var host in new[] { client, eager })
        {
            var first = await host.GetAsync($"/api/datasets/{dataset}/samples?count=1&version=v0001");
            Assert.Equal(HttpStatusCode.InternalServerError, first.StatusCode);
            Assert.Contains("version v0001 could not be loaded: not an ImageGen checkpoint", (await Json(first)).GetProperty("error").GetString());
        }
        // Repaired: inside its window the failure is answered from memory (nothing downloaded); with no window the load is tried again.
        await checkpoint.UploadAsync(runs.Gan.CheckpointPath, overwrite: true);
        Assert.Equal(HttpStatusCode.InternalServerError, (await client.GetAsync($"/api/datasets/{dataset}/samples?count=1&version=v0001")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await eager.GetAsync($"/api/datasets/{dataset}/samples?count=1&version=v0001")).StatusCode);
    }

    [Fact]
    public async Task Loads_in_flight_count_against_the_model_limit_and_eviction_never_disposes_a_model_in_use()
    {
        const string dataset = "many-versions";
        for (int v = 1; v <= 3; v++) await serving.PublishAsync(dataset, $"v{v:D4}", runs.Gan.CheckpointPath);
        var (app, client) = await serving.StartHostAsync(new ServeOptions { MaxLoadedModels = 1, Batching = false });
        await using var _ = app;
        // Three versions wanted at once, over and over, by concurrent requests: with one slot, each load waits for the
        // model before it to be evicted and for its last request to finish.
        var responses = await Task.WhenAll(Enumerable.Range(0, 36).Select(i =>
            client.GetAsync($"/api/datasets/{dataset}/samples?count=2&seed={i}&version=v{i % 3 + 1:D4}")));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var status = await Json(await client.GetAsync("/api/serve/status"));
        Assert.Equal(1, status.GetProperty("peakResidentModels").GetInt32());
        Assert.True(status.GetProperty("residentModels").GetInt32() <= 1);
    }

    private static torch.Tensor ToBytes(torch.Tensor images) => images.add(1).mul(127.5).round().clamp(0, 255);

    private static torch.Tensor DecodeGrid(byte[] png, int count, int size = 32)
    {
        using var bitmap = SKBitmap.Decode(png);
        var cells = new float[count * size * size];
        for (int i = 0; i < count; i++)
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++)
                    cells[(i * size + y) * size + x] = bitmap.GetPixel(2 + i * (size + 2) + x, 2 + y).Red;
        return torch.tensor(cells, [count, 1, size, size]);
    }

    /// <summary>The Server-Timing header's durations by name, in the order sent, read by the parser the benchmarks use.</summary>
    private static Dictionary<string, double> ServerTiming(HttpResponseMessage response) =>
        ImageGen.Cli.HttpBenchCommand.ParseServerTiming(response.Headers.GetValues("Server-Timing").Single()).ToDictionary(t => t.Name, t => t.Milliseconds);
}
