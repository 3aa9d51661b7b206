using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ImageGen.Core.Data;
using ImageGen.Core.Models;
using ImageGen.Core.Training;
using ImageGen.Pipeline.Http;
using ImageGen.Pipeline.Ingest;
using ImageGen.Pipeline.Storage;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;

namespace ImageGen.Pipeline.Orchestration;

/// <summary>
/// Everything behind the blob trigger and the training endpoints, over any DurableTaskClient (the Functions
/// host's, the local host's, the test host's): signal a dataset's singleton orchestration, report its status,
/// cancel its run, list datasets and models, promote a version or roll latest back.
/// </summary>
public sealed class TrainingControl(DurableTaskClient client, PipelineEnvironment pipeline)
{
    private readonly PipelineSettings settings = pipeline.Settings;
    private readonly TimeProvider clock = pipeline.Clock;
    private readonly ModelRegistry registry = new(pipeline.Storage);
    private readonly DatasetIngestor ingestor = new(pipeline.Storage);
    private readonly BlobContainerClient runs = pipeline.Storage.GetBlobContainerClient(StorageLayout.CheckpointsContainer);

    public static string InstanceId(string dataset) => $"dataset-{dataset}";

    /// <summary>
    /// Starts the dataset's orchestration if none is running, else raises an event to it. Returns true when it
    /// started one. Two callers racing to start both end up signalling the one instance.
    /// </summary>
    public async Task<bool> SignalAsync(string dataset, RunSignal signal, bool waitForQuiet, CancellationToken cancellationToken = default)
    {
        string id = InstanceId(StorageLayout.ValidateName(dataset, "dataset"));
        var instance = await client.GetInstanceAsync(id, getInputsAndOutputs: false, cancellationToken);
        if (instance is null || instance.IsCompleted)
        {
            try
            {
                var input = new PipelineInput { Dataset = dataset, Settings = settings, WaitForQuiet = waitForQuiet, OptionsJson = signal.OptionsJson };
                await client.ScheduleNewOrchestrationInstanceAsync(DatasetPipeline.Name, input, new StartOrchestrationOptions(id), cancellationToken);
                return true;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Most likely started by someone else just now: signal it instead. If there is still none, the start
                // itself failed, and an event raised to no instance would be lost without a word: let the caller retry.
                if (await client.GetInstanceAsync(id, getInputsAndOutputs: false, cancellationToken) is null) throw;
            }
        }
        await client.RaiseEventAsync(id, DatasetPipeline.RunRequested, signal, cancellationToken);
        // An event that lands after the finishing run's last wait for signals reaches a completed instance, which drops it.
        // A run that consumes an asked-for signal always trains again (it continues as new), so an instance that completes
        // instead never saw it: then this start begins a run of its own.
        if (signal.Asked && await CompletedWithoutAsync(dataset, cancellationToken))
            return await SignalAsync(dataset, signal, waitForQuiet, cancellationToken);
        return false;
    }

    /// <summary>
    /// Whether the instance, finishing its run when the signal was raised (its status already final), completed rather
    /// than continued as new. It does one or the other within the orchestration's last wait (PipelineSettings.FollowUpWait), so it is
    /// watched until it has; the cap only bounds a stalled task hub. A run not yet finished (ingesting, training, or a
    /// new run waiting) keeps the signal buffered, so nothing is watched then.
    /// </summary>
    private async Task<bool> CompletedWithoutAsync(string dataset, CancellationToken cancellationToken)
    {
        var stalledAfter = DateTimeOffset.UtcNow + 30 * settings.FollowUpWait;
        while (true)
        {
            var (instance, status) = await ReadStatusAsync(dataset, cancellationToken);
            if (instance is null || instance.IsCompleted) return true;
            if (status?.State is not ("published" or "failed" or "cancelled" or "diverged")) return false; // buffered, or consumed
            if (DateTimeOffset.UtcNow > stalledAfter) return false;
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }
    }

