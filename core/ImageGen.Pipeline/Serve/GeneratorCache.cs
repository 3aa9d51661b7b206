using Azure;
using ImageGen.Core.Sampling;
using ImageGen.Pipeline.Http;
using ImageGen.Pipeline.Storage;
using ImageGen.Pipeline.Telemetry;

namespace ImageGen.Pipeline.Serve;

/// <summary>
/// A loaded generator and its batch queue; disposed once evicted and no request holds it. It holds one of the
/// cache's model slots from the start of its load until it is disposed.
/// </summary>
public sealed class LoadedModel
{
    public required string Dataset { get; init; }
    public required string Version { get; init; }
    /// <summary>What samples: the version's model.onnx in ONNX Runtime, or its checkpoint's network in libtorch.</summary>
    public required IServedGenerator Generator { get; init; }
    public required BatchQueue Queue { get; init; }
    /// <summary>Loads the checkpoint's networks for what only they can do here (a VAE's reconstruction, where the version has no encoder.onnx).</summary>
    internal Func<Task<IImageReconstructor>> LoadCheckpoint { get; init; } = () => throw new InvalidOperationException("no checkpoint to load");
    private Task<IImageReconstructor>? checkpoint;
    public DateTimeOffset LoadedAt { get; init; } = DateTimeOffset.UtcNow;
    public DateTimeOffset LastUsed { get; internal set; } = DateTimeOffset.UtcNow;
    internal Action? OnDisposed { get; init; }

    /// <summary>
    /// What reconstructs: the generator itself where it can (libtorch, or ONNX Runtime with the version's encoder.onnx), else
    /// the checkpoint's networks, loaded on first use (again after a failed load).
    /// </summary>
    public Task<IImageReconstructor> ReconstructorAsync()
    {
        if (Generator is IImageReconstructor loaded) return Task.FromResult(loaded);
        lock (gate)
        {
            if (checkpoint is { IsFaulted: true } or { IsCanceled: true }) checkpoint = null;
            return checkpoint ??= LoadCheckpoint();
        }
    }
    private readonly Lock gate = new();
    private int leases;
    private bool evicted;
    private int disposed;

    public bool IsDisposed => Volatile.Read(ref disposed) == 1;

    /// <summary>
    /// A lease, unless the model was evicted first: the check and the count happen under the same lock as eviction's,
    /// so an eviction can never dispose a model between a request being handed it and the request holding it.
    /// </summary>
    internal bool TryAcquire()
    {
        lock (gate)
        {
            if (evicted) return false;
            leases++;
        }
        LastUsed = DateTimeOffset.UtcNow;
        return true;
    }

    internal void Release()
    {
        bool last;
        lock (gate) last = --leases == 0 && evicted;
        if (last) _ = DisposeAsync();
    }

    internal void Evict()
    {
        bool idle;
        lock (gate)
        {
            evicted = true;
            idle = leases == 0;
        }
        if (idle) _ = DisposeAsync();
    }

    private async Task DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1) return;
        try
        {
            await Queue.DisposeAsync();
            Generator.Dispose();
            Task<IImageReconstructor>? loaded;
            lock (gate) loaded = checkpoint;
            if (loaded is not null && await loaded.ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null) is { } other) other.Dispose();
        }
        finally { OnDisposed?.Invoke(); }
    }
}

/// <summary>A lease on a loaded model: a request that started on a version finishes on it, even if latest moves.</summary>
public readonly struct ModelLease(LoadedModel model) : IDisposable
{
    public LoadedModel Model { get; } = model;
    public void Dispose() => Model.Release();
}

public enum ResolveStatus { Ok, UnknownDataset, NoModelYet, UnknownVersion }

/// <summary>
/// Keeps generators warm per (dataset, version), loads each once (concurrent requests share the load),
/// revalidates latest.json at most once per interval with an ETag (one lookup at a time per dataset, shared by the
/// requests that arrive meanwhile), and drops the least recently used beyond the limit. Versions load into ONNX Runtime
/// from model.onnx, or into libtorch from the checkpoint where the build has libtorch (<paramref name="checkpoints"/>).
/// </summary>
public sealed class GeneratorCache(ModelRegistry registry, ServeOptions options, ICheckpointServing? checkpoints = null)
{
    /// <summary>libtorch, where this build carries it; null in the lean serving build, which serves model.onnx alone.</summary>
    public ICheckpointServing? Checkpoints { get; } = options.Backend != ServeBackend.Libtorch || checkpoints is not null ? checkpoints
        : throw new InvalidOperationException("Serve__Backend is libtorch, but this build serves with ONNX Runtime alone and has no libtorch; set Serve__Backend to auto or onnx");

