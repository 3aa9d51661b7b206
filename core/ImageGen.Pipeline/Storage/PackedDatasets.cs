using Azure.Storage.Blobs;
using ImageGen.Core.Data;

namespace ImageGen.Pipeline.Storage;

/// <summary>Packed dataset versions (datasets/{dataset}/{version}/: manifest and shards) as training and evaluation read them.</summary>
public sealed class PackedDatasets(BlobServiceClient service)
{
    private readonly BlobContainerClient packed = service.GetBlobContainerClient(StorageLayout.DatasetsContainer);

    /// <summary>Whether the dataset version is in storage (its manifest, which ingest writes after the shards).</summary>
    public async Task<bool> ExistsAsync(string dataset, string version, CancellationToken cancellationToken = default) =>
        await packed.GetBlobClient(StorageLayout.PackedFolder(dataset, version) + DatasetManifest.FileName).ExistsAsync(cancellationToken);

    /// <summary>Downloads a packed dataset version into a local cache folder once per machine, and returns the folder.</summary>
    public async Task<string> DownloadAsync(string dataset, string version, CancellationToken cancellationToken = default)
    {
        string folder = StorageLayout.LocalCacheFolder(service.Uri, "datasets", dataset, version);
        if (File.Exists(Path.Combine(folder, DatasetManifest.FileName)))
        {
            LocalDisk.MarkUsed(folder);
            return folder;
        }
        string partial = folder + ".partial-" + LocalDisk.OwnedName(Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(partial);
        string prefix = StorageLayout.PackedFolder(dataset, version);
        try
        {
            await packed.GetBlobClient(prefix + DatasetManifest.FileName).DownloadToAsync(Path.Combine(partial, DatasetManifest.FileName), cancellationToken);
            foreach (var shard in DatasetManifest.Read(partial).Shards)
                await packed.GetBlobClient(prefix + shard.File).DownloadToAsync(Path.Combine(partial, shard.File), cancellationToken);
        }
        catch
        {
            Directory.Delete(partial, true); // a failed download leaves nothing behind for the retry to pile onto
            throw;
        }
        try { Directory.Move(partial, folder); }
        catch (IOException) when (File.Exists(Path.Combine(folder, DatasetManifest.FileName))) { Directory.Delete(partial, true); } // another worker won
        LocalDisk.MarkUsed(folder);
        LocalDisk.Sweep(); // a new entry: keep the caches within their size
        return folder;
    }
}
