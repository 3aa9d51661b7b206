using Azure;
using ImageGen.Core.Sampling;
using ImageGen.Pipeline.Storage;

namespace ImageGen.Pipeline.Serve;

/// <summary>A loaded generator and its batch queue; disposed once evicted and no request holds it.</summary>
public sealed class LoadedModel
{
    public required string Dataset { get; init; }
    public required string Version { get; init; }
    public required ImageSampler Sampler { get; init; }
    public required BatchQueue Queue { get; init; }
    public DateTimeOffset LoadedAt { get; init; } = DateTimeOffset.UtcNow;
    public DateTimeOffset LastUsed { get; internal set; } = DateTimeOffset.UtcNow;
    private int leases;
    private bool evicted;

    internal LoadedModel Acquire() { Interlocked.Increment(ref leases); LastUsed = DateTimeOffset.UtcNow; return this; }

    internal void Release()
    {
        if (Interlocked.Decrement(ref leases) == 0 && Volatile.Read(ref evicted)) _ = DisposeAsync();
    }

    internal void Evict()
    {
        Volatile.Write(ref evicted, true);
        if (Volatile.Read(ref leases) == 0) _ = DisposeAsync();
    }

    private int disposed;
    private async Task DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 1) return;
        await Queue.DisposeAsync();
        Sampler.Dispose();
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
/// requests that arrive meanwhile), and drops the least recently used beyond the limit.
/// </summary>
public sealed class GeneratorCache(ModelRegistry registry, ServeOptions options)
{
    private sealed record Pointer(string Version, ETag? ETag, DateTimeOffset CheckedAt);

    private readonly Dictionary<string, Pointer> pointers = [];
    private readonly Dictionary<(string, string), Task<LoadedModel>> models = [];
    private readonly Dictionary<string, Task<(ResolveStatus, string?)>> revalidations = [];
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

    public async Task<ModelLease> AcquireAsync(string dataset, string version, CancellationToken cancellationToken)
    {
        Task<LoadedModel> loading;
        lock (gate)
        {
            if (!models.TryGetValue((dataset, version), out loading!))
            {
                loading = LoadAsync(dataset, version);
                models[(dataset, version)] = loading;
            }
        }
        LoadedModel model;
        try { model = await loading.WaitAsync(cancellationToken); }
        catch when (loading.IsFaulted)
        {
            lock (gate) if (models.TryGetValue((dataset, version), out var current) && current == loading) models.Remove((dataset, version));
            throw;
        }
        var lease = new ModelLease(model.Acquire());
        EvictBeyondLimit();
        return lease;
    }

    private async Task<LoadedModel> LoadAsync(string dataset, string version)
    {
        var bytes = await registry.DownloadCheckpointAsync(dataset, version);
        var sampler = ImageSampler.Load(new MemoryStream(bytes, writable: false));
        return new LoadedModel { Dataset = dataset, Version = version, Sampler = sampler, Queue = new BatchQueue(sampler, options) };
    }

    private void EvictBeyondLimit()
    {
        List<LoadedModel> evicted = [];
        lock (gate)
        {
            var loaded = models.Where(kv => kv.Value.IsCompletedSuccessfully).Select(kv => kv.Value.Result).OrderBy(m => m.LastUsed).ToList();
            for (int i = 0; i < loaded.Count - options.MaxLoadedModels; i++)
            {
                models.Remove((loaded[i].Dataset, loaded[i].Version));
                evicted.Add(loaded[i]);
            }
        }
        foreach (var model in evicted) model.Evict();
    }

    public IReadOnlyList<LoadedModel> Loaded
    {
        get { lock (gate) return models.Values.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result).ToList(); }
    }
}
