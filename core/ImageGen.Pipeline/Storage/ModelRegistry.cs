using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ImageGen.Core.Models;

namespace ImageGen.Pipeline.Storage;

/// <summary>models/{dataset}/latest.json: which version is current.</summary>
public sealed record LatestPointer(string Version, DateTimeOffset PublishedAt);

/// <summary>models/{dataset}/{version}/model.json: what the version is and how it came about.</summary>
public sealed record ModelCard
{
    public required string Dataset { get; init; }
    public required string Version { get; init; }
    public required ModelSpec Spec { get; init; }
    public Core.Models.TrainOptions? Options { get; init; }
    public Dictionary<string, double> Metrics { get; init; } = [];
    public string? DatasetVersion { get; init; }
    public string? SourceRun { get; init; }
    public long Steps { get; init; }
    public DateTimeOffset PublishedAt { get; init; }
}

public enum LatestStatus { Found, NotModified, NoModel, UnknownDataset }

public readonly record struct LatestLookup(LatestStatus Status, LatestPointer? Pointer, ETag? ETag);

/// <summary>
/// Published generators in blob storage. Publishing writes the whole version first and only then swaps
/// latest.json with an ETag-conditional write, so a reader never sees a pointer to an incomplete version.
/// </summary>
public sealed class ModelRegistry(BlobServiceClient service)
{
    private readonly BlobContainerClient models = service.GetBlobContainerClient(StorageLayout.ModelsContainer);
    private readonly BlobContainerClient trainingImages = service.GetBlobContainerClient(StorageLayout.TrainingImagesContainer);

    /// <summary>Creates the four containers of the layout where missing.</summary>
    public async Task EnsureContainersAsync(CancellationToken cancellationToken = default)
    {
        foreach (var name in StorageLayout.Containers)
            await service.GetBlobContainerClient(name).CreateIfNotExistsAsync(cancellationToken: cancellationToken);
    }

    /// <summary>Uploads checkpoint, card and samples of a version, then points latest.json at it. Idempotent.</summary>
    public async Task PublishAsync(ModelCard card, Stream checkpoint, byte[]? samplesPng, CancellationToken cancellationToken = default)
    {
        string dataset = StorageLayout.ValidateName(card.Dataset, "dataset");
        string version = StorageLayout.ValidateName(card.Version, "version");
        await models.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        await models.GetBlobClient(StorageLayout.ModelCheckpoint(dataset, version)).UploadAsync(checkpoint, overwrite: true, cancellationToken);
        if (samplesPng is not null)
            await models.GetBlobClient(StorageLayout.ModelSamples(dataset, version)).UploadAsync(BinaryData.FromBytes(samplesPng), overwrite: true, cancellationToken);
        await models.GetBlobClient(StorageLayout.ModelCard(dataset, version))
            .UploadAsync(BinaryData.FromObjectAsJson(card, Core.Models.Json.Options), overwrite: true, cancellationToken);
        await SwapLatestAsync(dataset, new LatestPointer(version, card.PublishedAt), cancellationToken);
    }

    private async Task SwapLatestAsync(string dataset, LatestPointer pointer, CancellationToken cancellationToken)
    {
        var blob = models.GetBlobClient(StorageLayout.LatestPointer(dataset));
        var content = BinaryData.FromObjectAsJson(pointer, Core.Models.Json.Options);
        for (int attempt = 0; ; attempt++)
        {
            BlobRequestConditions conditions;
            try
            {
                var properties = await blob.GetPropertiesAsync(cancellationToken: cancellationToken);
                conditions = new BlobRequestConditions { IfMatch = properties.Value.ETag };
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                conditions = new BlobRequestConditions { IfNoneMatch = ETag.All };
            }
            try
            {
                await blob.UploadAsync(content, new BlobUploadOptions { Conditions = conditions }, cancellationToken);
                return;
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412 && attempt < 5)
            {
                // Another publisher swapped the pointer between our read and write: read again and retry.
            }
        }
    }

