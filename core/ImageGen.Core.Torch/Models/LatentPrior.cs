using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Models;

/// <summary>
/// The Gaussian a VAE's decoder draws its latents from once trained, fitted to where its encoder puts the training images
/// (ex-post density estimation, Ghosh et al. 2020): z = mean_y + scale_y eps with eps ~ N(0, I), one mean and one
/// lower-triangular scale per class (one in all for an unconditional VAE). A VAE sampled from N(0, I) draws latents its
/// decoder seldom saw, and a class-conditional one draws them without regard to where its encoder put that class; the
/// fitted prior draws them where the decoder was trained.
/// It is folded into the networks when they are loaded, so every consumer (sampling, interpolation, the ONNX export,
/// reconstruction) keeps drawing eps ~ N(0, I). The means and one shared scale are linear in eps and the one-hot class and
/// fold into the decoder's first linear layer (their inverse into the encoder's mean head); scales per class are not, and
/// become the networks' class-scale step (ClassLatentScales), the one layer between eps and that linear layer.
/// Checkpoints written before the scales were per class hold one shared scale; they load and draw as they did.
/// </summary>
public sealed class LatentPrior
{
    /// <summary>[max(classes, 1), nz], row-major: each class's mean latent.</summary>
    public double[] Means { get; }
    /// <summary>
    /// [ScaleRows, nz, nz], row-major, each lower-triangular: the Cholesky factor of each class's covariance (ScaleRows =
    /// Rows), or of one covariance shared by the classes (ScaleRows = 1: every unconditional prior, and the class-conditional
    /// priors of checkpoints from before the scales were per class).
    /// </summary>
    public double[] Scales { get; }
    public int LatentSize { get; }
    public int Rows => Means.Length / LatentSize;
    public int ScaleRows => Scales.Length / (LatentSize * LatentSize);

    public LatentPrior(double[] means, double[] scales, int latentSize)
    {
        if (latentSize < 1 || means.Length == 0 || means.Length % latentSize != 0)
            throw new ArgumentException($"a latent prior for nz {latentSize} needs whole rows of means");
        int rows = means.Length / latentSize, block = latentSize * latentSize;
        if (scales.Length != block && scales.Length != rows * block)
            throw new ArgumentException($"a latent prior for nz {latentSize} with {rows} rows of means needs one {latentSize}x{latentSize} scale or {rows}, not {scales.Length} values");
        if (!means.Concat(scales).All(double.IsFinite)) throw new ArgumentException("a latent prior's means and scales must be finite");
        for (int offset = 0; offset < scales.Length; offset += block)
            for (int i = 0; i < latentSize; i++)
            {
                double diagonal = scales[offset + i * latentSize + i];
                if (!(diagonal > 0)) throw new ArgumentException($"a latent prior's scale must have a positive diagonal (scale {offset / block}'s entry {i} is {diagonal})");
                for (int j = i + 1; j < latentSize; j++)
                    if (scales[offset + i * latentSize + j] != 0) throw new ArgumentException("a latent prior's scale must be lower-triangular");
            }
        Means = means;
        Scales = scales;
        LatentSize = latentSize;
    }

    public void Write(BinaryWriter writer)
    {
        writer.Write(Rows);
        writer.Write(LatentSize);
        foreach (double value in Means) writer.Write(value);
        foreach (double value in Scales) writer.Write(value);
    }

    /// <summary>
    /// Reads a section written by <see cref="Write"/> for the spec's shape: its length tells one shared scale from one per
    /// class (they differ wherever there are classes). Anything else is InvalidDataException.
    /// </summary>
    public static LatentPrior Read(byte[] bytes, ModelSpec spec)
    {
        int rows = Math.Max(spec.Classes, 1), nz = spec.LatentSize;
        long shared = 8 + 8L * (rows * nz + (long)nz * nz), perClass = 8 + 8L * (rows * nz + (long)rows * nz * nz);
        if (bytes.Length != shared && bytes.Length != perClass)
            throw new InvalidDataException($"checkpoint: the latent prior has {bytes.Length} bytes; a {rows}-row prior for nz {nz} has {shared}" +
                                           (perClass == shared ? "" : $" (one shared scale) or {perClass} (a scale per class)"));
        using var reader = new BinaryReader(new MemoryStream(bytes, writable: false));
        if (reader.ReadInt32() != rows || reader.ReadInt32() != nz)
            throw new InvalidDataException($"checkpoint: the latent prior's shape is not the model's ({rows} rows, nz {nz})");
        var means = new double[rows * nz];
        var scales = new double[bytes.Length == shared ? nz * nz : rows * nz * nz];
        for (int i = 0; i < means.Length; i++) means[i] = reader.ReadDouble();
        for (int i = 0; i < scales.Length; i++) scales[i] = reader.ReadDouble();
        try { return new LatentPrior(means, scales, nz); }
        catch (ArgumentException e) { throw new InvalidDataException($"checkpoint: {e.Message}", e); }
    }

