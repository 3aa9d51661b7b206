using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Metrics;

public sealed record PrecisionRecallResult(double Precision, double Recall, int K);

/// <summary>
/// Improved precision and recall (Kynkäänniemi et al. 2019): each set's manifold is the union of balls around its
/// points with radius the distance to the k-th nearest neighbour in the same set. Precision is the share of
/// generated samples inside the real manifold (fidelity); recall the share of real samples inside the generated
/// one (coverage), so mode collapse shows as low recall with high precision.
/// </summary>
public static class PrecisionRecall
{
    public static PrecisionRecallResult Between(Tensor real, Tensor fake, int k = 3)
    {
        using var scope = torch.NewDisposeScope();
        var x = real.to_type(ScalarType.Float32);
        var y = fake.to_type(ScalarType.Float32);
        var realRadii = NearestNeighbours.KSmallest(x, x, k, excludeSelf: true)[.., k - 1];
        var fakeRadii = NearestNeighbours.KSmallest(y, y, k, excludeSelf: true)[.., k - 1];
        return new PrecisionRecallResult(Inside(y, x, realRadii), Inside(x, y, fakeRadii), k);
    }

    /// <summary>The share of queries within radius[j] of some point j.</summary>
    private static double Inside(Tensor queries, Tensor points, Tensor radii)
    {
        long inside = 0;
        for (long start = 0; start < queries.shape[0]; start += 1024)
        {
            using var block = torch.NewDisposeScope();
            long end = Math.Min(queries.shape[0], start + 1024);
            var covered = torch.cdist(queries.narrow(0, start, end - start), points).le(radii.unsqueeze(0)).any(1);
            inside += covered.sum().item<long>();
        }
        return (double)inside / queries.shape[0];
    }
}
