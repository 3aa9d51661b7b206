using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Metrics;

/// <summary>KID over subsets: the mean and standard deviation of the unbiased estimates.</summary>
public sealed record KidResult(double Mean, double StandardDeviation, int Subsets, int SubsetSize);

/// <summary>
/// Kernel Inception Distance (Bińkowski et al. 2018) over any features: the unbiased estimate of the squared MMD
/// with the cubic polynomial kernel k(x, y) = (x·y / d + 1)^3, averaged over random subsets of both sets.
/// Unbiased, so two samples of one distribution score about 0 (and may score slightly below it).
/// </summary>
public static class KernelDistance
{
    public static KidResult Between(Tensor real, Tensor fake, int subsets = 100, int subsetSize = 1000, int seed = 0)
    {
        int m = (int)Math.Min(subsetSize, Math.Min(real.shape[0], fake.shape[0]));
        if (m < 2) throw new ArgumentException("KID needs at least 2 samples on each side");
        var estimates = new double[subsets];
        using var generator = new torch.Generator((ulong)seed);
        using var scope = torch.NewDisposeScope();
        var x = real.to_type(ScalarType.Float64);
        var y = fake.to_type(ScalarType.Float64);
        double d = x.shape[1];
        for (int s = 0; s < subsets; s++)
        {
            using var inner = torch.NewDisposeScope();
            var xs = x[torch.randperm(x.shape[0], generator: generator)[..m]];
            var ys = y[torch.randperm(y.shape[0], generator: generator)[..m]];
            var kxx = (xs.matmul(xs.t()) / d + 1).pow(3);
            var kyy = (ys.matmul(ys.t()) / d + 1).pow(3);
            var kxy = (xs.matmul(ys.t()) / d + 1).pow(3);
            double sumXX = (kxx.sum() - kxx.diagonal().sum()).item<double>();
            double sumYY = (kyy.sum() - kyy.diagonal().sum()).item<double>();
            estimates[s] = (sumXX + sumYY) / (m * (m - 1.0)) - 2 * kxy.sum().item<double>() / ((double)m * m);
        }
        double mean = estimates.Average();
        double std = Math.Sqrt(estimates.Sum(e => (e - mean) * (e - mean)) / Math.Max(1, subsets - 1));
        return new KidResult(mean, std, subsets, m);
    }
}
