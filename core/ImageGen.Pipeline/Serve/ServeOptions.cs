namespace ImageGen.Pipeline.Serve;

/// <summary>Serving knobs; app settings of the same names (Serve__...) override them.</summary>
public sealed record ServeOptions
{
    /// <summary>How often latest.json is revalidated (one conditional request) per dataset.</summary>
    public TimeSpan LatestCheckInterval { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Loaded (dataset, version) generators kept warm; the least recently used goes first.</summary>
    public int MaxLoadedModels { get; init; } = 4;
    /// <summary>
    /// Run queued requests as one forward pass and split the outputs (as TorchServe does). Requests that queue up
    /// while a pass runs form the next batch, so a lone request never waits; BatchWindow adds a wait for company.
    /// </summary>
    public bool Batching { get; init; } = true;
    public TimeSpan BatchWindow { get; init; } = TimeSpan.Zero;
    public int MaxBatchImages { get; init; } = 256;
    /// <summary>Requests waiting per model; past it the answer is 429 with Retry-After.</summary>
    public int MaxQueuedRequests { get; init; } = 64;
    public int MaxReconstructBytes { get; init; } = 8 * 1024 * 1024;
}
