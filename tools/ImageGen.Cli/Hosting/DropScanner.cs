using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using ImageGen.Pipeline.Orchestration;
using ImageGen.Pipeline.Storage;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ImageGen.Cli.Hosting;

/// <summary>
/// The local host's blob trigger: scans training-images every interval and signals the dataset of every blob
/// newer than the last scan (TrainingControl throttles per dataset). The watermark lives in storage, so
/// images dropped while the host was down are noticed when it starts. Blob times have one-second resolution:
/// blobs in the watermark's own second are rescanned and told apart by name, so an upload landing in the same
/// second as the last scan's newest blob is not skipped.
/// </summary>
public sealed class DropScanner(BlobServiceClient storage, Func<string, CancellationToken, Task<string>> signalDrop, TimeSpan interval, ILogger logger) : BackgroundService
{
    private sealed record Watermark(DateTimeOffset Through);

    // ".host" cannot be a dataset name, so it never collides with a run folder.
    private readonly BlobClient watermarkBlob = storage.GetBlobContainerClient(StorageLayout.CheckpointsContainer).GetBlobClient(".host/drop-watermark.json");
    private DateTimeOffset? through;
    private readonly HashSet<string> signalledAtWatermark = new(StringComparer.Ordinal);

    public DropScanner(BlobServiceClient storage, TrainingControl control, TimeSpan interval, ILogger<DropScanner> logger)
        : this(storage, control.OnImageDroppedAsync, interval, logger) { }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try { await ScanOnceAsync(stoppingToken); }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { break; }
            catch (Exception e)
            {
                // Storage or the task hub hiccuped: log, keep the watermark where it is, and scan again. The scanner
                // must outlive any one failure, or the host would stop noticing drops (or stop altogether).
                logger.LogWarning("scanning {Container} failed, retrying in {Interval}: {Error}", StorageLayout.TrainingImagesContainer, interval, e.Message);
            }
            try { await Task.Delay(interval, stoppingToken); } catch (OperationCanceledException) { break; }
        }
    }

    /// <summary>One scan: signals every blob not signalled before, oldest first. Throws when a signal fails; the next scan sends it again.</summary>
    public async Task ScanOnceAsync(CancellationToken cancellationToken)
    {
        through ??= (await watermarkBlob.TryReadJsonAsync<Watermark>(cancellationToken))?.Through ?? DateTimeOffset.MinValue;
        var fresh = new List<(string Name, DateTimeOffset Modified)>();
        await foreach (var blob in storage.GetBlobContainerClient(StorageLayout.TrainingImagesContainer).GetBlobsAsync(BlobTraits.None, BlobStates.None, null, cancellationToken))
        {
            if (blob.Properties.LastModified is not { } modified || modified < through
                || (modified == through && signalledAtWatermark.Contains(blob.Name))) continue;
            fresh.Add((blob.Name, modified));
        }
        // The watermark moves past each blob only once its signal went out.
        foreach (var (name, modified) in fresh.OrderBy(f => f.Modified))
        {
            logger.LogInformation("{Result}", await signalDrop(name, cancellationToken));
            if (modified > through) { through = modified; signalledAtWatermark.Clear(); }
            signalledAtWatermark.Add(name);
        }
        if (fresh.Count > 0) await watermarkBlob.UploadJsonAsync(new Watermark(through.Value), cancellationToken);
    }
}
