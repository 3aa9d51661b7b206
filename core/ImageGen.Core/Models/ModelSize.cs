namespace ImageGen.Core.Models;

/// <summary>
/// A model's size worked out from its spec alone, before anything is allocated: the weights of its convolutions
/// and linear layers (BatchNorm's scales and shifts and the few biases are left out: well under 1% of the count).
/// Both families share the layer plan: z -> 4x4 (a transposed convolution, or the VAE decoder's linear layer of the
/// same size), stride-2 stages up to the image, and the mirror of it down (DCGAN: one logit; VAE: mu and log-variance).
/// </summary>
public static class ModelSize
{
    private const long K2 = 16; // 4x4 kernels throughout

    public static long GeneratorParameters(ModelSpec spec)
    {
        long width = spec.Ngf * (1L << (spec.Stages - 1));
        long count = (long)spec.InputSize * width * K2;
        for (int i = 1; i < spec.Stages; i++, width /= 2) count += width * (width / 2) * K2;
        return count + width * spec.Channels * K2;
    }

    /// <summary>The DCGAN discriminator, or the VAE encoder with its two heads (and its class inputs, where conditional).</summary>
    public static long CriticParameters(ModelSpec spec)
    {
        long width = spec.Ndf;
        long count = spec.Channels * width * K2;
        for (int i = 1; i < spec.Stages; i++, width *= 2) count += width * (width * 2) * K2;
        // DCGAN: the final 4x4 convolution to one logit, plus the projection's class embedding where conditional.
        // VAE: the heads, whose inputs a conditional encoder extends by the one-hot class, beside its first maps' class shifts.
        return count + (spec.Kind == ModelKind.Vae
            ? 2 * (width * K2 + EncoderClasses(spec)) * spec.LatentSize + EncoderClasses(spec) * spec.Ndf
            : width * K2 + (long)spec.Classes * width);
    }

    private static long EncoderClasses(ModelSpec spec) => spec.ConditionalEncoder ? spec.Classes : 0;

    public static long Parameters(ModelSpec spec) => GeneratorParameters(spec) + CriticParameters(spec);
}
