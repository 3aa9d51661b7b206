using ImageGen.Core.Data;

namespace ImageGen.Pipeline.Orchestration;

/// <summary>
/// The orchestration's custom status (kept far below the 16 KB cap): where the run is and how it goes.
/// Live step-level numbers between chunks come from the run's progress blob.
/// </summary>
public sealed record TrainingStatus
{
    /// <summary>waiting | ingesting | training | evaluating | publishing | published | failed | cancelled | diverged (a loss went NaN; Error says at which step)</summary>
    public required string State { get; init; }
    public string? RunId { get; init; }
    public string? DatasetVersion { get; init; }
    public int? Accepted { get; init; }
    /// <summary>Of the accepted images, those kept out of training for the near-copy baseline (DatasetHoldOut).</summary>
    public int? HeldOut { get; init; }
    public int? Rejected { get; init; }
    public List<Rejection>? FirstRejections { get; init; }
    public int? Epoch { get; init; }
    public long? Step { get; init; }
    public long? TotalSteps { get; init; }
    public Dictionary<string, double>? Losses { get; init; }
    /// <summary>How the run started: a warm start from a published version, or a fresh start and why.</summary>
    public string? Start { get; init; }
    public double? ImagesPerSecond { get; init; }
    public double? EtaSeconds { get; init; }
    /// <summary>Blob path (container/name) of the newest sample grid.</summary>
    public string? SampleGrid { get; init; }
    public string? PublishedVersion { get; init; }
    /// <summary>Whether the published version became latest (false: a candidate, see PublishNote).</summary>
    public bool? Latest { get; init; }
    /// <summary>The publish gate's reason, e.g. "FD 41.20 against latest v0002's 38.90 (...): worse, so kept as a candidate".</summary>
    public string? PublishNote { get; init; }
    public Dictionary<string, double>? Metrics { get; init; }
    public string? Error { get; init; }
    public bool FollowUpPending { get; init; }
    public DateTime UpdatedAt { get; init; }
}
