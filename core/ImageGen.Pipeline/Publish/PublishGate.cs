using ImageGen.Core.Metrics;
using ImageGen.Core.Training;
using ImageGen.Pipeline.Evaluate;
using ImageGen.Pipeline.Storage;

namespace ImageGen.Pipeline.Publish;

/// <summary>
/// Whether a finished run becomes latest. always: yes. manual: never by itself. ifBetter: when its samples are not
/// near-copies of its training images more often than real images training never saw (NearCopyCheck; FD against the
/// training images would reward a model that copies them), and then when there is no latest to beat, when the two
/// cannot be compared, or when the run's FD is at most (1 + tolerance) times latest's FD measured in the same feature
/// space, times how far latest already stood above the best version of its line (BaselineScore.FdAboveBest, kept in the
/// cards as PublishDecision.FdAboveBest), so a
/// chain of runs each within the tolerance of the last cannot drift further than the tolerance from the best;
/// otherwise the run is published as a candidate. A score that is not a finite number never passes.
/// </summary>
public static class PublishGate
{
    public static PublishDecision Decide(PublishPolicy policy, QualityScores? quality, BaselineScore? baseline, string? baselineNote, string version, string dataset)
    {
        string promote = $"promote it with POST /api/datasets/{dataset}/models/{version}/promote";
        var decision = new PublishDecision
        {
            Policy = policy.Mode, Passed = true, Reason = "", BaselineVersion = baseline?.Version, BaselineFd = baseline?.Fd,
        };
        if (policy.Mode == PublishMode.Always) return decision with { Reason = "publish: always" };
        if (policy.Mode == PublishMode.Manual) return decision with { Passed = false, Reason = $"publish: manual; kept as a candidate: {promote}" };
        var copies = quality is null ? null : NearCopyCheck.Of(quality);
        if (copies is { CopiesMore: true })
            return decision with { Passed = false, Reason = $"{copies.Comparison}: it copies its training images, so kept as a candidate; {promote}" };
        // A run that passes says so for the copy check too, where there was one.
        string notCopying = copies is null ? "" : $"; {copies.Comparison}: not copying";
        if (baseline is null)
            return decision with { Reason = (baselineNote is null ? "the dataset's first model" : $"{baselineNote}; published as latest") + notCopying };
        if (quality is null) return decision with { Reason = "the run has no quality score to compare; published as latest" };
        if (!double.IsFinite(quality.Fd))
            return decision with { Passed = false, Reason = $"the run's FD is {quality.Fd}, not a number to compare, so kept as a candidate; {promote}" };
        if (!double.IsFinite(baseline.Fd))
            return decision with { Reason = $"latest {baseline.Version}'s FD is {baseline.Fd}, so the two cannot be compared; published as latest{notCopying}" };
        double carried = double.IsFinite(baseline.FdAboveBest) ? Math.Max(1, baseline.FdAboveBest) : 1;
        double ratio = baseline.Fd > 0 ? quality.Fd / baseline.Fd : quality.Fd > 0 ? double.PositiveInfinity : 1;
        double aboveBest = Math.Max(1, carried * ratio);
        string comparison = $"FD {quality.Fd:0.00} against latest {baseline.Version}'s {baseline.Fd:0.00} (same extractor, tolerance {100 * policy.Tolerance:0.#}%" +
                            (carried > 1 ? $", latest already {100 * (carried - 1):0.0}% above the best of its line)" : ")");
        // A run no worse than latest always passes (the budget may have been spent under a wider tolerance), and rounding
        // must not turn an FD exactly at the tolerance into a rejection.
        return ratio <= 1 || aboveBest <= (1 + policy.Tolerance) * (1 + 1e-12)
            ? decision with { FdAboveBest = aboveBest, Reason = $"{comparison}: not worse{notCopying}" }
            : decision with { FdAboveBest = aboveBest, Passed = false, Reason = $"{comparison}: worse, so kept as a candidate; {promote}" };
    }
}