    /// <summary>
    /// A blob landed in training-images. Signals its dataset, at most once per throttle window per process
    /// (the window is shorter than the quiet period, so no upload can slip past a run unseen).
    /// </summary>
    public async Task<string> OnImageDroppedAsync(string blobName, CancellationToken cancellationToken = default)
    {
        if (StorageLayout.DatasetOfDrop(blobName) is not { } dataset)
            return $"ignored '{blobName}': blobs must sit under training-images/{{dataset}}/ with a dataset name of lower-case letters, digits, '-' or '_'";
        var now = clock.GetUtcNow();
        var window = TimeSpan.FromTicks(Math.Min(settings.QuietPeriod.Ticks / 3, TimeSpan.FromSeconds(5).Ticks));
        if (pipeline.LastSignal.TryGetValue(dataset, out var last) && now - last < window) return $"'{blobName}': {dataset} was signalled {(now - last).TotalSeconds:0.0}s ago";
        pipeline.LastSignal[dataset] = now;
        bool started;
        try { started = await SignalAsync(dataset, new RunSignal($"dropped {blobName}"), waitForQuiet: true, cancellationToken); }
        catch
        {
            // Not signalled: the trigger's retry (or the next drop) must not be taken for a repeat of this one.
            pipeline.LastSignal.TryRemove(new KeyValuePair<string, DateTimeOffset>(dataset, now));
            throw;
        }
        return $"'{blobName}': {(started ? "started" : "signalled")} the pipeline of {dataset}";
    }

    public async Task<ApiResult> StartTrainingAsync(string dataset, string? optionsJson, string baseUrl, CancellationToken cancellationToken = default)
    {
        if (!StorageLayout.IsSafeName(dataset)) return NotFound(dataset);
        if (string.IsNullOrWhiteSpace(optionsJson)) optionsJson = null;
        else
        {
            try { TrainSettings.FromValues(TrainSettings.ParseJsonObject(optionsJson, "request body"), "request body", settings.Limits); }
            catch (OptionException e) { return ApiResult.Error(new ApiError(400, e.Message, "body", string.Join(", ", TrainSettings.JsonKeys))); }
        }
        if (!await registry.HasTrainingImagesAsync(dataset, cancellationToken))
            return ApiResult.Error(new ApiError(404, $"dataset '{dataset}' has no images; drop some under {StorageLayout.TrainingImagesContainer}/{dataset}/ first", "dataset", null));
        // Then as the run will read them: the dataset's imagegen.json with these options laid over it, so a pair that is
        // valid apart and not together (ema in the file, model vae asked for) is refused here, not when the run ingests;
        // so is a stored file that no request could make valid (named as the parameter at fault).
        try { await ingestor.ReadSettingsAsync(dataset, optionsJson, settings.Limits, cancellationToken); }
        catch (OptionException e)
        {
            return ApiResult.Error(new ApiError(400, e.Message, optionsJson is null ? StorageLayout.OptionsFile : "body", string.Join(", ", TrainSettings.JsonKeys)));
        }
        bool started = await SignalAsync(dataset, new RunSignal(RunSignal.HttpReason, optionsJson), waitForQuiet: false, cancellationToken);
        string statusUri = $"{baseUrl}/api/datasets/{dataset}/training";
        var body = new
        {
            dataset, instanceId = InstanceId(dataset), accepted = started ? "started" : "queued after the current run",
            statusQueryGetUri = statusUri, cancelPostUri = statusUri + "/cancel",
        };
        var result = ApiResult.JsonBody(body, 202);
        return result with { Headers = new Dictionary<string, string> { ["Location"] = statusUri, ["Retry-After"] = "5" } };
    }

