using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ImageGen.Core.Metrics;
using ImageGen.Core.Models;
using ImageGen.Core.Training;

namespace ImageGen.Pipeline.Storage;

/// <summary>
/// models/{dataset}/latest.json: which version is current, and the versions that were current before it (newest
/// first), which rollback returns to.
/// </summary>
public sealed record LatestPointer(string Version, DateTimeOffset PublishedAt)
{
    public const int HistoryLength = 20;
    public List<string> Previous { get; init; } = [];
    /// <summary>How latest came to point here: published, promoted, rolled back.</summary>
    public string? Reason { get; init; }
    /// <summary>The Reason of a pointer that a publish moved (the gate's doing, not a person's).</summary>
    public const string Published = "published";

    /// <summary>The pointer after moving to version, with this one's version pushed onto the history.</summary>
    public LatestPointer MoveTo(string version, DateTimeOffset at, string reason) =>
        new(version, at) { Previous = [Version, .. Previous.Where(v => v != version && v != Version).Take(HistoryLength - 1)], Reason = reason };
}

/// <summary>What the publish gate decided for a version, kept in its card (which never changes after publishing).</summary>
public sealed record PublishDecision
{
    public required PublishMode Policy { get; init; }
    /// <summary>Whether the version passed the gate and so was to become latest; false makes it a candidate.</summary>
    public required bool Passed { get; init; }
    public required string Reason { get; init; }
    public string? BaselineVersion { get; init; }
    public double? BaselineFd { get; init; }
    /// <summary>
    /// For a run compared with latest: its FD over latest's, times how far latest already stood above the best of its
    /// line (at least 1). ifBetter passes a run only while this is within 1 + tolerance, so runs each a little worse
    /// than the last cannot walk latest down the tolerance again and again. Null where nothing was compared.
    /// </summary>
    public double? FdAboveBest { get; init; }
}

/// <summary>models/{dataset}/{version}/model.json: what the version is and how it came about.</summary>
public sealed record ModelCard
{
    public required string Dataset { get; init; }
    public required string Version { get; init; }
    public required ModelSpec Spec { get; init; }
    public Core.Models.TrainOptions? Options { get; init; }
    public Dictionary<string, double> Metrics { get; init; } = [];
    /// <summary>Feature-space scores (FD, KID, precision/recall, memorization) with the extractor's id and the sample count.</summary>
    public QualityScores? Quality { get; init; }
    public PublishDecision? Publish { get; init; }
    public string? DatasetVersion { get; init; }
    public string? SourceRun { get; init; }
    public long Steps { get; init; }
    public DateTimeOffset PublishedAt { get; init; }
    /// <summary>The class names a class-conditional model takes (samples' class=NAME); empty for an unconditional one.</summary>
    public IReadOnlyList<string> Classes { get; init; } = [];
    /// <summary>The training images of each class, by index, in the proportions samples without a class draw them; empty where not recorded.</summary>
    public IReadOnlyList<int> ClassSizes { get; init; } = [];
    /// <summary>
    /// For a model trained on clusters, the dataset version whose images and extractor define them (this version's own,
    /// or one a warm start carried them from); null for classes of the data's own, and on cards written before it was recorded.
    /// </summary>
    public string? ClustersFrom { get; init; }
    /// <summary>The version this one was warm-started from (dataset/v0001), null for a fresh start.</summary>
    public string? Parent { get; init; }
}

/// <summary>
/// A version's files: the checkpoint (read once, from its current position), its generator as ONNX, a VAE's encoder as
/// ONNX (null for other families), and the sample grid if any.
/// </summary>
public sealed record ModelFiles(Stream Checkpoint, byte[] Onnx, byte[]? EncoderOnnx, byte[]? SamplesPng);

public enum LatestStatus { Found, NotModified, NoModel, UnknownDataset }

public readonly record struct LatestLookup(LatestStatus Status, LatestPointer? Pointer, ETag? ETag);

/// <summary>A publish named a version that is already in storage: versions are written once and never overwritten (HTTP's 409).</summary>
public sealed class VersionExistsException(string dataset, string version, string message) : InvalidOperationException(message)
{
    public string Dataset { get; } = dataset;
    public string Version { get; } = version;
}

