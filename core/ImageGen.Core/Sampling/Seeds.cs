namespace ImageGen.Core.Sampling;

/// <summary>Seed lists as stylegan2-ada's generate.py takes them: "1,5,7", "10-20" or a mix ("1,3-5").</summary>
public static class Seeds
{
    public const long MaxSeed = uint.MaxValue;

    public static IReadOnlyList<long> Parse(string text, int maxCount)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new FormatException("seed list is empty; give e.g. 1,5,7 or 10-20");
        var seeds = new List<long>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            int dash = part.IndexOf('-', 1);
            if (dash > 0)
            {
                long from = ParseOne(part[..dash]), to = ParseOne(part[(dash + 1)..]);
                if (to < from) throw new FormatException($"seed range '{part}' runs backwards");
                if (seeds.Count + (to - from + 1) > maxCount)
                    throw new FormatException($"seed list has more than {maxCount} seeds");
                for (long s = from; s <= to; s++) seeds.Add(s);
            }
            else
            {
                seeds.Add(ParseOne(part));
                if (seeds.Count > maxCount) throw new FormatException($"seed list has more than {maxCount} seeds");
            }
        }
        if (seeds.Count == 0) throw new FormatException($"seed list '{text}' names no seeds; give e.g. 1,5,7 or 10-20");
        return seeds;
    }

    /// <summary>count consecutive seeds from first: image i of a request is the same whatever the count.</summary>
    public static IReadOnlyList<long> Range(long first, int count)
    {
        if (first < 0 || first + count - 1 > MaxSeed) throw new FormatException($"seeds {first}..{first + count - 1} are outside 0..{MaxSeed}");
        return Enumerable.Range(0, count).Select(i => first + i).ToArray();
    }

    private static long ParseOne(string text)
    {
        if (!long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long seed) || seed > MaxSeed)
            throw new FormatException($"seed '{text}' is not an integer in 0..{MaxSeed}");
        return seed;
    }

    /// <summary>Spherical interpolation from a to b ([nz] each) in steps points, both ends included: [steps, nz] row-major.</summary>
    public static float[] Slerp(ReadOnlySpan<float> a, ReadOnlySpan<float> b, int steps)
    {
        if (a.Length != b.Length) throw new ArgumentException($"ends of {a.Length} and {b.Length} values");
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        double dot = 0, normA = 0, normB = 0;
        for (int i = 0; i < a.Length; i++) { dot += a[i] * b[i]; normA += a[i] * a[i]; normB += b[i] * b[i]; }
        double omega = Math.Acos(Math.Clamp(dot / Math.Sqrt(normA * normB), -1, 1)), sinOmega = Math.Sin(omega);
        var path = new float[steps * a.Length];
        for (int s = 0; s < steps; s++)
        {
            double t = steps == 1 ? 0 : (double)s / (steps - 1);
            // Nearly parallel ends: linear interpolation, where the spherical weights' division would blow up.
            double wa = sinOmega < 1e-6 ? 1 - t : Math.Sin((1 - t) * omega) / sinOmega, wb = sinOmega < 1e-6 ? t : Math.Sin(t * omega) / sinOmega;
            for (int i = 0; i < a.Length; i++) path[s * a.Length + i] = (float)(wa * a[i] + wb * b[i]);
        }
        return path;
    }
}
