using ImageGen.Core.Models;

namespace ImageGen.Core.Sampling;

/// <summary>The one place a served generator's seeds get their own classes, for both backends and every caller.</summary>
public static class GeneratorClasses
{
    /// <summary>
    /// Each seed's own class where none is asked for, drawn as often as the training data holds it (uniformly for a model
    /// saved before its class sizes were recorded); all 0 for an unconditional model.
    /// </summary>
    public static int[] ClassesFor(this IServedGenerator generator, IReadOnlyList<long> seeds) =>
        generator.Spec.Classes > 0 ? ClassConditioning.FromSeeds(seeds, generator.Spec.Classes, generator.ClassSizes) : new int[seeds.Count];
}
