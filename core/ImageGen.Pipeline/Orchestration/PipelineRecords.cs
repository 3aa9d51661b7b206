using ImageGen.Core.Data;
using ImageGen.Core.Training;

namespace ImageGen.Pipeline.Orchestration;

// Everything the orchestrator and its activities pass to each other: names of blobs and small numbers,
// never images or tensors, so the durable history stays small.

/// <summary>How the pipeline paces itself. Set once from configuration by whoever starts the orchestration.</summary>
public sealed record PipelineSettings
{
    /// <summary>Uploads must be quiet this long before a run ingests.</summary>
    public TimeSpan QuietPeriod { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>One training activity trains at most this many steps...</summary>
    public int ChunkSteps { get; init; } = 500;
    /// <summary>...or this long, whichever comes first: a recycled worker loses at most one chunk.</summary>
    public TimeSpan ChunkTime { get; init; } = TimeSpan.FromMinutes(2);
    /// <summary>Chunks per orchestration generation before ContinueAsNew trims the history.</summary>
    public int ChunksPerGeneration { get; init; } = 20;
    public int MaxAttempts { get; init; } = 4;
    public TimeSpan FirstRetryInterval { get; init; } = TimeSpan.FromSeconds(5);

    public void Validate()
    {
        if (QuietPeriod < TimeSpan.Zero || QuietPeriod > TimeSpan.FromDays(1)) throw new ArgumentException($"quiet period {QuietPeriod} is outside 0..1 day");
        if (ChunkSteps < 1) throw new ArgumentException($"chunk steps {ChunkSteps} must be at least 1");
        if (ChunkTime <= TimeSpan.Zero) throw new ArgumentException($"chunk time {ChunkTime} must be positive");
        if (ChunksPerGeneration < 1) throw new ArgumentException($"chunks per generation {ChunksPerGeneration} must be at least 1");
        if (MaxAttempts < 1) throw new ArgumentException($"max attempts {MaxAttempts} must be at least 1");
    }
}

/// <summary>A reason to train: images arrived (a blob name) or someone asked over HTTP (with options, maybe).</summary>
public sealed record RunSignal(string Reason, string? OptionsJson = null)
{
    public const string HttpReason = "http";
}

/// <summary>The orchestration's input, one per generation (ContinueAsNew carries it forward).</summary>
public sealed record PipelineInput
{
    public required string Dataset { get; init; }
    public PipelineSettings Settings { get; init; } = new();
    /// <summary>Wait for uploads to go quiet before ingesting (a drop); false for an explicit HTTP request.</summary>
    public bool WaitForQuiet { get; init; } = true;
    /// <summary>Options JSON from an HTTP request, laid over the dataset's imagegen.json.</summary>
    public string? OptionsJson { get; init; }
    /// <summary>A run in the middle of training, carried across ContinueAsNew.</summary>
    public RunState? Run { get; init; }
    /// <summary>The status of the run before this generation, shown until a new run starts.</summary>
    public TrainingStatus? LastStatus { get; init; }
}

public sealed record RunState
{
    public required string RunId { get; init; }
    public required string DatasetVersion { get; init; }
    public required TrainSettings Settings { get; init; }
    public required IngestResult Ingest { get; init; }
    /// <summary>Orchestration time just before ingest listed the blobs: anything written earlier is in this run.</summary>
    public DateTime IngestStartedAt { get; init; }
    public long Step { get; init; }
    public int Chunk { get; init; }
    public double TrainedSeconds { get; init; }
}

public sealed record IngestRequest(string Dataset, string RunId, string? OptionsJson);

public sealed record IngestResult
{
    public required string DatasetVersion { get; init; }
    public int Accepted { get; init; }
    public int Rejected { get; init; }
    /// <summary>The first few rejections with reasons; all of them are in the manifest.</summary>
    public List<Rejection> FirstRejections { get; init; } = [];
    public TrainSettings? Settings { get; init; }
    /// <summary>Why nothing can be trained (bad options, no usable images), or null.</summary>
    public string? Error { get; init; }
}

public sealed record ChunkRequest
{
    public required string Dataset { get; init; }
    public required string RunId { get; init; }
    public required string DatasetVersion { get; init; }
    public required TrainSettings Settings { get; init; }
    public required int Chunk { get; init; }
    /// <summary>The step the orchestration believes the run's checkpoint is at.</summary>
    public long FromStep { get; init; }
    public double TrainedSeconds { get; init; }
    public int ChunkSteps { get; init; }
    public TimeSpan ChunkTime { get; init; }
}

public sealed record ChunkResult
{
    public int Chunk { get; init; }
    public long Step { get; init; }
    public int Epoch { get; init; }
    public long? TotalSteps { get; init; }
    /// <summary>Training reached its own stop condition (epochs, max steps or time budget).</summary>
    public bool Done { get; init; }
    public bool Cancelled { get; init; }
    public StopReason StopReason { get; init; }
    public Dictionary<string, double> Losses { get; init; } = [];
    public double ImagesPerSecond { get; init; }
    public double Seconds { get; init; }
    public double? EtaSeconds { get; init; }
    public int Seed { get; init; }
}

public sealed record EvaluateRequest(string Dataset, string RunId, string DatasetVersion);

public sealed record EvaluateResult(Dictionary<string, double> Metrics);

public sealed record PublishRequest(string Dataset, string RunId, string DatasetVersion, Dictionary<string, double> Metrics, long Steps);

public sealed record PublishResult(string Version);

/// <summary>How a generation of the orchestration ended.</summary>
public sealed record PipelineOutcome(string State, string? RunId = null, string? Version = null, string? Error = null);

/// <summary>
/// The orchestration's custom status (kept far below the 16 KB cap): where the run is and how it goes.
/// Live step-level numbers between chunks come from the run's progress blob.
/// </summary>
public sealed record TrainingStatus
{
    /// <summary>waiting | ingesting | training | evaluating | publishing | published | failed | cancelled</summary>
    public required string State { get; init; }
    public string? RunId { get; init; }
    public string? DatasetVersion { get; init; }
    public int? Accepted { get; init; }
    public int? Rejected { get; init; }
    public List<Rejection>? FirstRejections { get; init; }
    public int? Epoch { get; init; }
    public long? Step { get; init; }
    public long? TotalSteps { get; init; }
    public Dictionary<string, double>? Losses { get; init; }
    public double? ImagesPerSecond { get; init; }
    public double? EtaSeconds { get; init; }
    /// <summary>Blob path (container/name) of the newest sample grid.</summary>
    public string? SampleGrid { get; init; }
    public string? PublishedVersion { get; init; }
    public Dictionary<string, double>? Metrics { get; init; }
    public string? Error { get; init; }
    public bool FollowUpPending { get; init; }
    public DateTime UpdatedAt { get; init; }
}
