namespace ImageGen.Core.Metrics;

/// <summary>Every quality number of one model against one reference set, with the extractor that made them.</summary>
public sealed record QualityScores
{
    public required string ExtractorId { get; init; }
    /// <summary>classifier or contrastive (see ExtractorInfo.Kind).</summary>
    public string ExtractorKind { get; init; } = ClassifierExtractor;
    public const string ClassifierExtractor = "classifier";
    public const string ContrastiveExtractor = "contrastive";
    /// <summary>The classifier's accuracy on its test set; 0 for a contrastive extractor, which has none.</summary>
    public double ExtractorTestAccuracy { get; init; }
    public int ReferenceImages { get; init; }
    public int GeneratedImages { get; init; }
    /// <summary>Fréchet distance in the extractor's feature space (lower is better).</summary>
    public double Fd { get; init; }
    public double KidMean { get; init; }
    public double KidStd { get; init; }
    public double Precision { get; init; }
    public double Recall { get; init; }
    /// <summary>Share of generated images much closer to a training image than training images are to each other.</summary>
    public double NearCopyShare { get; init; }
    public double MedianCopyRatio { get; init; }
    /// <summary>
    /// Real images that training never saw (a drop's held-out images, or the reference images where they are held out),
    /// scored by the same memorization test: the near-copy share new images of this data reach. 0: there were none.
    /// </summary>
    public int UnseenImages { get; init; }
    public double? UnseenNearCopyShare { get; init; }
    public double? UnseenMedianCopyRatio { get; init; }

    /// <summary>The first seed of the images drawn for scoring: far from the 0..63 of published grids.</summary>
    public const long FirstSeed = 1_000_000;

    /// <summary>One line for logs and the CLI.</summary>
    public override string ToString() =>
        $"FD {Fd:0.00}  KID {KidMean:0.0000} ± {KidStd:0.0000}  precision {Precision:0.000}  recall {Recall:0.000}  " +
        $"near-copies {NearCopyShare:P2} (median ratio {MedianCopyRatio:0.00})" +
        (UnseenNearCopyShare is { } unseen ? $", {UnseenImages} unseen real images {unseen:P2} (median ratio {UnseenMedianCopyRatio:0.00})" : "");
}
