namespace ImageGen.Pipeline.Serve;

/// <summary>Which engine runs the generators: ONNX Runtime where a version has model.onnx (Auto), or one forced.</summary>
public enum ServeBackend { Auto, Onnx, Libtorch }

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
    /// <summary>
    /// Output pixels one request may ask for: count x (image size x scale)^2. 256 images of 64x64 at scale 4 fit; at
    /// scale 8 (268 MB of RGBA before encoding) they do not, and the answer is 400 naming the limit.
    /// </summary>
    public long MaxRequestPixels { get; init; } = 16_777_216;
    /// <summary>Output pixels one batched forward pass turns out: requests past it wait for the next pass.</summary>
    public long MaxBatchPixels { get; init; } = 16_777_216;
    /// <summary>
    /// Output pixels held by all requests at once, from queueing until their answer is written (4 bytes each as RGBA,
    /// plus what encoding makes): the bound on what a burst of large requests costs. Requests past it wait their turn.
    /// </summary>
    public long MaxPixelsInFlight { get; init; } = 50_331_648;
    /// <summary>PNG, zip and JSON encodes running at once (each is CPU work on a request thread).</summary>
    public int MaxConcurrentEncodes { get; init; } = Math.Max(1, Environment.ProcessorCount);
    /// <summary>How long a failed model load is answered from memory before it is downloaded again.</summary>
    public TimeSpan FailedLoadRetryAfter { get; init; } = TimeSpan.FromSeconds(10);
    /// <summary>
    /// Datasets (comma-separated) whose latest model is loaded and warmed at start and again after each publish;
    /// /api/health/ready answers 503 until they are (ModelWarmer). Empty: ready as soon as the app runs.
    /// </summary>
    public string WarmDatasets { get; init; } = "";
    public IReadOnlyList<string> DatasetsToWarm() =>
        WarmDatasets.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct(StringComparer.Ordinal).ToList();
    /// <summary>
    /// Auto: ONNX Runtime for versions published with model.onnx, libtorch for older ones. Onnx: ONNX Runtime only (a
    /// version without model.onnx answers 500 saying so). Libtorch: the checkpoint's network always.
    /// </summary>
    public ServeBackend Backend { get; init; } = ServeBackend.Auto;
    /// <summary>ONNX Runtime's threads per forward pass; 0: one per core.</summary>
    public int OnnxThreads { get; init; }
    /// <summary>How long a load waits for a model slot (MaxLoadedModels) before the answer is 503.</summary>
    public TimeSpan ModelSlotWait { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Refuses settings that would fail every request later (a queue of 0, no encode slots, a pixel budget of 0) or
    /// keep readiness at 503 for ever (a warm dataset that no dataset can be named), naming the app setting and its range.
    /// </summary>
    public void Validate()
    {
        static void Check(bool ok, string setting, object value, string range)
        {
            if (!ok) throw new ArgumentException($"Serve__{setting} is {value}; it must be {range}");
        }
        Check(LatestCheckInterval >= TimeSpan.Zero && LatestCheckInterval <= TimeSpan.FromDays(1), nameof(LatestCheckInterval), LatestCheckInterval, "within 0..1 day");
        Check(MaxLoadedModels is >= 1 and <= 1024, nameof(MaxLoadedModels), MaxLoadedModels, "in 1..1024");
        Check(BatchWindow >= TimeSpan.Zero && BatchWindow <= TimeSpan.FromSeconds(10), nameof(BatchWindow), BatchWindow, "within 0..10 s");
        Check(MaxBatchImages is >= 1 and <= 65_536, nameof(MaxBatchImages), MaxBatchImages, "in 1..65536");
        Check(MaxQueuedRequests is >= 1 and <= 1_000_000, nameof(MaxQueuedRequests), MaxQueuedRequests, "in 1..1000000");
        Check(MaxReconstructBytes >= 1, nameof(MaxReconstructBytes), MaxReconstructBytes, "at least 1");
        Check(MaxRequestPixels >= 1, nameof(MaxRequestPixels), MaxRequestPixels, "at least 1");
        Check(MaxBatchPixels >= 1, nameof(MaxBatchPixels), MaxBatchPixels, "at least 1");
        Check(MaxPixelsInFlight >= 1, nameof(MaxPixelsInFlight), MaxPixelsInFlight, "at least 1");
        Check(MaxConcurrentEncodes is >= 1 and <= 1024, nameof(MaxConcurrentEncodes), MaxConcurrentEncodes, "in 1..1024");
        Check(FailedLoadRetryAfter >= TimeSpan.Zero, nameof(FailedLoadRetryAfter), FailedLoadRetryAfter, "0 or more");
        Check(OnnxThreads is >= 0 and <= 1024, nameof(OnnxThreads), OnnxThreads, "in 0..1024 (0: one per core)");
        Check(ModelSlotWait >= TimeSpan.Zero, nameof(ModelSlotWait), ModelSlotWait, "0 or more");
        // More warm datasets than loaded models would evict one another for ever, and readiness never hold.
        Check(DatasetsToWarm().Count <= MaxLoadedModels, nameof(WarmDatasets), $"'{WarmDatasets}'",
            $"at most Serve__MaxLoadedModels ({MaxLoadedModels}) datasets, each kept loaded");
        foreach (string dataset in DatasetsToWarm())
            Check(Storage.StorageLayout.IsSafeName(dataset), nameof(WarmDatasets), $"'{WarmDatasets}'",
                $"a comma-separated list of dataset names (lower-case letters, digits, - and _), and '{dataset}' is not one");
    }
}
