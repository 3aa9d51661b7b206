using ImageGen.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Sampling;

/// <summary>A generator's inputs as tensors: z per seed (LatentNoise's values), and the class as a one-hot vector after z (ClassConditioning).</summary>
public static class GeneratorTensors
{
    /// <summary>z for each seed, [n, nz]: a standard normal vector drawn as libtorch's randn draws it from a generator seeded with that seed alone (LatentNoise).</summary>
    public static Tensor Latents(IReadOnlyList<long> seeds, int latentSize) => torch.tensor(LatentNoise.Draw(seeds, latentSize), [seeds.Count, latentSize]);

    /// <summary>[n, nz] latents and int64 [n] classes to the generator's [n, nz + classes] input.</summary>
    public static Tensor AppendClasses(Tensor z, Tensor labels, int classes)
    {
        using var oneHot = torch.nn.functional.one_hot(labels, classes);
        using var asFloat = oneHot.to_type(z.dtype);
        return torch.cat([z, asFloat], 1);
    }

    /// <summary>The generator's input for latents z: z itself for an unconditional model; else z with the given classes.</summary>
    public static Tensor Inputs(ModelSpec spec, Tensor z, IReadOnlyList<int> classes)
    {
        if (spec.Classes == 0) return z.alias();
        using var labels = Labels(spec, classes, z.shape[0]);
        return AppendClasses(z, labels, spec.Classes);
    }

    /// <summary>One class per row of a batch of count, as int64 [count]; ArgumentException where the count or a class does not fit the model.</summary>
    public static Tensor Labels(ModelSpec spec, IReadOnlyList<int> classes, long count)
    {
        if (classes.Count != count) throw new ArgumentException($"{classes.Count} classes for {count} rows");
        if (classes.Any(c => c < 0 || c >= spec.Classes))
            throw new ArgumentOutOfRangeException(nameof(classes), $"classes lie in 0..{spec.Classes - 1}");
        return torch.tensor(classes.Select(c => (long)c).ToArray(), ScalarType.Int64);
    }
}