/// <summary>
/// Published generators in blob storage. Publishing writes the whole version first, each blob create-only, and only
/// then swaps latest.json with an ETag-conditional write, so a reader never sees a pointer to an incomplete version
/// and a version, once written, never changes.
/// </summary>
public sealed class ModelRegistry(BlobServiceClient service)
{
    private readonly BlobContainerClient models = service.GetBlobContainerClient(StorageLayout.ModelsContainer);
    private readonly BlobContainerClient trainingImages = service.GetBlobContainerClient(StorageLayout.TrainingImagesContainer);

    /// <summary>Creates the four containers of the layout where missing.</summary>
    public async Task EnsureContainersAsync(CancellationToken cancellationToken = default)
    {
        foreach (var name in StorageLayout.Containers)
            await service.GetBlobContainerClient(name).EnsureExistsAsync(cancellationToken);
    }

    /// <summary>
    /// Writes a new version (checkpoint, model.onnx, a VAE's encoder.onnx, samples, then the card) and points latest.json at it, unless the card
    /// makes it a candidate or latest is already a newer version (an ordinary publish never moves latest backwards;
    /// PromoteAsync and RollbackAsync do that on purpose). Every blob is written create-only: a version that exists, even
    /// in part, is left as it is and VersionExistsException is thrown. ModelPublishing (ImageGen.Pipeline.Torch) exports
    /// model.onnx from the checkpoint; this class needs no libtorch.
    /// </summary>
    public Task<LatestPointer?> PublishAsync(ModelCard card, ModelFiles files, CancellationToken cancellationToken = default) =>
        PublishAsync(card, _ => Task.FromResult(files), _ => true, sourceRun: null, cancellationToken);

    /// <summary>
    /// The publish step's write of a run's version (card.SourceRun): as PublishAsync, but a redelivery of the same run finds
    /// the blobs it wrote before (tagged with the run id) and carries on, keeping the stored card and its gate decision;
    /// anything else at the version is still a VersionExistsException. Latest moves only while <paramref name="mayMove"/>
    /// holds for the pointer in force (ifBetter: still the version the gate compared against). Returns the pointer in
    /// force afterwards, or null when mayMove declined or the version is a candidate. The files are made only when the
    /// version's card is not stored yet: a redelivery of a finished publish does not export the model again.
    /// </summary>
    public Task<LatestPointer?> PublishRunAsync(ModelCard card, Func<CancellationToken, Task<ModelFiles>> files, Func<LatestPointer?, bool> mayMove,
        CancellationToken cancellationToken = default) =>
        PublishAsync(card, files, mayMove,
            card.SourceRun is { } run ? StorageLayout.ValidateName(run, "source run") : throw new ArgumentException("a run's card names its SourceRun"), cancellationToken);

    /// <summary>Blob metadata naming the run that wrote a version's blob, so that run's redelivery recognises its own work.</summary>
    private const string SourceRunMetadata = "sourcerun";

    private async Task<LatestPointer?> PublishAsync(ModelCard card, Func<CancellationToken, Task<ModelFiles>> makeFiles, Func<LatestPointer?, bool> mayMove,
        string? sourceRun, CancellationToken cancellationToken)
    {
        string dataset = StorageLayout.ValidateName(card.Dataset, "dataset");
        string version = StorageLayout.ValidateVersion(card.Version, "version");
        await models.EnsureExistsAsync(cancellationToken);
        // The card is written last, so a version with a card is complete; a redelivery of the same run keeps it as stored.
        if (await ReadCardAsync(dataset, version, cancellationToken) is { } stored)
        {
            if (sourceRun is null || stored.SourceRun != sourceRun) throw await VersionExistsAsync(dataset, version, stored, cancellationToken);
            card = stored;
        }
        else
        {
            var files = await makeFiles(cancellationToken);
            await CreateAsync(dataset, version, StorageLayout.ModelCheckpoint(dataset, version), files.Checkpoint, sourceRun, cancellationToken);
            await CreateAsync(dataset, version, StorageLayout.ModelOnnx(dataset, version), new MemoryStream(files.Onnx), sourceRun, cancellationToken);
            if (files.EncoderOnnx is not null)
                await CreateAsync(dataset, version, StorageLayout.ModelEncoderOnnx(dataset, version), new MemoryStream(files.EncoderOnnx), sourceRun, cancellationToken);
            if (files.SamplesPng is not null)
                await CreateAsync(dataset, version, StorageLayout.ModelSamples(dataset, version), new MemoryStream(files.SamplesPng), sourceRun, cancellationToken);
            if (!await CreateAsync(dataset, version, StorageLayout.ModelCard(dataset, version), BinaryData.FromObjectAsJson(card, Core.Models.Json.Options).ToStream(),
                    sourceRun, cancellationToken))
                card = (await ReadCardAsync(dataset, version, cancellationToken))!; // a concurrent delivery of this run wrote it first
        }
        if (card.Publish is { Passed: false }) return null;
        int number = StorageLayout.VersionNumber(version)!.Value;
        return await MoveLatestAsync(dataset, current =>
            current?.Version == version ? current // a redelivered publish: already done
            : !mayMove(current) ? null
            : current is null ? new LatestPointer(version, card.PublishedAt) { Reason = LatestPointer.Published }
            : StorageLayout.VersionNumber(current.Version) >= number ? current // never backwards: latest is newer already
            : current.MoveTo(version, card.PublishedAt, LatestPointer.Published), cancellationToken);
    }

