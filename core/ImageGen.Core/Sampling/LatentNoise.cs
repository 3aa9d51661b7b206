namespace ImageGen.Core.Sampling;

/// <summary>
/// Each image's z drawn the way libtorch's CPU randn draws [1, nz] from a generator seeded with the image's seed, in
/// plain C#: a Mersenne Twister (MT19937, 32-bit seed), 24-bit uniform floats, and Box-Muller, in libtorch's order. So a
/// sampler without libtorch (ONNX Runtime) gives the same images for the same seeds. libtorch takes nz of 16 or more
/// in blocks of 16 (cosines in the first 8 slots, sines in the next 8, the last block redrawn when nz is not a multiple
/// of 16) in float; below 16 it draws one double pair per two values. Its vectorised kernels compute the logarithm and
/// sine with their own approximations, so values can differ from these in the last bits (LatentNoiseTests bounds it).
/// </summary>
public static class LatentNoise
{
    /// <summary>[seeds.Count, latentSize] row-major: row i is seed i's z.</summary>
    public static float[] Draw(IReadOnlyList<long> seeds, int latentSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(latentSize, 1);
        var z = new float[seeds.Count * latentSize];
        for (int i = 0; i < seeds.Count; i++) DrawOne(seeds[i], z.AsSpan(i * latentSize, latentSize));
        return z;
    }

    /// <summary>One seed's z into row.</summary>
    public static void DrawOne(long seed, Span<float> row)
    {
        if (seed < 0 || seed > Seeds.MaxSeed) throw new ArgumentOutOfRangeException(nameof(seed), seed, $"seeds lie in 0..{Seeds.MaxSeed}");
        var twister = new MersenneTwister((uint)seed);
        if (row.Length >= 16) FillInBlocks(ref twister, row);
        else FillInPairs(ref twister, row);
    }

    private static void FillInBlocks(ref MersenneTwister twister, Span<float> row)
    {
        for (int i = 0; i < row.Length; i++) row[i] = twister.NextFloat();
        for (int i = 0; i + 16 <= row.Length; i += 16) BoxMuller16(row.Slice(i, 16));
        if (row.Length % 16 != 0)
        {
            var last = row[^16..];
            for (int i = 0; i < 16; i++) last[i] = twister.NextFloat();
            BoxMuller16(last);
        }
    }

    /// <summary>Slots j and j + 8 hold two uniforms; they become radius times the cosine and the sine of one angle.</summary>
    private static void BoxMuller16(Span<float> block)
    {
        for (int j = 0; j < 8; j++)
        {
            float u1 = 1 - block[j]; // [0, 1) to (0, 1] for the logarithm
            float u2 = block[j + 8];
            float radius = MathF.Sqrt(-2 * MathF.Log(u1));
            float theta = (float)(2.0 * Math.PI * u2);
            block[j] = radius * MathF.Cos(theta);
            block[j + 8] = radius * MathF.Sin(theta);
        }
    }

    /// <summary>Under 16 values: each pair from two 53-bit uniforms, in double, the cosine first and the sine kept for the next value.</summary>
    private static void FillInPairs(ref MersenneTwister twister, Span<float> row)
    {
        double? cached = null;
        for (int i = 0; i < row.Length; i++)
        {
            if (cached is { } sine)
            {
                row[i] = (float)sine;
                cached = null;
                continue;
            }
            double u1 = twister.NextDouble(), u2 = twister.NextDouble();
            double radius = Math.Sqrt(-2.0 * Math.Log(1 - u2));
            double theta = 2.0 * Math.PI * u1;
            cached = radius * Math.Sin(theta);
            row[i] = (float)(radius * Math.Cos(theta));
        }
    }

    /// <summary>MT19937 (Matsumoto and Nishimura 1998) with its standard 32-bit seeding.</summary>
    private struct MersenneTwister
    {
        private const int N = 624, M = 397;
        private readonly uint[] state;
        private int next;

        public MersenneTwister(uint seed)
        {
            state = new uint[N];
            state[0] = seed;
            for (uint i = 1; i < N; i++) state[i] = 1812433253u * (state[i - 1] ^ (state[i - 1] >> 30)) + i;
            next = N;
        }

        public uint NextUInt32()
        {
            if (next >= N) Twist();
            uint y = state[next++];
            y ^= y >> 11;
            y ^= (y << 7) & 0x9D2C5680u;
            y ^= (y << 15) & 0xEFC60000u;
            return y ^ (y >> 18);
        }

        /// <summary>[0, 1) from the low 24 bits of one draw (a float's precision).</summary>
        public float NextFloat() => (NextUInt32() & 0xFFFFFF) * (1.0f / (1 << 24));

        /// <summary>[0, 1) from the low 53 bits of two draws, the first as the high word.</summary>
        public double NextDouble()
        {
            ulong high = NextUInt32(), low = NextUInt32();
            return (((high << 32) | low) & ((1UL << 53) - 1)) * (1.0 / (1UL << 53));
        }

        private void Twist()
        {
            for (int i = 0; i < N; i++)
            {
                uint y = (state[i] & 0x80000000u) | (state[(i + 1) % N] & 0x7FFFFFFFu);
                state[i] = state[(i + M) % N] ^ (y >> 1) ^ ((y & 1) != 0 ? 0x9908B0DFu : 0u);
            }
            next = 0;
        }
    }
}
