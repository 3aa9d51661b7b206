using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Metrics;

/// <summary>Every quality number of one model against one reference set, with the extractor that made them.</summary>
public sealed record QualityScores
{
    public required string ExtractorId { get; init; }
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

    /// <summary>All the metrics from features: reference (held-out real), generated, and the training set for memorization.</summary>
    public static QualityScores From(ExtractorInfo extractor, Tensor reference, Tensor generated, Tensor training, int kidSubsets = 100)
    {
        var kid = KernelDistance.Between(reference, generated, subsets: kidSubsets);
        var pr = PrecisionRecall.Between(reference, generated);
        var copies = Memorization.Of(training, generated);
        return new QualityScores
        {
            ExtractorId = extractor.Id, ExtractorTestAccuracy = extractor.TestAccuracy,
            ReferenceImages = (int)reference.shape[0], GeneratedImages = (int)generated.shape[0],
            Fd = FrechetDistance.Between(reference, generated), KidMean = kid.Mean, KidStd = kid.StandardDeviation,
            Precision = pr.Precision, Recall = pr.Recall, NearCopyShare = copies.NearCopyShare, MedianCopyRatio = copies.MedianRatio,
        };
    }
}
