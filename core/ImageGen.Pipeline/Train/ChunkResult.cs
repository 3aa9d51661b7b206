using ImageGen.Core.Training;

namespace ImageGen.Pipeline.Train;

public sealed record ChunkResult
{
    public int Chunk { get; init; }
    public long Step { get; init; }
    public int Epoch { get; init; }
    public long? TotalSteps { get; init; }
    /// <summary>Training reached its own stop condition (epochs, max steps or time budget).</summary>
    public bool Done { get; init; }
    public bool Cancelled { get; init; }
    /// <summary>Set when a loss went NaN or infinite: "diverged at step N: ...". The run stops; its last good checkpoint stays.</summary>
    public string? Divergence { get; init; }
    public StopReason StopReason { get; init; }
    public Dictionary<string, double> Losses { get; init; } = [];
    public double ImagesPerSecond { get; init; }
    public double Seconds { get; init; }
    public double? EtaSeconds { get; init; }
    public int Seed { get; init; }
    /// <summary>How the run started: "warm start from shapes/v0001 (step 2000)" or "fresh start: " and why.</summary>
    public string? Start { get; init; }
}
