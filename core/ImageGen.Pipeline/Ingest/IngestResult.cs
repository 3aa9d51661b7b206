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
    /// <summary>Why nothing can be trained (bad options, no usable images), or null.</summary>
    public string? Error { get; init; }
}
