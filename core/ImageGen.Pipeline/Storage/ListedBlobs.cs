using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace ImageGen.Pipeline.Storage;

/// <summary>
/// Reads a blob exactly as it was listed: its listed length and no more (a ranged read), and only while its ETag
/// is still the listed one (If-Match), so a blob overwritten or appended after its size was checked cannot bring
/// bytes that were never checked. A changed or deleted blob is a reason to skip it, not an error.
/// </summary>
public static class ListedBlobs
{
    public const string Changed = "changed after it was listed (overwritten or appended); skipped here, the next ingest reads the new one";
    public const string Deleted = "was deleted while the dataset was being read";

    /// <summary>The listed bytes, or (null, why not).</summary>
    public static async Task<(byte[]? Data, string? Skipped)> DownloadAsListedAsync(this BlobContainerClient container, BlobItem listed, CancellationToken cancellationToken = default)
    {
        var (content, skipped) = await OpenAsListedAsync(container, listed, cancellationToken);
        if (content is null) return (null, skipped);
        await using (content)
        {
            var data = new byte[listed.Properties.ContentLength ?? 0];
            int read = await content.ReadAtLeastAsync(data, data.Length, throwOnEndOfStream: false, cancellationToken);
            return read == data.Length ? (data, null) : (null, Changed);
        }
    }

    /// <summary>Writes the listed bytes to <paramref name="path"/>; returns null, or why it was skipped.</summary>
    public static async Task<string?> DownloadAsListedToAsync(this BlobContainerClient container, BlobItem listed, string path, CancellationToken cancellationToken = default)
    {
        var (content, skipped) = await OpenAsListedAsync(container, listed, cancellationToken);
        if (content is null) return skipped;
        await using (content)
        await using (var file = File.Create(path))
        {
            await content.CopyToAsync(file, cancellationToken);
            return file.Length == (listed.Properties.ContentLength ?? 0) ? null : Changed;
        }
    }

    private static async Task<(Stream? Content, string? Skipped)> OpenAsListedAsync(BlobContainerClient container, BlobItem listed, CancellationToken cancellationToken)
    {
        long length = listed.Properties.ContentLength ?? 0;
        var options = new BlobDownloadOptions
        {
            Range = length > 0 ? new HttpRange(0, length) : default, // an empty blob has no byte 0 to range over
            Conditions = new BlobRequestConditions { IfMatch = listed.Properties.ETag },
        };
        var blob = container.GetBlobClient(listed.Name);
        try { return ((await blob.DownloadStreamingAsync(options, cancellationToken)).Value.Content, null); }
        catch (RequestFailedException e) when (e.Status == 404) { return (null, Deleted); }
        // A failed If-Match may mean gone as well as changed (storage answers 412 for both); 416: it shrank below the range.
        catch (RequestFailedException e) when (e.Status is 412 or 416) { return (null, await blob.ExistsAsync(cancellationToken) ? Changed : Deleted); }
    }
}
