using Azure;
using System.Diagnostics;
using ImageGen.Core.Data;
using ImageGen.Core.Imaging;
using ImageGen.Core.Models;
using ImageGen.Core.Sampling;
using ImageGen.Pipeline.Http;
using ImageGen.Pipeline.Telemetry;

namespace ImageGen.Pipeline.Serve;

/// <summary>Everything behind the serving endpoints: validate, resolve the version, batch the forward pass, encode.</summary>
public sealed class SampleService(GeneratorCache cache, ServeOptions options)
{
    public GeneratorCache Cache => cache;
    /// <summary>Output pixels held by requests from queueing until their answer is written: the bound on a burst's memory.</summary>
    public PixelBudget PixelsInFlight { get; } = new(options.MaxPixelsInFlight);
    private readonly SemaphoreSlim encodes = new(options.MaxConcurrentEncodes, options.MaxConcurrentEncodes);

    public async Task<ApiResult> SamplesAsync(string dataset, IReadOnlyDictionary<string, string?> query, string? ifNoneMatch, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        using var activity = ImageGenTelemetry.Source.StartActivity("imagegen.samples");
        activity?.SetTag("imagegen.dataset", dataset);
        try
        {
            var request = SampleQuery.Parse(dataset, query);
            string version = await ResolveAsync(dataset, request.Version, cancellationToken);
            activity?.SetTag("imagegen.version", version);
            activity?.SetTag("imagegen.images", request.ImageCount);
            var headers = new Dictionary<string, string>
            {
                ["X-Model-Version"] = version,
                ["X-Seeds"] = request.Interpolate is { } p ? $"{p.a},{p.b}" : string.Join(',', request.Seeds),
            };
            if (SampleCaching.AddHeaders(request, version, ifNoneMatch, headers)) return new ApiResult(304, "", [], headers);

            using var lease = await cache.AcquireAsync(dataset, version, cancellationToken);
            var generator = lease.Model.Generator;
            var spec = generator.Spec;
            int[] classes = request.ClassIndices(generator.ClassNames, version) ?? ImageClasses(request, generator);
            if (spec.Classes > 0) headers["X-Classes"] = string.Join(',', classes.Select(c => generator.ClassNames[c]));
            long side = (long)spec.ImageSize * request.Scale, pixels = request.ImageCount * side * side;
            if (pixels > options.MaxRequestPixels)
                return ApiResult.Error(new ApiError(400,
                    $"{request.ImageCount} images of {side}x{side} ({spec.ImageSize}x{spec.ImageSize} at scale {request.Scale}) are {pixels:N0} pixels, " +
                    $"over the limit of {options.MaxRequestPixels:N0} per request; ask for fewer images or a smaller scale", "scale",
                    $"count x (image size x scale)^2 up to {options.MaxRequestPixels}"));
            // Held until the answer is written, not only until it is made: the encoded body counts too.
            var budget = await PixelsInFlight.AcquireAsync(pixels, cancellationToken);
            try
            {
                var generated = await lease.Model.Queue.GenerateAsync(() => Inputs(request, spec, classes), request.ImageCount, request.Scale, cancellationToken);
                var names = request.Interpolate is { } q
                    ? Enumerable.Range(0, q.steps).Select(i => $"interp_{i:D3}.png").ToList()
                    : request.Seeds.Select(s => $"seed{s:D4}.png").ToList();
                long encodeStarted = Stopwatch.GetTimestamp();
                await encodes.WaitAsync(cancellationToken);
                ApiResult result;
                try { result = SampleEncoding.Encode(request, generated.Pixels, names, version, headers); }
                finally { encodes.Release(); }
                var encoded = Stopwatch.GetElapsedTime(encodeStarted);
                headers["Server-Timing"] = SampleEncoding.ServerTiming(generated, encoded, Stopwatch.GetElapsedTime(started));
                ImageGenTelemetry.RecordQueueWait(dataset, generated.Queued);
                TagPhases(activity, generated, encoded);
                return result with { HeldUntilWritten = budget };
            }
            catch
            {
                budget.Dispose();
                throw;
            }
        }
        catch (ApiErrorException e) { return ApiResult.Error(e.Error, e.Headers); }
        catch (QueueFullException e) { return Busy(dataset, e); }
        catch (RequestFailedException e) { return StoreUnavailable(dataset, e); }
    }

