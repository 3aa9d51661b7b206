namespace ImageGen.Core.Sampling;

/// <summary>
/// What one request feeds a generator: latents [Count, nz] row-major (truncation applied) and the class of each image
/// (all 0 for an unconditional model). Plain arrays, so any backend and any thread can take them.
/// </summary>
public sealed record GeneratorInputs(float[] Latents, int[] Classes, int Count)
{
    /// <summary>Requests' inputs end to end, in order: one forward pass for all of them.</summary>
    public static GeneratorInputs Concat(IReadOnlyList<GeneratorInputs> parts) => parts.Count == 1 ? parts[0]
        : new GeneratorInputs([.. parts.SelectMany(p => p.Latents)], [.. parts.SelectMany(p => p.Classes)], parts.Sum(p => p.Count));
}
