using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ImageGen.Core.Data;
using ImageGen.Core.Metrics;

namespace ImageGen.Pipeline.Storage;

/// <summary>A dataset version's extractor and real-side features, ready to score generators with.</summary>
public sealed class LoadedQualityReference(FeatureExtractor extractor, QualityReference reference, bool cached) : IDisposable
{
    public FeatureExtractor Extractor { get; } = extractor;
    public QualityReference Reference { get; } = reference;
    /// <summary>Both came from the cache: nothing was trained or extracted for the real side.</summary>
    public bool Cached { get; } = cached;

    public void Dispose()
    {
        Extractor.Dispose();
        Reference.Dispose();
    }
}

/// <summary>
/// Each dataset version's self-supervised feature extractor and real-side features, made once and kept beside its
/// shards (datasets/{dataset}/{version}/quality/) and in a local folder. Later evaluations on that version, and the
/// re-scoring of latest that the publish gate needs, then cost only the generated side. The first extractor stored
/// wins (a create-only write), so every score of a version is made in one feature space. The version's held-out images
/// (DatasetHoldOut) give the near-copy baseline; the extractor never sees them, as no model does.
/// </summary>
public sealed class QualityReferences(BlobServiceClient service)
{
    private readonly BlobContainerClient packed = service.GetBlobContainerClient(StorageLayout.DatasetsContainer);
    private readonly PackedDatasets datasets = new(service);

    /// <summary>The version's extractor and reference; data: the version's training images (DatasetLoader.ReadShards).</summary>
    public async Task<LoadedQualityReference> GetAsync(string dataset, string datasetVersion, ImageTensorDataset data, int extractorSteps,
        IProgress<string>? progress = null, CancellationToken cancellationToken = default)
    {
        string folder = StorageLayout.LocalCacheFolder(service.Uri, "quality", dataset, datasetVersion);
        Directory.CreateDirectory(folder);
        LocalDisk.MarkUsed(folder);
        string extractorPath = Path.Combine(folder, "extractor.bin"), referencePath = Path.Combine(folder, Path.GetFileName(StorageLayout.QualityReference(dataset, datasetVersion)));
        bool cached = true;

        var extractorBlob = packed.GetBlobClient(StorageLayout.QualityExtractor(dataset, datasetVersion));
        if (!File.Exists(extractorPath) && !await TryDownloadAsync(extractorBlob, extractorPath, cancellationToken))
        {
            cached = false;
            string trainedPath = Unique(extractorPath);
            using (var trained = FeatureExtractor.TrainSelfSupervised(data, extractorSteps, seed: 1, progress, cancellationToken))
                trained.Save(trainedPath);
            if (await TryCreateAsync(extractorBlob, trainedPath, cancellationToken)) File.Move(trainedPath, extractorPath, overwrite: true);
            else
            {
                File.Delete(trainedPath); // a concurrent evaluation stored its extractor first: score in that one
                await TryDownloadAsync(extractorBlob, extractorPath, cancellationToken);
            }
        }
        var extractor = FeatureExtractor.Load(extractorPath);
        try
        {
            var referenceBlob = packed.GetBlobClient(StorageLayout.QualityReference(dataset, datasetVersion));
            if ((File.Exists(referencePath) || await TryDownloadAsync(referenceBlob, referencePath, cancellationToken))
                && TryLoad(referencePath, extractor.Info.Id) is { } stored)
                return new LoadedQualityReference(extractor, stored, cached);

            using var heldOut = DatasetLoader.ReadHeldOut(await datasets.DownloadAsync(dataset, datasetVersion, cancellationToken));
            var reference = QualityReference.Compute(extractor, data, unseen: heldOut);
            try
            {
                string computedPath = Unique(referencePath);
                reference.Save(computedPath);
                await TryCreateAsync(referenceBlob, computedPath, cancellationToken); // same extractor, same features: either copy will do
                File.Move(computedPath, referencePath, overwrite: true);
            }
            catch
            {
                reference.Dispose();
                throw;
            }
            return new LoadedQualityReference(extractor, reference, cached: false);
        }
        catch
        {
            extractor.Dispose();
            throw;
        }
    }

    private static QualityReference? TryLoad(string path, string extractorId)
    {
        try { return QualityReference.Load(path, extractorId); }
        catch (InvalidDataException) { return null; } // made with another extractor or cut short: compute it again
        catch (EndOfStreamException) { return null; }
    }

    private static string Unique(string path) => $"{path}.{Guid.NewGuid():N}.partial";

    /// <summary>Downloads to a partial file and moves it into place, so a reader never sees half a file. False when the blob is missing.</summary>
    private static async Task<bool> TryDownloadAsync(BlobClient blob, string path, CancellationToken cancellationToken)
    {
        string partial = Unique(path);
        try
        {
            await blob.DownloadToAsync(partial, cancellationToken);
            File.Move(partial, path, overwrite: true);
            return true;
        }
        catch (RequestFailedException e) when (e.Status == 404)
        {
            File.Delete(partial);
            return false;
        }
    }

    /// <summary>Uploads only if the blob does not exist yet; false when another writer was first.</summary>
    private static async Task<bool> TryCreateAsync(BlobClient blob, string path, CancellationToken cancellationToken)
    {
        try
        {
            await blob.UploadAsync(path, new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }, cancellationToken);
            return true;
        }
        catch (RequestFailedException e) when (e.Status is 409 or 412) { return false; }
    }
}