    public async Task<ApiResult> ReconstructAsync(string dataset, IReadOnlyDictionary<string, string?> parameters, Stream body, long? contentLength, CancellationToken cancellationToken)
    {
        try
        {
            var query = ReconstructQuery.Parse(dataset, parameters);
            if (contentLength > options.MaxReconstructBytes)
                return ApiResult.Error(new ApiError(413, $"the image is {contentLength} bytes, over the {options.MaxReconstructBytes}-byte limit", "body", $"up to {options.MaxReconstructBytes} bytes"));
            var bytes = await ReadLimitedAsync(body, options.MaxReconstructBytes, cancellationToken);
            if (bytes is null)
                return ApiResult.Error(new ApiError(413, $"the image is over the {options.MaxReconstructBytes}-byte limit", "body", $"up to {options.MaxReconstructBytes} bytes"));
            string resolved = await ResolveAsync(dataset, query.Version, cancellationToken);
            using var lease = await cache.AcquireAsync(dataset, resolved, cancellationToken);
            if (lease.Model.Generator.Spec.Kind != ModelKind.Vae)
                return ApiResult.Error(new ApiError(400, $"dataset '{dataset}' version {resolved} is a {lease.Model.Generator.Spec.Kind} model; only VAE models reconstruct"));
            int? imageClass = query.ClassIndex(lease.Model.Generator.ClassNames, resolved);
            var model = await lease.Model.ReconstructorAsync();
            // Within the serving pixel budget, as every request's output is: a burst of large uploads waits, not piles up.
            var decoded = await ImageDecoder.DecodeWithinAsync(PixelsInFlight, bytes, model.Spec.ImageSize, model.Spec.Channels, cancellationToken: cancellationToken);
            if (!decoded.Accepted) return ApiResult.Error(new ApiError(400, $"the uploaded image was rejected: {decoded.Rejection}", "body"));
            // On the model's worker, in its queue, like every other request (tensors never leave that thread).
            byte[] png = await lease.Model.Queue.RunAsync(() => model.ReconstructPng(decoded.Pixels!, imageClass), cancellationToken);
            return new ApiResult(200, "image/png", png, new Dictionary<string, string> { ["X-Model-Version"] = resolved });
        }
        catch (ApiErrorException e) { return ApiResult.Error(e.Error, e.Headers); }
        catch (QueueFullException e) { return Busy(dataset, e); }
        catch (RequestFailedException e) { return StoreUnavailable(dataset, e); }
    }

    /// <summary>
    /// The model store failed a lookup (down, throttling, or refusing this identity): a JSON error like any other, 503 with
    /// Retry-After, naming the store's answer so an operator can tell a missing role (403) from an outage.
    /// </summary>
    private static ApiResult StoreUnavailable(string dataset, RequestFailedException e) =>
        ApiResult.Error(new ApiError(503, $"dataset '{dataset}': the model store could not be read ({(e.Status > 0 ? $"HTTP {e.Status}" : "no answer")}" +
                                          $"{(e.ErrorCode is { } code ? $" {code}" : "")}); retry shortly"), new Dictionary<string, string> { ["Retry-After"] = "5" });

    /// <summary>The Server-Timing parts as attributes of the request's span.</summary>
    private static void TagPhases(Activity? activity, GeneratedImages generated, TimeSpan encode)
    {
        if (activity is null) return;
        activity.SetTag("imagegen.queue_ms", generated.Queued.TotalMilliseconds);
        activity.SetTag("imagegen.latents_ms", generated.Latents.TotalMilliseconds);
        activity.SetTag("imagegen.forward_ms", generated.Forward.TotalMilliseconds);
        activity.SetTag("imagegen.pixels_ms", generated.Pixelize.TotalMilliseconds);
        activity.SetTag("imagegen.encode_ms", encode.TotalMilliseconds);
        activity.SetTag("imagegen.batch_requests", generated.BatchRequests);
    }

    private static ApiResult Busy(string dataset, QueueFullException e)
    {
        ImageGenTelemetry.RecordThrottled(dataset);
        return ApiResult.Error(new ApiError(429, e.Message + "; retry shortly"), new Dictionary<string, string> { ["Retry-After"] = "1" });
    }

