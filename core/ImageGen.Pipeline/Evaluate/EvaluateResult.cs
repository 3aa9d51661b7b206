using ImageGen.Core.Metrics;
using ImageGen.Pipeline.Storage;

namespace ImageGen.Pipeline.Evaluate;

/// <summary>A run's scores: pixel statistics and losses in Metrics, the feature-space scores in Quality.</summary>
public sealed record EvaluateResult(Dictionary<string, double> Metrics)
{
    public QualityScores? Quality { get; init; }
    /// <summary>The dataset's latest version when the run was evaluated, scored in the same feature space; null when there was none.</summary>
    public BaselineScore? Baseline { get; init; }
    /// <summary>Why latest was not scored (another image size or channel count), or null.</summary>
    public string? BaselineNote { get; init; }
    /// <summary>Whether the extractor and the real side came from the dataset version's cache.</summary>
    public bool ReferenceCached { get; init; }
    /// <summary>Seconds spent on the real side (extractor and reference features; small when cached) and scoring the run's samples.</summary>
    public double ReferenceSeconds { get; init; }
    public double ScoringSeconds { get; init; }
}

/// <summary>A published version's FD, measured with the extractor and reference of the run it is compared with.</summary>
public sealed record BaselineScore(string Version, double Fd)
{
    /// <summary>
    /// How far that version's FD stood above the best version of its line when the gate passed it (its card's
    /// publish.fdAboveBest): 1 for a dataset's first model, one promoted or rolled back to, or one not compared.
    /// </summary>
    public double FdAboveBest { get; init; } = 1;

    /// <summary>
    /// What the next comparison carries from latest: how far it stood above the best of its line when the gate passed
    /// it; 1 when a person put it there (promote, rollback), when it was not compared, or on a card from before this was kept.
    /// </summary>
    public static double CarriedFdAboveBest(LatestPointer latest, ModelCard? latestCard) =>
        latest.Reason == LatestPointer.Published ? latestCard?.Publish?.FdAboveBest ?? 1 : 1;
}