    private sealed record Pointer(string Version, ETag? ETag, DateTimeOffset CheckedAt);

    private readonly Dictionary<string, Pointer> pointers = [];
    private readonly Dictionary<(string, string), Task<LoadedModel>> models = [];
    /// <summary>Requests waiting for a model's load to finish: a model they wait for is not evicted under them.</summary>
    private readonly Dictionary<(string, string), int> waiting = [];
    private readonly Dictionary<string, Task<(ResolveStatus, string?)>> revalidations = [];
    private readonly Dictionary<(string, string), (ApiErrorException Error, DateTimeOffset Until)> failures = [];
    private readonly SemaphoreSlim slots = new(options.MaxLoadedModels, options.MaxLoadedModels);
    private readonly Lock gate = new();

    public async Task<(ResolveStatus status, string? version)> ResolveAsync(string dataset, string? version, CancellationToken cancellationToken)
    {
        if (version is not null)
        {
            lock (gate) if (models.ContainsKey((dataset, version))) return (ResolveStatus.Ok, version);
            if (await registry.VersionExistsAsync(dataset, version, cancellationToken)) return (ResolveStatus.Ok, version);
            var latest = await registry.GetLatestAsync(dataset, null, cancellationToken);
            return (latest.Status == LatestStatus.UnknownDataset ? ResolveStatus.UnknownDataset : ResolveStatus.UnknownVersion, null);
        }
        TaskCompletionSource<(ResolveStatus, string?)>? mine = null;
        Task<(ResolveStatus, string?)> pending;
        Pointer? known;
        lock (gate)
        {
            pointers.TryGetValue(dataset, out known);
            if (known is not null && DateTimeOffset.UtcNow - known.CheckedAt < options.LatestCheckInterval) return (ResolveStatus.Ok, known.Version);
            // One revalidation per dataset at a time: requests arriving while it runs wait for its answer instead
            // of each sending their own (32 concurrent requests used to send 32 lookups every interval).
            if (!revalidations.TryGetValue(dataset, out pending!))
            {
                mine = new TaskCompletionSource<(ResolveStatus, string?)>(TaskCreationOptions.RunContinuationsAsynchronously);
                pending = revalidations[dataset] = mine.Task;
            }
        }
        if (mine is not null)
        {
            try { mine.SetResult(await RevalidateAsync(dataset, known)); } // not cancelled by this request: others wait on it
            catch (Exception e) { mine.SetException(e); }
            finally { lock (gate) revalidations.Remove(dataset); }
        }
        return await pending.WaitAsync(cancellationToken);
    }

    private async Task<(ResolveStatus, string?)> RevalidateAsync(string dataset, Pointer? known)
    {
        var now = DateTimeOffset.UtcNow;
        var lookup = await registry.GetLatestAsync(dataset, known?.ETag, CancellationToken.None);
        switch (lookup.Status)
        {
            case LatestStatus.NotModified:
                lock (gate) pointers[dataset] = known! with { CheckedAt = now };
                return (ResolveStatus.Ok, known!.Version);
            case LatestStatus.Found:
                lock (gate) pointers[dataset] = new Pointer(lookup.Pointer!.Version, lookup.ETag, now);
                return (ResolveStatus.Ok, lookup.Pointer!.Version);
            case LatestStatus.NoModel:
                return (ResolveStatus.NoModelYet, null);
            default:
                return (ResolveStatus.UnknownDataset, null);
        }
    }

