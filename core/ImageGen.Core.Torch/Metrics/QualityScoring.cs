using ImageGen.Core.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Metrics;

/// <summary>QualityScores computed: generated images drawn, their features extracted, and every metric against a reference.</summary>
public static class QualityScoring
{
    /// <summary>All the metrics of generated features against a reference (held-out or training images, and the training set for memorization).</summary>
    public static QualityScores From(ExtractorInfo extractor, QualityReference reference, Tensor generated, int kidSubsets = 100)
    {
        if (reference.ExtractorId != extractor.Id)
            throw new ArgumentException($"the reference was computed with extractor {reference.ExtractorId}, not {extractor.Id}");
        long notFinite;
        using (var finite = generated.isfinite().all(1)) notFinite = generated.shape[0] - finite.sum().item<long>();
        if (notFinite > 0)
            throw new NonFiniteSamplesException($"{notFinite} of {generated.shape[0]} generated images have features that are not finite numbers: the generator makes NaN or infinite pixels");
        var kid = KernelDistance.Between(reference.Reference, generated, subsets: kidSubsets);
        var pr = PrecisionRecall.Between(reference.Reference, generated);
        var copies = Memorization.Of(reference.Training, generated);
        return new QualityScores
        {
            ExtractorId = extractor.Id, ExtractorKind = extractor.Kind, ExtractorTestAccuracy = extractor.TestAccuracy,
            ReferenceImages = (int)reference.Reference.shape[0], GeneratedImages = (int)generated.shape[0],
            Fd = FrechetDistance.Between(reference.ReferenceFit, GaussianFit.Of(generated)), KidMean = kid.Mean, KidStd = kid.StandardDeviation,
            Precision = pr.Precision, Recall = pr.Recall, NearCopyShare = copies.NearCopyShare, MedianCopyRatio = copies.MedianRatio,
            UnseenImages = reference.Unseen?.Images ?? 0, UnseenNearCopyShare = reference.Unseen?.NearCopyShare,
            UnseenMedianCopyRatio = reference.Unseen?.MedianRatio,
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
        try
        {
            for (int start = 0; start < count; start += 500)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var images = sampler.Generate(Seeds.Range(QualityScores.FirstSeed + start, Math.Min(500, count - start)));
                parts.Add(extractor.Extract(images));
            }
            return torch.cat(parts, 0);
        }
        finally { foreach (var p in parts) p.Dispose(); } // also when cancelled part-way
    }

}

/// <summary>Generated images whose features are NaN or infinite: they have no score, and no gate may compare one.</summary>
public sealed class NonFiniteSamplesException(string message) : InvalidOperationException(message);
