namespace ImageGen.Core.Models;

/// <summary>
/// How a class reaches a class-conditional generator: z followed by the class as a one-hot vector, one row per image,
/// so a batch of requests for different classes still runs as one forward pass. Where no class is asked for, the
/// class comes from the image's seed, so a sample stays a pure function of (network, seed[, class]).
/// </summary>
public static class ClassConditioning
{
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