    /// <summary>
    /// A lease on the (dataset, version) generator, loading it once for all concurrent requests. At most MaxLoadedModels
    /// models are resident, loads in flight and evicted models still finishing a request included: a load waits for a
    /// slot (the least recently used model is evicted to make one) and answers 503 when none frees up in time. A load
    /// that failed is remembered for FailedLoadRetryAfter and answered from memory, not downloaded again per request.
    /// </summary>
    public async Task<ModelLease> AcquireAsync(string dataset, string version, CancellationToken cancellationToken)
    {
        while (true)
        {
            Task<LoadedModel> loading;
            lock (gate)
            {
                if (failures.TryGetValue((dataset, version), out var failure))
                {
                    if (DateTimeOffset.UtcNow < failure.Until) throw new ApiErrorException(failure.Error.Error, failure.Error.Headers); // a fresh one per request
                    failures.Remove((dataset, version));
                }
                if (!models.TryGetValue((dataset, version), out loading!))
                {
                    loading = LoadAsync(dataset, version);
                    models[(dataset, version)] = loading;
                    // Settled by the load itself, not by its waiters: a load whose callers all went away must not stay
                    // registered, counting against MaxLoadedModels and failing whoever asks next.
                    var key = (dataset, version);
                    _ = loading.ContinueWith(failed => ForgetFailedLoad(key, failed), CancellationToken.None,
                        TaskContinuationOptions.NotOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                }
                else if (loading.IsCompletedSuccessfully) ImageGenTelemetry.RecordCacheHit(dataset);
                waiting[(dataset, version)] = waiting.GetValueOrDefault((dataset, version)) + 1;
            }
            EvictBeyondLimit();
            LoadedModel model;
            bool acquired;
            try
            {
                model = await loading.WaitAsync(cancellationToken);
                acquired = model.TryAcquire();
            }
            finally
            {
                lock (gate) if ((waiting[(dataset, version)] -= 1) == 0) waiting.Remove((dataset, version));
            }
            if (acquired) return new ModelLease(model);
            // Evicted between its load and this request: load it again (rare; only under a limit smaller than the working set).
            lock (gate) if (models.TryGetValue((dataset, version), out var current) && current == loading) models.Remove((dataset, version));
        }
    }

    /// <summary>A load that failed leaves the cache; its error is answered from memory for FailedLoadRetryAfter, unless it was a wait for a slot (503).</summary>
    private void ForgetFailedLoad((string Dataset, string Version) key, Task<LoadedModel> failed)
    {
        lock (gate)
        {
            if (!models.TryGetValue(key, out var current) || current != failed) return;
            models.Remove(key);
            if (failed.Exception?.InnerException is ApiErrorException { Error.Status: not 503 } remembered)
                failures[key] = (remembered, DateTimeOffset.UtcNow + options.FailedLoadRetryAfter);
        }
    }

    /// <summary>Loads registered in the cache, loaded or loading (for tests of what it keeps).</summary>
    internal int Entries { get { lock (gate) return models.Count; } }

    private async Task<LoadedModel> LoadAsync(string dataset, string version)
    {
        await Task.Yield(); // the caller registers the load before it runs
        // Wait for a slot, evicting the least recently used loaded model while this load is one too many; an evicted
        // model frees its slot when its last request finishes.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!await slots.WaitAsync(TimeSpan.FromMilliseconds(50)))
        {
            EvictBeyondLimit();
            if (waited.Elapsed > options.ModelSlotWait)
                throw new ApiErrorException(new ApiError(503, $"{options.MaxLoadedModels} models are loaded or loading and none freed up within " +
                $"{options.ModelSlotWait.TotalSeconds:0} s to make room for dataset '{dataset}' version {version}; retry shortly"),
                    new Dictionary<string, string> { ["Retry-After"] = "5" });
        }
        lock (gate) PeakResidentModels = Math.Max(PeakResidentModels, ResidentModels);
        try
        {
            byte[]? onnx = options.Backend == ServeBackend.Libtorch ? null : await registry.TryReadOnnxAsync(dataset, version);
            if (onnx is null && options.Backend == ServeBackend.Onnx)
                throw new ApiErrorException(new ApiError(500, $"dataset '{dataset}' version {version} has no {StorageLayout.OnnxFile} (published before ONNX export) and " +
                    "Serve__Backend is onnx; publish it again, or set Serve__Backend to auto"));
            if (onnx is null && Checkpoints is null)
                throw new ApiErrorException(new ApiError(500, $"dataset '{dataset}' version {version} has no {StorageLayout.OnnxFile} (published before ONNX export), and " +
                    "this serving build has no libtorch to run its checkpoint; publish it again, or serve it from the full build"));
            // Synchronous loads (the checkpoint's reads are ranged: the discriminator and optimizer states are never downloaded), so off the request's thread.
            IServedGenerator generator = onnx is not null
                ? await LoadOnnxAsync(dataset, version, onnx)
                : await LoadCheckpointAsync(dataset, version);
            ImageGenTelemetry.RecordModelLoad(dataset, succeeded: true);
            return new LoadedModel
            {
                Dataset = dataset, Version = version, Generator = generator, Queue = new BatchQueue(generator, options, dataset), OnDisposed = () => slots.Release(),
                LoadCheckpoint = () => LoadCheckpointAsync(dataset, version),
            };
        }
        catch (Exception e)
        {
            slots.Release();
            ImageGenTelemetry.RecordModelLoad(dataset, succeeded: false);
            if (e is InvalidDataException or RequestFailedException or EndOfStreamException)
                throw new ApiErrorException(new ApiError(500, $"dataset '{dataset}' version {version} could not be loaded: {e.Message}"));
            throw;
        }
    }

    /// <summary>model.onnx in ONNX Runtime; a VAE that reconstructs with its encoder.onnx too, where the version has one.</summary>
    private async Task<IServedGenerator> LoadOnnxAsync(string dataset, string version, byte[] onnx)
    {
        var generator = await Task.Run(() => OnnxGenerator.Load(onnx, options.OnnxThreads));
        try
        {
            if (generator.Spec.Kind != Core.Models.ModelKind.Vae) return generator;
            if (await registry.TryReadEncoderOnnxAsync(dataset, version) is not { } encoder) return generator; // published before the encoder was exported
            return await Task.Run(() => OnnxReconstructor.Load(generator, encoder, options.OnnxThreads));
        }
        catch
        {
            generator.Dispose();
            throw;
        }
    }

    private async Task<IImageReconstructor> LoadCheckpointAsync(string dataset, string version)
    {
        if (Checkpoints is not { } libtorch)
            throw new ApiErrorException(new ApiError(501, $"dataset '{dataset}' version {version} has no {StorageLayout.EncoderOnnxFile} (published before the " +
                "encoder was exported), and this serving build has no libtorch to run its checkpoint's encoder; publish it again, or reconstruct through the full build"));
        await using var checkpoint = await registry.OpenCheckpointAsync(dataset, version);
        return await Task.Run(() => libtorch.Load(checkpoint));
    }

    /// <summary>Evicts the least recently used loaded models while the resident ones and the loads in flight pass the limit.</summary>
    private void EvictBeyondLimit()
    {
        List<LoadedModel> evicted = [];
        lock (gate)
        {
            var loaded = models.Where(kv => kv.Value.IsCompletedSuccessfully && !waiting.ContainsKey(kv.Key))
                .Select(kv => kv.Value.Result).OrderBy(m => m.LastUsed).ToList();
            int excess = models.Count - options.MaxLoadedModels;
            for (int i = 0; i < excess && i < loaded.Count; i++)
            {
                models.Remove((loaded[i].Dataset, loaded[i].Version));
                evicted.Add(loaded[i]);
            }
        }
        foreach (var model in evicted)
        {
            model.Evict();
            ImageGenTelemetry.RecordEviction(model.Dataset);
        }
    }

    /// <summary>Models holding a slot: loaded, loading, or evicted and still finishing a request.</summary>
    public int ResidentModels => options.MaxLoadedModels - slots.CurrentCount;
    /// <summary>The most models that ever held a slot at once: never more than MaxLoadedModels.</summary>
    public int PeakResidentModels { get; private set; }

    /// <summary>Whether the version is loaded now (not loading, not evicted).</summary>
    public bool IsLoaded(string dataset, string version)
    {
        lock (gate) return models.TryGetValue((dataset, version), out var model) && model.IsCompletedSuccessfully;
    }

    public IReadOnlyList<LoadedModel> Loaded
    {
        get { lock (gate) return models.Values.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result).ToList(); }
    }
}