    /// <summary>
    /// The decoder rewritten to take eps: its input layer is W_z z + W_y y + b with z = mean_y + scale_y eps, so the means
    /// join the class columns (W_y + W_z M) or, unconditional, the bias; one shared scale folds into W_z (W_z scale), and
    /// scales per class become the decoder's class-scale step before that layer.
    /// </summary>
    public void FoldInto(VaeDecoder decoder)
    {
        var (weight, bias) = decoder.InputLayer;
        Rewrite(weight, bias, decoder.Spec, (w, b, scale, means) =>
        {
            // weight [out, nz + classes]: z's columns first, then the one-hot's.
            var wz = w[.., ..LatentSize];
            var classColumns = w[.., LatentSize..];
            var scaled = scale is null ? wz : wz.matmul(scale);
            return decoder.Spec.Classes > 0
                ? (torch.cat([scaled, classColumns + wz.matmul(means.t())], 1), b)
                : (scaled, b + wz.matmul(means[0]));
        });
        if (ScaleRows > 1) decoder.ScaleLatentsByClass(new ClassLatentScales(ScaleRows, LatentSize, [.. Scales.Select(v => (float)v)]));
    }

    /// <summary>
    /// The encoder rewritten to give eps = scale_y^-1 (mu - mean_y), so reconstruction (EncodeMean, then the folded decoder)
    /// is unchanged: the means and one shared scale fold into its mean head; scales per class become its class-scale step
    /// after that head (their inverses). Its log-variance head is left in z's units: only training reads it.
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
            // weight [nz, features (+ classes)]: mu = A h (+ B y) + c, so mu - mean_y = A h (+ (B - M^T) y) + c, or c - m
            // without classes; then one shared scale's inverse multiplies all of it.
            int features = (int)w.shape[1] - spec.Classes;
            var (a, classColumns, shift) = spec.Classes > 0 ? (w[.., ..features], w[.., features..] - means.t(), b) : (w, null, b - means[0]);
            var inverse = scale is null ? null : torch.linalg.inv(scale);
            Tensor Scaled(Tensor t) => inverse is null ? t : inverse.matmul(t);
            return classColumns is null ? (Scaled(a), Scaled(shift)) : (torch.cat([Scaled(a), Scaled(classColumns)], 1), Scaled(shift));
        });
        if (ScaleRows > 1)
        {
            using var scope = torch.NewDisposeScope();
            var inverses = torch.linalg.inv(torch.tensor(Scales, [ScaleRows, LatentSize, LatentSize], ScalarType.Float64)).to_type(ScalarType.Float32).contiguous();
            encoder.ScaleLatentsByClass(new ClassLatentScales(ScaleRows, LatentSize, inverses.data<float>().ToArray()));
        }
    }

    /// <summary>
    /// Replaces a linear layer's weight and bias with what <paramref name="fold"/> makes of them, in float64; fold is given
    /// the one shared scale, or null where the scales are per class.
    /// </summary>
    private void Rewrite(Tensor weight, Tensor bias, ModelSpec spec, Func<Tensor, Tensor, Tensor?, Tensor, (Tensor Weight, Tensor Bias)> fold)
    {
        if (spec.LatentSize != LatentSize || Math.Max(spec.Classes, 1) != Rows)
            throw new InvalidDataException($"the latent prior ({Rows} rows, nz {LatentSize}) does not fit the model (classes {spec.Classes}, nz {spec.LatentSize})");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var scale = ScaleRows == 1 ? torch.tensor(Scales, [LatentSize, LatentSize], ScalarType.Float64) : null;
        var means = torch.tensor(Means, [Rows, LatentSize], ScalarType.Float64);
        var (newWeight, newBias) = fold(weight.to_type(ScalarType.Float64), bias.to_type(ScalarType.Float64), scale, means);
        weight.copy_(newWeight.to_type(weight.dtype));
        bias.copy_(newBias.to_type(bias.dtype));
    }
}
