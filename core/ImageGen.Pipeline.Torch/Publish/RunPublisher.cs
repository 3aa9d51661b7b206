using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ImageGen.Core.Checkpoints;
using ImageGen.Core.Training;
using ImageGen.Pipeline.Storage;

namespace ImageGen.Pipeline.Publish;

/// <summary>
/// The publish step: the run's final checkpoint, its evaluation grid and a model card become the next version
/// under models/{dataset}/; then, if the run passed the publish gate (PublishGate), latest.json is swapped to it
/// (ModelRegistry), under ifBetter only while latest is still the version the gate compared against. Otherwise the
/// version stays a candidate. The version number is reserved in the run folder before anything is uploaded, so a
/// redelivered publish reuses it instead of making two.
/// </summary>
public sealed class RunPublisher(BlobServiceClient service, ModelRegistry registry)
{
    private readonly BlobContainerClient runs = service.GetBlobContainerClient(StorageLayout.CheckpointsContainer);

    private sealed record Reservation(string Version);

    public async Task<PublishResult> PublishAsync(PublishRequest request, CancellationToken cancellationToken = default)
    {
        string dataset = StorageLayout.ValidateName(request.Dataset, "dataset");
        string runId = StorageLayout.ValidateName(request.RunId, "run id");
        var marker = runs.GetBlobClient(StorageLayout.RunPublished(dataset, runId));
        string version = (await marker.TryReadJsonAsync<Reservation>(cancellationToken))?.Version ?? await ReserveAsync(dataset, marker, cancellationToken);

        var checkpoint = await runs.GetBlobClient(StorageLayout.RunCheckpoint(dataset, runId)).DownloadContentAsync(cancellationToken);
        var header = Checkpoint.Read(checkpoint.Value.Content.ToStream(), new HashSet<string>()).header;
        byte[]? samples = null;
        try { samples = (await runs.GetBlobClient(StorageLayout.RunEvaluationSamples(dataset, runId)).DownloadContentAsync(cancellationToken)).Value.Content.ToArray(); }
        catch (RequestFailedException e) when (e.Status == 404) { }
        // A redelivery finds the version's card already written: its decision stands (versions never change).
        var card = await registry.ReadCardAsync(dataset, version, cancellationToken) ?? new ModelCard
        {
            Dataset = dataset, Version = version, Spec = header.Spec, Options = header.Options, Metrics = request.Metrics, Quality = request.Quality,
            Publish = PublishGate.Decide(request.Policy, request.Quality, request.Baseline, request.BaselineNote, version, dataset),
            DatasetVersion = request.DatasetVersion, SourceRun = runId, Steps = header.Step, PublishedAt = DateTimeOffset.UtcNow,
            Classes = header.Classes, ClassSizes = header.ClassSizes, Parent = header.WarmStartedFrom, ClustersFrom = header.ClustersFrom,
        };
        var decision = card.Publish ?? PublishGate.Decide(new PublishPolicy { Mode = PublishMode.Always }, null, null, null, version, dataset);
        // ifBetter compared against the latest of evaluation time (or against none): latest moves only if that still holds.
        bool compared = decision.Policy == PublishMode.IfBetter && request.BaselineNote is null;
        var latest = await registry.PublishRunAsync(card, checkpoint.Value.Content.ToStream(), samples,
            compared ? current => current?.Version == decision.BaselineVersion : _ => true, cancellationToken);
        if (!decision.Passed) return new PublishResult(version, Latest: false, decision.Reason);
        if (latest?.Version == version) return new PublishResult(version, Latest: true, decision.Reason);
        return new PublishResult(version, Latest: false,
            $"{decision.Reason}; but latest moved to {latest?.Version ?? "another version"} while this run was evaluated, so it is kept as a candidate");
    }

    /// <summary>Claims the next free version number with a create-only write of the run's marker.</summary>
    private async Task<string> ReserveAsync(string dataset, BlobClient marker, CancellationToken cancellationToken)
    {
        int next = (await registry.ListVersionsAsync(dataset, cancellationToken)).Select(v => StorageLayout.VersionNumber(v) ?? 0).DefaultIfEmpty(0).Max() + 1;
        string version = StorageLayout.VersionName(next);
        try
        {
            await marker.UploadAsync(BinaryData.FromObjectAsJson(new Reservation(version), Core.Models.Json.Options),
                new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, cancellationToken);
            return version;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            return (await marker.TryReadJsonAsync<Reservation>(cancellationToken))!.Version; // a concurrent delivery reserved first
        }
    }
}
