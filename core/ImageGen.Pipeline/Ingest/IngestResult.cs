using ImageGen.Core.Data;
using ImageGen.Core.Training;

namespace ImageGen.Pipeline.Ingest;

public sealed record IngestResult
{
    public required string DatasetVersion { get; init; }
    public int Accepted { get; init; }
    /// <summary>Of the accepted images, those kept out of training for the near-copy baseline (DatasetHoldOut).</summary>
    public int HeldOut { get; init; }
    public int Rejected { get; init; }
    /// <summary>The first few rejections with reasons; all of them are in the manifest.</summary>
    public List<Rejection> FirstRejections { get; init; } = [];
    public TrainSettings? Settings { get; init; }
    /// <summary>The newest Last-Modified among the blobs ingest listed, on storage's own clock.</summary>
    public DateTimeOffset? NewestBlobAt { get; init; }
    /// <summary>
    /// When ingest began listing the drop, on storage's own clock (the first listing page's Date): every blob written
    /// before it was listed, and a blob written after it may have been passed by the listing (newer blobs elsewhere do
    /// not prove it was read). The follow-up check trains again for any blob newer than this.
    /// </summary>
    public DateTimeOffset? ListingStartedAt { get; init; }
    /// <summary>Why nothing can be trained (bad options, no usable images), or null.</summary>
    public string? Error { get; init; }
}
