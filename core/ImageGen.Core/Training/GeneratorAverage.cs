using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Training;

/// <summary>
/// An exponential moving average of a generator's weights (G_ema, as StyleGAN2-ADA keeps it), with the half-life counted
/// in training images: after each step, ema = beta * ema + (1 - beta) * g with beta = 0.5^(batch / halfLife). BatchNorm's
/// running statistics are averaged the same way, so they stay close to the weights they belong to. Sampling from it
/// smooths out the step-to-step wobble of adversarial training. As in StyleGAN2-ADA, the half-life ramps up with the
/// images seen (at most RampUp x images seen), so early in training the average follows the generator closely instead
/// of holding on to its random start. The images seen travel in the checkpoint, so a resumed run averages as an
/// uninterrupted one does.
/// </summary>
public sealed class GeneratorAverage
{
    private readonly (Tensor Source, Tensor Average)[] pairs;
    private readonly double halfLifeImages;
    public const double RampUp = 0.05;
    public long ImagesSeen { get; private set; }

    public GeneratorAverage(nn.Module source, nn.Module average, double halfLifeImages)
    {
        if (!(halfLifeImages > 0)) throw new ArgumentOutOfRangeException(nameof(halfLifeImages), halfLifeImages, "the half-life must be positive");
        this.halfLifeImages = halfLifeImages;
        var averaged = average.state_dict();
        pairs = [.. source.state_dict().Select(kv => (kv.Value, averaged[kv.Key]))];
        using var noGrad = torch.no_grad();
        foreach (var (s, a) in pairs) a.copy_(s);
    }

    /// <summary>A checkpoint section with the images seen, which the ramp-up depends on.</summary>
    public CheckpointPart Part(string name) => new(name, writer => writer.Write(ImagesSeen), bytes => ImagesSeen = BitConverter.ToInt64(bytes));

    /// <summary>Moves the average towards the source's current weights after a step of batchSize images.</summary>
    public void Update(long batchSize)
    {
        ImagesSeen += batchSize;
        double beta = Math.Pow(0.5, batchSize / Math.Min(halfLifeImages, RampUp * ImagesSeen));
        using var noGrad = torch.no_grad();
        foreach (var (s, a) in pairs)
        {
            if (a.is_floating_point()) a.mul_(beta).add_(s, alpha: 1 - beta);
            else a.copy_(s); // counters such as num_batches_tracked
        }
    }
}
