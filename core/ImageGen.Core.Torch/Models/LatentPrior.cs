using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Models;

/// <summary>
/// The Gaussian a VAE's decoder draws its latents from once trained, fitted to where its encoder puts the training images
/// (ex-post density estimation, Ghosh et al. 2020): z = mean_y + scale eps with eps ~ N(0, I), one mean per class (one in
/// all for an unconditional VAE) and one lower-triangular scale shared by the classes. A VAE sampled from N(0, I) draws
/// latents its decoder seldom saw, and a class-conditional one draws them without regard to the class its encoder left
/// in z; the fitted prior draws them where the decoder was trained.
/// Being linear in eps and in the one-hot class, it folds into the decoder's first linear layer (and its inverse into the
/// encoder's mean head), so every consumer of the networks (sampling, interpolation, the ONNX and the plain-layer
/// exports, reconstruction) keeps drawing eps ~ N(0, I) and needs no change.
/// </summary>
public sealed class LatentPrior
{
    /// <summary>[max(classes, 1), nz], row-major: each class's mean latent.</summary>
    public double[] Means { get; }
    /// <summary>[nz, nz], row-major, lower-triangular: the Cholesky factor of the shared covariance.</summary>
    public double[] Scale { get; }
    public int LatentSize { get; }
    public int Rows => Means.Length / LatentSize;

    public LatentPrior(double[] means, double[] scale, int latentSize)
    {
        if (latentSize < 1 || scale.Length != latentSize * latentSize || means.Length == 0 || means.Length % latentSize != 0)
            throw new ArgumentException($"a latent prior for nz {latentSize} needs a {latentSize}x{latentSize} scale and whole rows of means");
        if (!means.Concat(scale).All(double.IsFinite)) throw new ArgumentException("a latent prior's means and scale must be finite");
        for (int i = 0; i < latentSize; i++)
        {
            if (!(scale[i * latentSize + i] > 0)) throw new ArgumentException($"a latent prior's scale must have a positive diagonal (entry {i} is {scale[i * latentSize + i]})");
            for (int j = i + 1; j < latentSize; j++)
                if (scale[i * latentSize + j] != 0) throw new ArgumentException("a latent prior's scale must be lower-triangular");
        }
        Means = means;
        Scale = scale;
        LatentSize = latentSize;
    }

    public void Write(BinaryWriter writer)
    {
        writer.Write(Rows);
        writer.Write(LatentSize);
        foreach (double value in Means) writer.Write(value);
        foreach (double value in Scale) writer.Write(value);
    }

    /// <summary>Reads a section written by <see cref="Write"/> for the spec's shape; anything else is InvalidDataException.</summary>
    public static LatentPrior Read(byte[] bytes, ModelSpec spec)
    {
        int rows = Math.Max(spec.Classes, 1), nz = spec.LatentSize;
        long expected = 8 + 8L * (rows * nz + (long)nz * nz);
        if (bytes.Length != expected)
            throw new InvalidDataException($"checkpoint: the latent prior has {bytes.Length} bytes; a {rows}-row prior for nz {nz} has {expected}");
        using var reader = new BinaryReader(new MemoryStream(bytes, writable: false));
        if (reader.ReadInt32() != rows || reader.ReadInt32() != nz)
            throw new InvalidDataException($"checkpoint: the latent prior's shape is not the model's ({rows} rows, nz {nz})");
        var means = new double[rows * nz];
        var scale = new double[nz * nz];
        for (int i = 0; i < means.Length; i++) means[i] = reader.ReadDouble();
        for (int i = 0; i < scale.Length; i++) scale[i] = reader.ReadDouble();
        try { return new LatentPrior(means, scale, nz); }
        catch (ArgumentException e) { throw new InvalidDataException($"checkpoint: {e.Message}", e); }
    }

    /// <summary>
    /// The decoder's input layer rewritten to take eps: its input is W_z z + W_y y + b with z = mean_y + scale eps, so
    /// W_z becomes W_z scale, and the means join the class columns (W_y + W_z M) or, unconditional, the bias.
    /// </summary>
    public void FoldInto(VaeDecoder decoder)
    {
        var (weight, bias) = decoder.InputLayer;
        Rewrite(weight, bias, decoder.Spec, (w, b, scale, means) =>
        {
            // weight [out, nz + classes]: z's columns first, then the one-hot's.
            var wz = w[.., ..LatentSize];
            var classColumns = w[.., LatentSize..];
            return decoder.Spec.Classes > 0
                ? (torch.cat([wz.matmul(scale), classColumns + wz.matmul(means.t())], 1), b)
                : (wz.matmul(scale), b + wz.matmul(means[0]));
        });
    }

    /// <summary>
    /// The encoder's mean head rewritten to give eps = scale^-1 (mu - mean_y), so reconstruction (EncodeMean, then the
    /// folded decoder) is unchanged. Its log-variance head is left in z's units: only training reads it.
    /// </summary>
    public void FoldInto(VaeEncoder encoder)
    {
        var spec = encoder.Spec;
        // An encoder without the class (q(z | x)) cannot subtract its class's mean.
        if (spec.Classes > 0 && !spec.ConditionalEncoder)
            throw new InvalidDataException("a latent prior with class means needs an encoder that takes the class");
        var (weight, bias) = encoder.MeanHead;
        Rewrite(weight, bias, spec, (w, b, scale, means) =>
        {
            // weight [nz, features (+ classes)]: mu = A h (+ B y) + c, so eps = L^-1 A h (+ L^-1 (B - M^T) y) + L^-1 c,
            // or L^-1 (c - m) without classes.
            var inverseScale = torch.linalg.inv(scale);
            int features = (int)w.shape[1] - spec.Classes;
            var a = inverseScale.matmul(w[.., ..features]);
            return spec.Classes > 0
                ? (torch.cat([a, inverseScale.matmul(w[.., features..] - means.t())], 1), inverseScale.matmul(b))
                : (a, inverseScale.matmul(b - means[0]));
        });
    }

    /// <summary>Replaces a linear layer's weight and bias with what <paramref name="fold"/> makes of them, in float64.</summary>
    private void Rewrite(Tensor weight, Tensor bias, ModelSpec spec, Func<Tensor, Tensor, Tensor, Tensor, (Tensor Weight, Tensor Bias)> fold)
    {
        if (spec.LatentSize != LatentSize || Math.Max(spec.Classes, 1) != Rows)
            throw new InvalidDataException($"the latent prior ({Rows} rows, nz {LatentSize}) does not fit the model (classes {spec.Classes}, nz {spec.LatentSize})");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var scale = torch.tensor(Scale, [LatentSize, LatentSize], ScalarType.Float64);
        var means = torch.tensor(Means, [Rows, LatentSize], ScalarType.Float64);
        var (newWeight, newBias) = fold(weight.to_type(ScalarType.Float64), bias.to_type(ScalarType.Float64), scale, means);
        weight.copy_(newWeight.to_type(weight.dtype));
        bias.copy_(newBias.to_type(bias.dtype));
    }
}