    /// <summary>
    /// Uploads a version's blob create-only (If-None-Match: *). True when written; false when this same run wrote it
    /// before (a redelivery); otherwise the version belongs to someone else and VersionExistsException says so.
    /// </summary>
    private async Task<bool> CreateAsync(string dataset, string version, string path, Stream content, string? sourceRun, CancellationToken cancellationToken)
    {
        var blob = models.GetBlobClient(path);
        var options = new BlobUploadOptions
        {
            Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All },
            Metadata = sourceRun is null ? null : new Dictionary<string, string> { [SourceRunMetadata] = sourceRun },
        };
        try
        {
            await blob.UploadAsync(content, options, cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412)
        {
            var existing = await blob.GetPropertiesAsync(cancellationToken: cancellationToken);
            if (sourceRun is not null && existing.Value.Metadata.TryGetValue(SourceRunMetadata, out var writer) && writer == sourceRun) return false;
            throw await VersionExistsAsync(dataset, version, await ReadCardAsync(dataset, version, cancellationToken), cancellationToken);
        }
    }

    private async Task<VersionExistsException> VersionExistsAsync(string dataset, string version, ModelCard? stored, CancellationToken cancellationToken)
    {
        string newest = (await ListVersionsAsync(dataset, cancellationToken)).LastOrDefault() ?? version;
        string what = stored is null
            ? "holds blobs of another publish that did not finish (no model.json)"
            : $"was published {stored.PublishedAt:u}{(stored.SourceRun is { } run ? $" from {run}" : "")}";
        return new VersionExistsException(dataset, version,
            $"models/{dataset}/{version} already exists: it {what}. A version never changes once written; publish as a new version " +
            $"(the newest is {newest}), or move latest to an existing one with promote or rollback");
    }

