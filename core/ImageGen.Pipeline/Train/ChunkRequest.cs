using ImageGen.Core.Training;

namespace ImageGen.Pipeline.Train;

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
    /// <summary>Training steps of the dataset version's self-supervised extractor, when clusters need it before it is made (PipelineSettings).</summary>
    public int ExtractorSteps { get; init; } = 400;
}
