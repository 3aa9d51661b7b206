using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Metrics;

/// <summary>How close generated samples sit to the training images, against how close training images sit to each other.</summary>
public sealed record MemorizationResult(double NearCopyShare, double MedianRatio, double Threshold);

/// <summary>
/// A ratio test for copying: for a generated sample g with nearest training image t, r = d(g, t) / d(t, t'), where
/// t' is t's nearest training neighbour that is not the same image. A model that draws new images lands about as far
/// from the data as the data's points are from each other (r near 1 or above); a copy lands much closer (r near 0).
/// A sample with r below Threshold (0.5 by default) counts as a near-copy. Training images that appear more than once
/// are not each other's neighbours: their distance of about 0 would make every sample near them look new, and
/// repeated images are the ones a model copies first.
/// </summary>
public static class Memorization
{
    public static MemorizationResult Of(Tensor training, Tensor generated, double threshold = 0.5)
    {
        using var scope = torch.NewDisposeScope();
        var t = training.to_type(ScalarType.Float32);
        var g = generated.to_type(ScalarType.Float32);
        var (distance, index) = NearestNeighbours.Nearest(g, t);
        // Only the training images that are some sample's nearest need their own nearest-neighbour distance.
        var (used, position, _) = torch.unique(index, return_inverse: true);
        var ownNearest = NearestNeighbours.NearestDistinct(t[used], t);
        // An image with no other distinct image (a drop of one image, repeated) has an infinite distance: every sample near it is a copy.
        var ratio = distance / ownNearest[position!].clamp_min(1e-12);
        double share = ratio.lt(threshold).to_type(ScalarType.Float64).mean().item<double>();
        double median = ratio.median().item<float>();
        return new MemorizationResult(share, median, threshold);
    }
}
