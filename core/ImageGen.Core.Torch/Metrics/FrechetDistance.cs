using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Metrics;

/// <summary>The mean and covariance of a feature set: what the Fréchet distance compares, cacheable per dataset version.</summary>
public sealed record GaussianFit(double[] Mean, double[,] Covariance, int Count)
{
    public int Dimensions => Mean.Length;

    /// <summary>Fits rows of features [n, d] (float64 inside, unbiased covariance).</summary>
    public static GaussianFit Of(Tensor features)
    {
        if (features.dim() != 2 || features.shape[0] < 2) throw new ArgumentException($"features must be [n >= 2, d], not [{string.Join(", ", features.shape)}]");
        using var scope = torch.NewDisposeScope();
        var x = features.to_type(ScalarType.Float64);
        var mean = x.mean([0]);
        var centred = x - mean;
        var covariance = centred.t().matmul(centred) / (x.shape[0] - 1);
        int d = (int)x.shape[1];
        var cov = new double[d, d];
        var flat = covariance.contiguous().data<double>().ToArray();
        Buffer.BlockCopy(flat, 0, cov, 0, flat.Length * sizeof(double));
        return new GaussianFit(mean.data<double>().ToArray(), cov, (int)x.shape[0]);
    }

    internal Tensor MeanTensor() => torch.tensor(Mean, ScalarType.Float64);

    internal Tensor CovarianceTensor()
    {
        var flat = new double[Covariance.Length];
        Buffer.BlockCopy(Covariance, 0, flat, 0, flat.Length * sizeof(double));
        return torch.tensor(flat, [Dimensions, Dimensions], ScalarType.Float64);
    }
}

/// <summary>
/// Fréchet distance between two Gaussian fits (the FID formula, over whatever features the extractor gives):
/// |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2). The trace of the square root is taken as the sum of square roots
/// of the eigenvalues of S1^1/2 S2 S1^1/2, which is symmetric, so no complex square root is needed.
/// </summary>
public static class FrechetDistance
{
    public static double Between(GaussianFit a, GaussianFit b)
    {
        if (a.Dimensions != b.Dimensions) throw new ArgumentException($"feature sizes differ: {a.Dimensions} and {b.Dimensions}");
        using var scope = torch.NewDisposeScope();
        var meanGap = (a.MeanTensor() - b.MeanTensor()).pow(2).sum().item<double>();
        var s1 = a.CovarianceTensor();
        var s2 = b.CovarianceTensor();
        var (eigenvalues, eigenvectors) = torch.linalg.eigh(s1);
        var root = eigenvectors.matmul(torch.diag(eigenvalues.clamp_min(0).sqrt())).matmul(eigenvectors.t());
        var inner = root.matmul(s2).matmul(root);
        inner = (inner + inner.t()) / 2; // symmetric up to rounding
        double traceRoot = torch.linalg.eigvalsh(inner).clamp_min(0).sqrt().sum().item<double>();
        double value = meanGap + s1.trace().item<double>() + s2.trace().item<double>() - 2 * traceRoot;
        return Math.Max(0, value);
    }

    public static double Between(Tensor realFeatures, Tensor fakeFeatures) => Between(GaussianFit.Of(realFeatures), GaussianFit.Of(fakeFeatures));
}
