namespace ImageGen.Core.Metrics;

/// <summary>A model's near-copy share set against the share that real images training never saw reach.</summary>
public sealed record NearCopyVerdict(bool CopiesMore, double SampleLow, double UnseenHigh, string Comparison);

/// <summary>
/// Whether a model's samples are near-copies of its training images more often than new real images of the same data
/// are: the publish gate's memorization test. Both shares are counts out of a sample, so each gets a Wilson score
/// interval at <see cref="Z"/> standard errors, and the model copies more only when its interval lies wholly above the
/// unseen images' one. A few dozen unseen images give a wide interval, so on a small drop only clear copying is caught;
/// a gate tighter than the baseline's own noise would refuse good models at random.
/// </summary>
public static class NearCopyCheck
{
    /// <summary>Three standard errors: each bound is passed by chance about once in 700.</summary>
    public const double Z = 3;

    /// <summary>Null when the scores have no unseen baseline to compare with.</summary>
    public static NearCopyVerdict? Of(QualityScores scores)
    {
        if (scores.UnseenNearCopyShare is not { } unseen || scores.UnseenImages == 0 || scores.GeneratedImages == 0) return null;
        double sampleLow = Wilson(scores.NearCopyShare, scores.GeneratedImages).Low;
        double unseenHigh = Wilson(unseen, scores.UnseenImages).High;
        string comparison = $"near-copies {Percent(scores.NearCopyShare)} of {scores.GeneratedImages} samples against {Percent(unseen)} of " +
                            $"{scores.UnseenImages} real images training never saw (at least {Percent(sampleLow)} against at most {Percent(unseenHigh)})";
        return new NearCopyVerdict(sampleLow > unseenHigh, sampleLow, unseenHigh, comparison);
    }

    private static string Percent(double share) => FormattableString.Invariant($"{100 * share:0.0}%");

    /// <summary>The Wilson score interval of a share observed in n trials, at Z standard errors.</summary>
    public static (double Low, double High) Wilson(double share, int n)
    {
        double z2 = Z * Z, centre = (share + z2 / (2 * n)) / (1 + z2 / n);
        double half = Z * Math.Sqrt(share * (1 - share) / n + z2 / (4.0 * n * n)) / (1 + z2 / n);
        return (Math.Max(0, centre - half), Math.Min(1, centre + half));
    }
}
