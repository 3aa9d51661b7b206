using ImageGen.Core.Metrics;
using ImageGen.Core.Training;
using ImageGen.Pipeline.Evaluate;

namespace ImageGen.Pipeline.Publish;

public sealed record PublishRequest(string Dataset, string RunId, string DatasetVersion, Dictionary<string, double> Metrics, long Steps)
{
    public QualityScores? Quality { get; init; }
    /// <summary>Latest as the evaluation found and scored it; null when there was none.</summary>
    public BaselineScore? Baseline { get; init; }
    public string? BaselineNote { get; init; }
    public PublishPolicy Policy { get; init; } = new();
}