    /// <summary>Points latest at an existing version (promotion); the version that was latest goes onto the history.</summary>
    public async Task<LatestPointer> PromoteAsync(string dataset, string version, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        (await MoveLatestAsync(dataset, current =>
            current?.Version == version ? current
            : current is null ? new LatestPointer(version, at) { Reason = "promoted" }
            : current.MoveTo(version, at, "promoted"), cancellationToken))!;

    /// <summary>Points latest back at the version that was latest before it; null when there is none to go back to.</summary>
    public async Task<LatestPointer?> RollbackAsync(string dataset, DateTimeOffset at, CancellationToken cancellationToken = default) =>
        await MoveLatestAsync(dataset, current => current is { Previous: [var previous, .. var older] }
            ? new LatestPointer(previous, at) { Previous = older, Reason = $"rolled back from {current.Version}" }
            : null, cancellationToken);

    /// <summary>
    /// Reads latest.json and writes what <paramref name="next"/> makes of it, with an ETag condition so two movers never
    /// overwrite each other: on a conflict it reads again and asks again. Returns the pointer in force afterwards, or null
    /// when next declined (returned null). Writing nothing when next returns the current pointer itself.
    /// </summary>
    private async Task<LatestPointer?> MoveLatestAsync(string dataset, Func<LatestPointer?, LatestPointer?> next, CancellationToken cancellationToken)
    {
        var blob = models.GetBlobClient(StorageLayout.LatestPointer(dataset));
        for (int attempt = 0; ; attempt++)
        {
            LatestPointer? current = null;
            BlobRequestConditions conditions;
            try
            {
                var response = await blob.DownloadContentAsync(cancellationToken);
                current = response.Value.Content.ToObjectFromJson<LatestPointer>(Core.Models.Json.Options);
                conditions = new BlobRequestConditions { IfMatch = response.Value.Details.ETag };
            }
            catch (RequestFailedException e) when (e.Status == 404)
            {
                conditions = new BlobRequestConditions { IfNoneMatch = ETag.All };
            }
            var moved = next(current);
            if (moved is null || ReferenceEquals(moved, current)) return moved;
            try
            {
                await blob.UploadAsync(BinaryData.FromObjectAsJson(moved, Core.Models.Json.Options), new BlobUploadOptions { Conditions = conditions }, cancellationToken);
                return moved;
            }
            catch (RequestFailedException e) when (e.Status is 409 or 412 && attempt < 5)
            {
                // Another writer moved the pointer between our read and write: read again and decide again.
            }
        }
    }

    public async Task<ModelCard?> ReadCardAsync(string dataset, string version, CancellationToken cancellationToken = default) =>
        await models.GetBlobClient(StorageLayout.ModelCard(dataset, version)).TryReadJsonAsync<ModelCard>(cancellationToken);

    /// <summary>Reads latest.json, or answers NotModified when knownETag is still current (one cheap conditional request).</summary>
    public async Task<LatestLookup> GetLatestAsync(string dataset, ETag? knownETag, CancellationToken cancellationToken = default)
    {
        var blob = models.GetBlobClient(StorageLayout.LatestPointer(dataset));
        try
        {
            var options = new BlobDownloadOptions { Conditions = knownETag is { } e ? new BlobRequestConditions { IfNoneMatch = e } : null };
            var response = await blob.DownloadContentAsync(options, cancellationToken);
            if (response.GetRawResponse().Status == 304) return new LatestLookup(LatestStatus.NotModified, null, knownETag);
            LatestPointer? pointer;
            try { pointer = response.Value.Content.ToObjectFromJson<LatestPointer>(Core.Models.Json.Options); }
            catch (JsonException bad) { throw new InvalidDataException($"models/{StorageLayout.LatestPointer(dataset)} is not valid JSON: {bad.Message}", bad); }
            if (pointer is null) throw new InvalidDataException($"models/{StorageLayout.LatestPointer(dataset)} is empty");
            // Not trusted blindly: the version it names passes the check a URL's version does, so a damaged or
            // forged pointer cannot send a reader to another dataset's blobs ("../other/v0001").
            if (!StorageLayout.IsSafeName(pointer.Version))
                throw new InvalidDataException($"models/{StorageLayout.LatestPointer(dataset)} names version '{pointer.Version}', which is not a valid version name");
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

    /// <summary>Whether the version is published whole: its card, written last, is there (a version without one is still being written, or its publish died).</summary>
    public async Task<bool> VersionExistsAsync(string dataset, string version, CancellationToken cancellationToken = default) =>
        await models.GetBlobClient(StorageLayout.ModelCard(dataset, version)).ExistsAsync(cancellationToken);

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
            if (await ReadCardAsync(dataset, version, cancellationToken) is { } card)
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

    /// <summary>
    /// A published checkpoint as a seekable stream of ranged reads, pinned to the blob's current ETag: a reader that
    /// seeks past sections (serving skips the discriminator and the optimizer states) never downloads them.
    /// </summary>
    /// <summary>The version's model.onnx, or null where it has none (published before export, or never).</summary>
    public Task<byte[]?> TryReadOnnxAsync(string dataset, string version, CancellationToken cancellationToken = default) =>
        TryReadAsync(StorageLayout.ModelOnnx(dataset, version), cancellationToken);

    /// <summary>A VAE version's encoder.onnx, or null where it has none (another family, or published before the encoder was exported).</summary>
    public Task<byte[]?> TryReadEncoderOnnxAsync(string dataset, string version, CancellationToken cancellationToken = default) =>
        TryReadAsync(StorageLayout.ModelEncoderOnnx(dataset, version), cancellationToken);

    private async Task<byte[]?> TryReadAsync(string path, CancellationToken cancellationToken)
    {
        try { return (await models.GetBlobClient(path).DownloadContentAsync(cancellationToken)).Value.Content.ToArray(); }
        catch (RequestFailedException e) when (e.Status == 404) { return null; }
    }

    public Task<Stream> OpenCheckpointAsync(string dataset, string version, CancellationToken cancellationToken = default) =>
        models.GetBlobClient(StorageLayout.ModelCheckpoint(dataset, version))
            .OpenReadAsync(new BlobOpenReadOptions(allowModifications: false) { BufferSize = 1 << 20 }, cancellationToken);
}
