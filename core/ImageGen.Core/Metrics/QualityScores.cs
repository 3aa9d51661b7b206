using ImageGen.Core.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Metrics;

/// <summary>Every quality number of one model against one reference set, with the extractor that made them.</summary>
public sealed record QualityScores
{
    public required string ExtractorId { get; init; }
    /// <summary>classifier or contrastive (see ExtractorInfo.Kind).</summary>
    public string ExtractorKind { get; init; } = ExtractorInfo.ClassifierKind;
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

    /// <summary>The first seed of the images drawn for scoring: far from the 0..63 of published grids.</summary>
    public const long FirstSeed = 1_000_000;

    /// <summary>All the metrics of generated features against a reference (held-out or training images, and the training set for memorization).</summary>
    public static QualityScores From(ExtractorInfo extractor, QualityReference reference, Tensor generated, int kidSubsets = 100)
    {
        if (reference.ExtractorId != extractor.Id)
            throw new ArgumentException($"the reference was computed with extractor {reference.ExtractorId}, not {extractor.Id}");
        var kid = KernelDistance.Between(reference.Reference, generated, subsets: kidSubsets);
        var pr = PrecisionRecall.Between(reference.Reference, generated);
        var copies = Memorization.Of(reference.Training, generated);
        return new QualityScores
        {
            ExtractorId = extractor.Id, ExtractorKind = extractor.Kind, ExtractorTestAccuracy = extractor.TestAccuracy,
            ReferenceImages = (int)reference.Reference.shape[0], GeneratedImages = (int)generated.shape[0],
            Fd = FrechetDistance.Between(reference.ReferenceFit, GaussianFit.Of(generated)), KidMean = kid.Mean, KidStd = kid.StandardDeviation,
            Precision = pr.Precision, Recall = pr.Recall, NearCopyShare = copies.NearCopyShare, MedianCopyRatio = copies.MedianRatio,
        };
    }

    /// <summary>Scores count images drawn from a generator (seeds FirstSeed onwards).</summary>
    public static QualityScores Of(ImageSampler sampler, FeatureExtractor extractor, QualityReference reference, int count, CancellationToken cancellationToken = default)
    {
        using var generated = GeneratedFeatures(sampler, extractor, count, cancellationToken);
        return From(extractor.Info, reference, generated);
    }

    /// <summary>Features of count generated images, drawn and extracted 500 at a time so memory stays bounded.</summary>
    public static Tensor GeneratedFeatures(ImageSampler sampler, FeatureExtractor extractor, int count, CancellationToken cancellationToken = default)
    {
        var parts = new List<Tensor>();
        for (int start = 0; start < count; start += 500)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var images = sampler.Generate(Seeds.Range(FirstSeed + start, Math.Min(500, count - start)));
            parts.Add(extractor.Extract(images));
        }
        var all = torch.cat(parts, 0);
        foreach (var p in parts) p.Dispose();
        return all;
    }

    /// <summary>One line for logs and the CLI.</summary>
    public override string ToString() =>
        $"FD {Fd:0.00}  KID {KidMean:0.0000} ± {KidStd:0.0000}  precision {Precision:0.000}  recall {Recall:0.000}  " +
        $"near-copies {NearCopyShare:P2} (median ratio {MedianCopyRatio:0.00})";
}
