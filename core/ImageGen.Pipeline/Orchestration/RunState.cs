using ImageGen.Core.Training;
using ImageGen.Pipeline.Ingest;

namespace ImageGen.Pipeline.Orchestration;

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