    /// <summary>What anyone may know: the app is up. Nothing about datasets, versions or the machine.</summary>
    public static ApiResult Health() => ApiResult.JsonBody(new { status = "ok" });

    /// <summary>The serving status for operators (behind a key): device, threads, the models loaded and their traffic, memory in flight.</summary>
    public ApiResult Status()
    {
        var loaded = cache.Loaded;
        return ApiResult.JsonBody(new
        {
            status = "ok",
            residentModels = cache.ResidentModels,
            peakResidentModels = cache.PeakResidentModels,
            pixelsInFlight = PixelsInFlight.InUse,
            peakPixelsInFlight = PixelsInFlight.Peak,
            device = cache.Checkpoints?.Device ?? "cpu",
            libtorch = cache.Checkpoints is not null,
            threads = cache.Checkpoints?.Threads ?? (options.OnnxThreads > 0 ? options.OnnxThreads : Environment.ProcessorCount),
            warm = loaded.Count > 0,
            batching = options.Batching,
            models = loaded.Select(m => new
            {
                dataset = m.Dataset, version = m.Version, kind = m.Generator.Spec.Kind, imageSize = m.Generator.Spec.ImageSize, backend = m.Generator.Backend,
                loadedAt = m.LoadedAt, lastUsed = m.LastUsed, requests = m.Queue.RequestsServed, forwardPasses = m.Queue.ForwardPasses, dropped = m.Queue.RequestsDropped,
            }),
        });
    }

    private async Task<string> ResolveAsync(string dataset, string? version, CancellationToken cancellationToken)
    {
        ResolveStatus status;
        string? resolved;
        try { (status, resolved) = await cache.ResolveAsync(dataset, version, cancellationToken); }
        catch (InvalidDataException e) { throw new ApiErrorException(new ApiError(500, $"dataset '{dataset}' cannot be served: {e.Message}")); }
        return status switch
        {
            ResolveStatus.Ok => resolved!,
            ResolveStatus.NoModelYet => throw new ApiErrorException(new ApiError(503, $"dataset '{dataset}' has no published model yet; training may be in progress"),
                new Dictionary<string, string> { ["Retry-After"] = "60" }),
            ResolveStatus.UnknownVersion => throw new ApiErrorException(new ApiError(404, $"dataset '{dataset}' has no version '{version}'", "version")),
            _ => throw new ApiErrorException(new ApiError(404, $"unknown dataset '{dataset}'", "dataset")),
        };
    }

    /// <summary>
    /// The generator's input for the request (runs on the batch worker's thread): z per seed, or the slerp path, scaled by
    /// truncation, and each image's class.
    /// </summary>
    private static GeneratorInputs Inputs(SampleQuery request, ModelSpec spec, int[] classes)
    {
        int nz = spec.LatentSize;
        float[] latents;
        if (request.Interpolate is { } path)
        {
            float[] ends = LatentNoise.Draw([path.a, path.b], nz);
            latents = Seeds.Slerp(ends.AsSpan(0, nz), ends.AsSpan(nz), path.steps);
        }
        else latents = LatentNoise.Draw(request.Seeds, nz);
        if (request.Truncation != 1.0)
        {
            float truncation = (float)request.Truncation;
            for (int i = 0; i < latents.Length; i++) latents[i] *= truncation;
        }
        return new GeneratorInputs(latents, classes, request.ImageCount);
    }

    /// <summary>Each image's own class where none was asked for: the seed's (an interpolation keeps its first seed's); 0 for an unconditional model.</summary>
    private static int[] ImageClasses(SampleQuery request, IServedGenerator generator) =>
        request.Interpolate is { } path
            ? Enumerable.Repeat(generator.ClassesFor([path.a])[0], path.steps).ToArray()
            : generator.ClassesFor(request.Seeds);

    /// <summary>Reads at most limit bytes; null when the body is longer (nothing past limit+1 is read).</summary>
    private static async Task<byte[]?> ReadLimitedAsync(Stream body, int limit, CancellationToken cancellationToken)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            buffer.Write(chunk, 0, read);
            if (buffer.Length > limit) return null;
        }
        return buffer.ToArray();
    }
}
