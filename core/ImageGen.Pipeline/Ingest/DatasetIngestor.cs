using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ImageGen.Core.Data;
using ImageGen.Core.Training;
using ImageGen.Pipeline.Storage;

namespace ImageGen.Pipeline.Ingest;

/// <summary>
/// The ingest step: reads a dataset's training options and every image and archive dropped under
/// training-images/{dataset}/, validates and packs them with core, and writes shards plus a manifest (what was
/// accepted, what was rejected and why) to datasets/{dataset}/{datasetVersion}/. Idempotent: a repeat writes
/// the same version again. Bad inputs never stop the run; bad options stop it before anything is read. A labels file
/// (labels.json or labels.csv at the dataset's top) is read before the images and names their classes.
/// </summary>
public sealed class DatasetIngestor(BlobServiceClient service, DecodeLimits? decodeLimits = null, ArchiveLimits? archiveLimits = null)
{
    public const int RejectionsInStatus = 10;
    /// <summary>imagegen.json holds a handful of options; anything bigger is refused before it is read.</summary>
    public const int MaxOptionsFileBytes = 64 * 1024;
    private const int DownloadBatch = 256;
    private const long DownloadBatchBytes = 256L * 1024 * 1024;
    private const int DownloadConcurrency = 16;
    private readonly DecodeLimits limits = decodeLimits ?? DecodeLimits.Default;
    private readonly ArchiveLimits archives = archiveLimits ?? ArchiveLimits.Default;
    private readonly BlobContainerClient drops = service.GetBlobContainerClient(StorageLayout.TrainingImagesContainer);
    private readonly BlobContainerClient packed = service.GetBlobContainerClient(StorageLayout.DatasetsContainer);
    private readonly BlobContainerClient runs = service.GetBlobContainerClient(StorageLayout.CheckpointsContainer);

    /// <summary>
    /// The first rejections, cut to fit the orchestration's custom status (16 KB at most): blob names may be 1,024
    /// characters long. The manifest keeps every rejection whole.
    /// </summary>
    public static List<Rejection> StatusRejections(IEnumerable<Rejection> rejected) =>
        [.. rejected.Take(RejectionsInStatus).Select(r => new Rejection(Shorten(r.Name, 160), Shorten(r.Reason, 240)))];

    private static string Shorten(string text, int max) => text.Length <= max ? text : text[..(max / 2 - 2)] + "..." + text[^(max / 2 - 1)..];

