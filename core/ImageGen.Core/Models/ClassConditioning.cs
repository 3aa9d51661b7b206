using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Models;

/// <summary>
/// How a class reaches a class-conditional generator: z followed by the class as a one-hot vector, one row per image,
/// so a batch of requests for different classes still runs as one forward pass. Where no class is asked for, the
/// class comes from the image's seed, so a sample stays a pure function of (network, seed[, class]).
/// </summary>
public static class ClassConditioning
{
    /// <summary>[n, nz] latents and int64 [n] classes to the generator's [n, nz + classes] input.</summary>
    public static Tensor Append(Tensor z, Tensor labels, int classes)
    {
        using var oneHot = torch.nn.functional.one_hot(labels, classes);
        using var asFloat = oneHot.to_type(z.dtype);
        return torch.cat([z, asFloat], 1);
    }

    /// <summary>The generator's input for latents z: z itself for an unconditional model; else z with the given classes.</summary>
    public static Tensor Inputs(ModelSpec spec, Tensor z, IReadOnlyList<int> classes)
    {
        if (spec.Classes == 0) return z.alias();
        if (classes.Count != z.shape[0]) throw new ArgumentException($"{classes.Count} classes for {z.shape[0]} latents");
        if (classes.Any(c => c < 0 || c >= spec.Classes))
            throw new ArgumentOutOfRangeException(nameof(classes), $"classes lie in 0..{spec.Classes - 1}");
        using var labels = torch.tensor(classes.Select(c => (long)c).ToArray(), ScalarType.Int64);
        return Append(z, labels, spec.Classes);
    }

    /// <summary>
    /// The class of each seed where none is asked for: uniform over the classes, from a SplitMix64 hash of the seed (plain
    /// arithmetic, apart from z's stream, and safe on any thread).
    /// </summary>
    public static int[] FromSeeds(IReadOnlyList<long> seeds, int classes)
    {
        var picked = new int[seeds.Count];
        for (int i = 0; i < seeds.Count; i++)
        {
            ulong x = (ulong)seeds[i] + 0x9E3779B97F4A7C15UL;
            x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
            x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
            x ^= x >> 31;
            picked[i] = (int)(x % (ulong)classes);
        }
        return picked;
    }
}
