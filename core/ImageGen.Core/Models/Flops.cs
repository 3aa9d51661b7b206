namespace ImageGen.Core.Models;

/// <summary>
/// Analytic multiply-add counts of one forward pass per image, layer by layer from the spec
/// (convolution: output pixels x Cout x Cin x k x k; transposed: input pixels x Cin x Cout x k x k).
/// BatchNorm and activations are left out: they are a few percent of the work.
/// </summary>
public static class Flops
{
    private const long K2 = 16; // 4x4 kernels throughout

    public static long GeneratorMacs(ModelSpec spec)
    {
        long width = spec.Ngf * (1L << (spec.Stages - 1));
        return (long)spec.LatentSize * width * K2 /* 1x1 -> 4x4 */ + UpsamplingMacs(spec, width);
    }

    /// <summary>The VAE decoder's linear z -> 4x4 layer costs what the generator's first transposed convolution does.</summary>
    public static long DecoderMacs(ModelSpec spec) => GeneratorMacs(spec);

    public static long DiscriminatorMacs(ModelSpec spec)
    {
        var (macs, width) = DownsamplingMacs(spec);
        return macs + width * K2; // 4x4 -> one logit
    }

    public static long EncoderMacs(ModelSpec spec)
    {
        var (macs, width) = DownsamplingMacs(spec);
        return macs + 2L * (width * 16 + (spec.ConditionalEncoder ? spec.Classes : 0)) * spec.LatentSize; // mu and log-variance heads, with the class where conditional
    }

    private static long UpsamplingMacs(ModelSpec spec, long width)
    {
        long macs = 0, resolution = 4;
        for (int i = 1; i < spec.Stages; i++, width /= 2, resolution *= 2)
            macs += resolution * resolution * width * (width / 2) * K2;
        return macs + resolution * resolution * width * spec.Channels * K2;
    }

    private static (long macs, long width) DownsamplingMacs(ModelSpec spec)
    {
        long resolution = spec.ImageSize / 2, width = spec.Ndf;
        long macs = resolution * resolution * width * spec.Channels * K2;
        for (int i = 1; i < spec.Stages; i++)
        {
            resolution /= 2;
            macs += resolution * resolution * (width * 2) * width * K2;
            width *= 2;
        }
        return (macs, width);
    }
}