    /// <summary>
    /// Files sent to the upload endpoint: each is checked as ingest would check it (DropFiles) and stored under
    /// training-images/{dataset}/ unless a file of that name is there already (nothing accepted is overwritten).
    /// The blob trigger then starts a run, as for any drop. A new dataset name makes a new dataset.
    /// </summary>
    public async Task<ApiResult> UploadAsync(string dataset, UploadBody body, string baseUrl, CancellationToken cancellationToken = default)
    {
        try { StorageLayout.ValidateName(dataset, "dataset"); }
        catch (ArgumentException e) { return ApiResult.Error(new ApiError(400, e.Message, "dataset", null)); }
        if (body.Files is not { Count: > 0 } files)
            return ApiResult.Error(new ApiError(400, "the upload names no files", "files", UploadBody.Shape));
        if (files.Count > UploadBody.MaxFiles)
            return ApiResult.Error(new ApiError(413, $"the upload holds {files.Count} files; send at most {UploadBody.MaxFiles} per request", "files", null));
        // Checked before anything is stored, so a refused request stores nothing.
        if (files.IndexOf(null!) is var missing and >= 0)
            return ApiResult.Error(new ApiError(400, $"files[{missing}] is null; each entry is an object", "files", UploadBody.Shape));
        var container = pipeline.Storage.GetBlobContainerClient(StorageLayout.TrainingImagesContainer); // made by the Bicep, or the local host at start
        var accepted = new List<string>();
        var rejected = new List<object>();
        foreach (var file in files)
        {
            string name = file.Name ?? "";
            byte[] data;
            try { data = Convert.FromBase64String(file.Data ?? ""); }
            catch (FormatException) { rejected.Add(new { name, reason = "its data is not base64" }); continue; }
            if (DropFiles.Rejection(name, data, settings.Limits) is { } reason) { rejected.Add(new { name, reason }); continue; }
            try
            {
                await container.GetBlobClient(StorageLayout.TrainingImagesPrefix(dataset) + name).UploadAsync(BinaryData.FromBytes(data),
                    new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, cancellationToken);
                accepted.Add(name);
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412)
            {
                // Renaming would make an options or labels file something else: those are replaced where overwriting is asked for.
                rejected.Add(new { name, reason = name == StorageLayout.OptionsFile || DatasetClasses.IsLabelsFile(name)
                    ? $"the dataset holds its {name} already, and uploads never overwrite; replace it with imagegen drop --overwrite or in storage"
                    : $"the dataset holds a file named '{name}' already; rename the new one" });
            }
        }
        return ApiResult.JsonBody(new
        {
            dataset, accepted, rejected,
            note = accepted.Count > 0 ? "a run starts once uploads have been quiet for a while" : "nothing was stored",
            statusQueryGetUri = $"{baseUrl}/api/datasets/{dataset}/training",
        });
    }

    public async Task<ApiResult> StatusAsync(string dataset, string baseUrl, CancellationToken cancellationToken = default)
    {
        if (!StorageLayout.IsSafeName(dataset)) return NotFound(dataset);
        var (instance, status) = await ReadStatusAsync(dataset, cancellationToken);
        var latest = await registry.GetLatestAsync(dataset, null, cancellationToken);
        if (instance is null && latest.Status == LatestStatus.UnknownDataset) return NotFound(dataset);
        JsonElement? live = null;
        if (status is { State: "ingesting" or "training", RunId: { } runId }
            && await runs.GetBlobClient(StorageLayout.RunProgress(dataset, runId)).TryReadTextAsync(cancellationToken) is { } progress)
            live = JsonDocument.Parse(progress).RootElement.Clone();
        return ApiResult.JsonBody(new
        {
            dataset,
            instanceId = InstanceId(dataset),
            runtimeStatus = instance?.RuntimeStatus.ToString(),
            running = instance is { IsRunning: true } || instance?.RuntimeStatus == OrchestrationRuntimeStatus.Pending,
            status,
            live,
            sampleGridUri = status?.SampleGrid is null ? null : $"{baseUrl}/api/datasets/{dataset}/training/samples.png",
            latestVersion = latest.Pointer?.Version,
        });
    }

    /// <summary>The newest fixed-noise grid of the dataset's current (or last) run, as training writes it.</summary>
    public async Task<ApiResult> SampleGridAsync(string dataset, CancellationToken cancellationToken = default)
    {
        if (!StorageLayout.IsSafeName(dataset)) return NotFound(dataset);
        var (_, status) = await ReadStatusAsync(dataset, cancellationToken);
        if (status is not { RunId: { } runId, SampleGrid: not null })
            return ApiResult.Error(new ApiError(404, $"dataset '{dataset}' has no training sample grid yet; one is written after each training chunk", "dataset", null));
        var grid = await runs.GetBlobClient(StorageLayout.RunSamples(dataset, runId)).DownloadContentAsync(cancellationToken);
        return new ApiResult(200, "image/png", grid.Value.Content.ToArray(),
            new Dictionary<string, string> { ["Cache-Control"] = "no-store", ["X-Run-Id"] = runId, ["X-Step"] = status.Step?.ToString() ?? "" });
    }

    public async Task<ApiResult> CancelAsync(string dataset, CancellationToken cancellationToken = default)
    {
        if (!StorageLayout.IsSafeName(dataset)) return NotFound(dataset);
        var (instance, status) = await ReadStatusAsync(dataset, cancellationToken);
        if (instance is not { IsRunning: true } || status is not { State: "ingesting" or "training", RunId: { } runId })
            return ApiResult.Error(new ApiError(409, $"dataset '{dataset}' has no run ingesting or training to cancel (state: {status?.State ?? "none"})", "dataset", null));
        await runs.EnsureExistsAsync(cancellationToken);
        await runs.GetBlobClient(StorageLayout.RunCancel(dataset, runId)).UploadAsync(BinaryData.FromString(clock.GetUtcNow().ToString("O")), overwrite: true, cancellationToken);
        return ApiResult.JsonBody(new { dataset, runId, cancelling = true, note = "training stops within seconds; the last checkpoint is kept and nothing is published" }, 202);
    }