    /// <summary>Reads latest.json, or answers NotModified when knownETag is still current (one cheap conditional request).</summary>
    public async Task<LatestLookup> GetLatestAsync(string dataset, ETag? knownETag, CancellationToken cancellationToken = default)
    {
        var blob = models.GetBlobClient(StorageLayout.LatestPointer(dataset));
        try
        {
            var options = new BlobDownloadOptions { Conditions = knownETag is { } e ? new BlobRequestConditions { IfNoneMatch = e } : null };
            var response = await blob.DownloadContentAsync(options, cancellationToken);
            if (response.GetRawResponse().Status == 304) return new LatestLookup(LatestStatus.NotModified, null, knownETag);
            var pointer = response.Value.Content.ToObjectFromJson<LatestPointer>(Core.Models.Json.Options)
                ?? throw new InvalidDataException($"models/{StorageLayout.LatestPointer(dataset)} is empty");
            return new LatestLookup(LatestStatus.Found, pointer, response.Value.Details.ETag);
        }
        catch (RequestFailedException e) when (e.Status == 304)
        {
            return new LatestLookup(LatestStatus.NotModified, null, knownETag);
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            return new LatestLookup(await HasTrainingImagesAsync(dataset, cancellationToken) ? LatestStatus.NoModel : LatestStatus.UnknownDataset, null, null);
        }
    }

    /// <summary>A dataset exists once images were dropped for it, even before its first model is published.</summary>
    public async Task<bool> HasTrainingImagesAsync(string dataset, CancellationToken cancellationToken = default)
    {
        try
        {
            await foreach (var _ in trainingImages.GetBlobsAsync(BlobTraits.None, BlobStates.None, StorageLayout.TrainingImagesPrefix(dataset), cancellationToken))
                return true;
        }
        catch (RequestFailedException e) when (e.Status == 404) { }
        return false;
    }

    public async Task<bool> VersionExistsAsync(string dataset, string version, CancellationToken cancellationToken = default) =>
        await models.GetBlobClient(StorageLayout.ModelCheckpoint(dataset, version)).ExistsAsync(cancellationToken);

    /// <summary>The versions published for a dataset (v0001, v0002, ...), in order.</summary>
    public async Task<List<string>> ListVersionsAsync(string dataset, CancellationToken cancellationToken = default)
    {
        var versions = new List<string>();
        try
        {
            await foreach (var item in models.GetBlobsByHierarchyAsync(BlobTraits.None, BlobStates.None, "/", $"{dataset}/", cancellationToken))
                if (item.IsPrefix && item.Prefix.TrimEnd('/').Split('/')[^1] is var name && StorageLayout.VersionNumber(name) is not null)
                    versions.Add(name);
        }
        catch (RequestFailedException e) when (e.Status == 404) { }
        return [.. versions.OrderBy(v => StorageLayout.VersionNumber(v))];
    }

    /// <summary>The model cards of a dataset's versions, oldest first; versions still being written are skipped.</summary>
    public async Task<List<ModelCard>> ListModelsAsync(string dataset, CancellationToken cancellationToken = default)
    {
        var cards = new List<ModelCard>();
        foreach (var version in await ListVersionsAsync(dataset, cancellationToken))
            if (await models.GetBlobClient(StorageLayout.ModelCard(dataset, version)).TryReadJsonAsync<ModelCard>(cancellationToken) is { } card)
                cards.Add(card);
        return cards;
    }

    /// <summary>Every dataset with dropped images or published models.</summary>
    public async Task<List<string>> ListDatasetsAsync(CancellationToken cancellationToken = default)
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var container in new[] { trainingImages, models })
        {
            try
            {
                await foreach (var item in container.GetBlobsByHierarchyAsync(BlobTraits.None, BlobStates.None, "/", null, cancellationToken))
                    if (item.IsPrefix && item.Prefix.TrimEnd('/') is var name && StorageLayout.IsSafeName(name)) names.Add(name);
            }
            catch (RequestFailedException e) when (e.Status == 404) { }
        }
        return [.. names];
    }

    public async Task<byte[]> DownloadCheckpointAsync(string dataset, string version, CancellationToken cancellationToken = default)
    {
        var response = await models.GetBlobClient(StorageLayout.ModelCheckpoint(dataset, version)).DownloadContentAsync(cancellationToken);
        return response.Value.Content.ToArray();
    }
}
