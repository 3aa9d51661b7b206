namespace ImageGen.Core.Models;

/// <summary>
/// How a class reaches a class-conditional generator: z followed by the class as a one-hot vector, one row per image,
/// so a batch of requests for different classes still runs as one forward pass. Where no class is asked for, the
/// class comes from the image's seed, so a sample stays a pure function of (network, seed[, class]).
/// </summary>
public static class ClassConditioning
{
    /// <summary>
    /// The class of each seed where none is asked for, from a SplitMix64 hash of the seed (plain arithmetic, apart from
    /// z's stream, and safe on any thread). With the training images per class (sizes), each class is drawn as often as
    /// the training data holds it, as the generator saw classes in training (its fakes take the real batch's classes).
    /// Without them (models saved before sizes were recorded) the draw is uniform over the classes, as it always was
    /// for those models, so their seeds keep their images.
    /// </summary>
    public static int[] FromSeeds(IReadOnlyList<long> seeds, int classes, IReadOnlyList<int> sizes)
    {
        CheckSizes(classes, sizes);
        long[]? upTo = null;
        if (sizes.Count > 0)
        {
            upTo = new long[classes];
            long total = 0;
            for (int c = 0; c < classes; c++) upTo[c] = total += sizes[c];
        }
        var picked = new int[seeds.Count];
        for (int i = 0; i < seeds.Count; i++)
        {
            ulong x = (ulong)seeds[i] + 0x9E3779B97F4A7C15UL;
            x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
            x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
            x ^= x >> 31;
            if (upTo is null) picked[i] = (int)(x % (ulong)classes);
            else
            {
                // A point in [0, total) from the hash's top bits (total is at most int.MaxValue times 100 classes), then its class.
                ulong point = (ulong)(((UInt128)x * (ulong)upTo[^1]) >> 64);
                int c = 0;
                while ((ulong)upTo[c] <= point) c++;
                picked[i] = c;
            }
        }
        return picked;
    }

    /// <summary>ArgumentException unless sizes is empty or gives every one of the classes at least one image.</summary>
    public static void CheckSizes(int classes, IReadOnlyList<int> sizes)
    {
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, "a class-conditional model has at least one class");
        if (sizes.Count > 0 && (sizes.Count != classes || sizes.Any(s => s < 1)))
            throw new ArgumentException($"class sizes ({string.Join(", ", sizes)}) must give each of the {classes} classes at least one image", nameof(sizes));
    }
}