    public async Task<ApiResult> ListDatasetsAsync(CancellationToken cancellationToken = default)
    {
        var datasets = new List<object>();
        foreach (var name in await registry.ListDatasetsAsync(cancellationToken))
        {
            var latest = await registry.GetLatestAsync(name, null, cancellationToken);
            datasets.Add(new { name, latestVersion = latest.Pointer?.Version, publishedAt = latest.Pointer?.PublishedAt });
        }
        return ApiResult.JsonBody(new { datasets });
    }

    /// <summary>The dataset's versions with their cards (scores and gate decisions), each marked latest or not.</summary>
    public async Task<ApiResult> ListModelsAsync(string dataset, CancellationToken cancellationToken = default)
    {
        if (!StorageLayout.IsSafeName(dataset)) return NotFound(dataset);
        var cards = await registry.ListModelsAsync(dataset, cancellationToken);
        var latest = await registry.GetLatestAsync(dataset, null, cancellationToken);
        if (cards.Count == 0 && latest.Status == LatestStatus.UnknownDataset) return NotFound(dataset);
        var models = cards.Select(card =>
        {
            var node = JsonSerializer.SerializeToNode(card, Json.Options)!.AsObject();
            node["latest"] = card.Version == latest.Pointer?.Version;
            return node;
        }).ToList();
        return ApiResult.JsonBody(new { dataset, latestVersion = latest.Pointer?.Version, previousVersions = latest.Pointer?.Previous, models });
    }

    /// <summary>Makes an existing version (a candidate or an older one) latest; serving follows within its revalidation interval.</summary>
    public async Task<ApiResult> PromoteAsync(string dataset, string version, CancellationToken cancellationToken = default)
    {
        if (!StorageLayout.IsSafeName(dataset)) return NotFound(dataset);
        if (!StorageLayout.IsSafeName(version) || await registry.ReadCardAsync(dataset, version, cancellationToken) is null)
        {
            var versions = await registry.ListVersionsAsync(dataset, cancellationToken);
            return ApiResult.Error(new ApiError(404, $"dataset '{dataset}' has no published version '{version}'", "version",
                versions.Count == 0 ? "none published yet" : string.Join(", ", versions)));
        }
        var pointer = await registry.PromoteAsync(dataset, version, clock.GetUtcNow(), cancellationToken);
        return ApiResult.JsonBody(new { dataset, latestVersion = pointer.Version, previousVersions = pointer.Previous, reason = pointer.Reason });
    }

    /// <summary>Points latest back at the version that was latest before the last publish, promotion or rollback.</summary>
    public async Task<ApiResult> RollbackAsync(string dataset, CancellationToken cancellationToken = default)
    {
        if (!StorageLayout.IsSafeName(dataset)) return NotFound(dataset);
        if (await registry.RollbackAsync(dataset, clock.GetUtcNow(), cancellationToken) is not { } pointer)
        {
            var latest = await registry.GetLatestAsync(dataset, null, cancellationToken);
            if (latest.Status == LatestStatus.UnknownDataset) return NotFound(dataset);
            return ApiResult.Error(new ApiError(409, $"dataset '{dataset}' has no earlier latest version to roll back to (latest: {latest.Pointer?.Version ?? "none"})",
                "dataset", null));
        }
        return ApiResult.JsonBody(new { dataset, latestVersion = pointer.Version, previousVersions = pointer.Previous, reason = pointer.Reason });
    }

    /// <summary>The dataset's orchestration and its custom status (which the client returns only with inputs and outputs).</summary>
    private async Task<(OrchestrationMetadata? Instance, TrainingStatus? Status)> ReadStatusAsync(string dataset, CancellationToken cancellationToken)
    {
        var instance = await client.GetInstanceAsync(InstanceId(dataset), getInputsAndOutputs: true, cancellationToken);
        return (instance, instance?.SerializedCustomStatus is { Length: > 0 } ? instance.ReadCustomStatusAs<TrainingStatus>() : null);
    }

    private static ApiResult NotFound(string dataset) =>
        ApiResult.Error(new ApiError(404, $"unknown dataset '{dataset}'", "dataset", $"1-{StorageLayout.MaxNameLength} lower-case letters, digits, '-' or '_'"));
}