    /// <summary>The dataset's options: imagegen.json, with the HTTP request's options laid over it key by key.</summary>
    public async Task<TrainSettings> ReadSettingsAsync(string dataset, string? requestOptionsJson, TrainingLimits? limits = null, CancellationToken cancellationToken = default)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        string optionsBlob = $"{StorageLayout.TrainingImagesContainer}/{StorageLayout.DatasetOptions(dataset)}";
        string? fileJson;
        try { fileJson = await drops.GetBlobClient(StorageLayout.DatasetOptions(dataset)).TryReadTextAsync(MaxOptionsFileBytes, cancellationToken); }
        catch (InvalidDataException e) { throw new OptionException($"{e.Message} for a dataset's options file; keep it to the training options"); }
        if (fileJson is not null)
            foreach (var (key, value) in TrainSettings.ParseJsonObject(fileJson, optionsBlob)) values[key] = value;
        if (requestOptionsJson is not null)
            foreach (var (key, value) in TrainSettings.ParseJsonObject(requestOptionsJson, "the train request's options")) values[key] = value;
        string source = (fileJson, requestOptionsJson) switch
        {
            (null, null) => "defaults",
            (_, null) => optionsBlob,
            (null, _) => "the train request's options",
            _ => $"{optionsBlob} with the train request's options over it",
        };
        return TrainSettings.FromValues(values, source, limits);
    }

    public async Task<DateTimeOffset?> NewestDropAsync(string dataset, CancellationToken cancellationToken = default)
    {
        DateTimeOffset? newest = null;
        try
        {
            await foreach (var blob in drops.GetBlobsAsync(BlobTraits.None, BlobStates.None, StorageLayout.TrainingImagesPrefix(StorageLayout.ValidateName(dataset, "dataset")), cancellationToken))
                if (blob.Properties.LastModified is { } modified && (newest is null || modified > newest)) newest = modified;
        }
        catch (RequestFailedException e) when (e.Status == 404) { }
        return newest;
    }

    public async Task<IngestResult> IngestAsync(IngestRequest request, CancellationToken cancellationToken = default)
    {
        string dataset = StorageLayout.ValidateName(request.Dataset, "dataset");
        string version = StorageLayout.ValidateName(request.DatasetVersion, "dataset version");
        TrainSettings settings;
        try { settings = await ReadSettingsAsync(dataset, request.OptionsJson, request.Limits, cancellationToken); }
        catch (OptionException e) { return new IngestResult { DatasetVersion = version, Error = e.Message }; }

        await packed.EnsureExistsAsync(cancellationToken);
        await runs.EnsureExistsAsync(cancellationToken);
        string local = Path.Combine(Path.GetTempPath(), "imagegen-ingest", LocalDisk.OwnedName($"{dataset}-{version}-{Guid.NewGuid():N}"));
        try
        {
            await using var progress = new ProgressBlob(runs.GetBlobClient(StorageLayout.RunProgress(dataset, version)), TimeSpan.FromSeconds(2));
            DatasetManifest manifest;
            DateTimeOffset? newestListed = null, listingStartedAt = null;
            using (var packer = new DatasetPacker(local, settings.Spec.ImageSize, settings.Spec.Channels, limits,
                       new Progress<PackProgress>(p => progress.Report(new { stage = "ingest", seen = p.Seen, accepted = p.Accepted, rejected = p.Rejected }))))
            {
                foreach (string labels in DatasetClasses.LabelsFiles) // before any image: the labels file names every image's class
                {
                    string? text;
                    try { text = await drops.GetBlobClient(StorageLayout.TrainingImagesPrefix(dataset) + labels).TryReadTextAsync(DatasetClasses.MaxLabelsFileBytes, cancellationToken); }
                    catch (InvalidDataException e) { packer.Reject(labels, e.Message); continue; }
                    if (text is not null) packer.UseLabelsFile(labels, text);
                }
                var batch = new List<BlobItem>();
                await foreach (var page in drops.GetBlobsAsync(BlobTraits.None, BlobStates.None, StorageLayout.TrainingImagesPrefix(dataset), cancellationToken).AsPages())
                foreach (var blob in page.Values)
                {
                    listingStartedAt ??= page.GetRawResponse().Headers.Date;
                    if (blob.Properties.LastModified is { } modified && (newestListed is null || modified > newestListed)) newestListed = modified;
                    string relative = Relative(dataset, blob);
                    if (relative == StorageLayout.OptionsFile || DatasetClasses.IsLabelsFile(relative)) continue;
                    if (ArchiveReader.IsArchive(relative))
                    {
                        await AddImagesAsync(packer, dataset, batch, cancellationToken); // keep listing order
                        await AddArchiveAsync(packer, relative, blob, cancellationToken);
                        continue;
                    }
                    batch.Add(blob);
                    if (batch.Count == DownloadBatch || batch.Sum(b => b.Properties.ContentLength ?? 0) > DownloadBatchBytes)
                        await AddImagesAsync(packer, dataset, batch, cancellationToken);
                }
                await AddImagesAsync(packer, dataset, batch, cancellationToken);
                manifest = packer.Finish(settings.HoldOut);
            }
            await UploadPackedAsync(dataset, version, local, manifest, cancellationToken);
            var result = new IngestResult
            {
                DatasetVersion = version, Accepted = manifest.Count, HeldOut = manifest.HeldOut.Count, Rejected = manifest.Rejected.Count,
                FirstRejections = StatusRejections(manifest.Rejected), Settings = settings, NewestBlobAt = newestListed,
                ListingStartedAt = listingStartedAt,
            };
            if (manifest.Count == 0)
                return result with
                {
                    Error = manifest.Rejected.Count == 0
                        ? $"no images under {StorageLayout.TrainingImagesContainer}/{dataset}/; drop images or archives there"
                        : $"none of the {manifest.Rejected.Count} inputs under {StorageLayout.TrainingImagesContainer}/{dataset}/ is a usable image (see the manifest for every reason)",
                };
            return result; // a batch size above the image count trains with every image per step (Trainer clamps it)
        }
        finally
        {
            if (Directory.Exists(local)) Directory.Delete(local, recursive: true);
        }
    }

    private static string Relative(string dataset, BlobItem blob) => blob.Name[StorageLayout.TrainingImagesPrefix(dataset).Length..];

    /// <summary>
    /// Downloads a batch of loose images concurrently, each as it was listed, and decodes them on every core within
    /// the packer's pixels in flight, then packs them in listing order, so the shards are the same whatever the
    /// timing, and empties the batch. A batch holds at most DownloadBatch images and DownloadBatchBytes.
    /// </summary>
    private async Task AddImagesAsync(DatasetPacker packer, string dataset, List<BlobItem> batch, CancellationToken cancellationToken)
    {
        if (batch.Count == 0) return;
        var decoded = new (string Name, DecodeResult Result)[batch.Count];
        await Parallel.ForEachAsync(Enumerable.Range(0, batch.Count), new ParallelOptions { MaxDegreeOfParallelism = DownloadConcurrency, CancellationToken = cancellationToken },
            async (i, ct) =>
            {
                var blob = batch[i];
                string name = Relative(dataset, blob);
                long length = blob.Properties.ContentLength ?? 0;
                if (length > limits.MaxBytes) { decoded[i] = (name, DecodeResult.Reject($"file is {length} bytes, over the {limits.MaxBytes}-byte limit")); return; }
                var (data, skipped) = await drops.DownloadAsListedAsync(blob, ct);
                decoded[i] = (name, data is null ? DecodeResult.Reject(skipped!) : await packer.DecodeAsync(data, ct));
            });
        foreach (var (name, result) in decoded) packer.Add(name, result);
        batch.Clear();
    }

    private async Task AddArchiveAsync(DatasetPacker packer, string name, BlobItem blob, CancellationToken cancellationToken)
    {
        long length = blob.Properties.ContentLength ?? 0;
        if (length > archives.MaxArchiveBytes)
        {
            packer.Reject(name, $"archive is {length} bytes, over the {archives.MaxArchiveBytes}-byte limit");
            return;
        }
        // Archives go to a temporary file, not memory; members are read one at a time within the archive limits. The
        // file sits in the ingest scratch folder, which the start-up sweep clears of what a crash leaves (LocalDisk).
        string file = Path.Combine(Path.GetTempPath(), "imagegen-ingest", LocalDisk.OwnedName($"archive-{Guid.NewGuid():N}.tmp"));
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        try
        {
            if (await drops.DownloadAsListedToAsync(blob, file, cancellationToken) is { } skipped)
            {
                packer.Reject(name, skipped);
                return;
            }
            await using var stream = File.OpenRead(file);
            foreach (var member in ArchiveReader.Read(name, stream, archives))
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (member.Data is null) packer.Reject(member.Name, member.Rejection!);
                else packer.Add(member.Name, member.Data);
            }
        }
        finally { File.Delete(file); }
    }

    private async Task UploadPackedAsync(string dataset, string version, string local, DatasetManifest manifest, CancellationToken cancellationToken)
    {
        string prefix = StorageLayout.PackedFolder(dataset, version);
        foreach (var shard in manifest.Shards)
            await packed.GetBlobClient(prefix + shard.File).UploadAsync(Path.Combine(local, shard.File), overwrite: true, cancellationToken);
        // The manifest goes last: a dataset version is complete once its manifest exists.
        await packed.GetBlobClient(prefix + DatasetManifest.FileName).UploadAsync(Path.Combine(local, DatasetManifest.FileName), overwrite: true, cancellationToken);
    }
}
