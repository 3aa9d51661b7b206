using static TorchSharp.torch;

namespace ImageGen.Core.Training;

/// <summary>
/// ADA's adaptive probability (Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data"): each
/// of DiffAugment's transformations is applied to each image with probability p, and p follows the discriminator's
/// overfitting. The heuristic is r = E[sign(D(real))], the share of real images D calls real minus the share it calls
/// fake: every <see cref="Interval"/> steps p rises when r is above <see cref="Target"/> and falls when below, by as
/// much as lets it cross 0..1 in <see cref="RampImages"/> images. The paper's D (StyleGAN2's) calls reals real about
/// half the time until it memorises them; our DCGAN's D calls most reals real from its first steps, so p climbs on every
/// dataset measured (to about 0.7 on Fashion-MNIST, to 1 on the small RGB set) and ADA scored no better than DiffAugment
/// or none (docs/benchmarks.md). It is an option, off by default.
/// </summary>
public sealed class AdaptiveAugment
{
    /// <summary>The paper's target for r (0.6).</summary>
    public const double Target = 0.6;
    /// <summary>Steps between adjustments (the paper's 4 minibatches).</summary>
    public const int Interval = 4;
    /// <summary>
    /// Images over which p may go from 0 to 1. The paper's 500,000 suits runs of millions of images; ours train tens of
    /// thousands (1,000 steps of 64), so p moves 10x faster, and can reach 1 within the first 50,000 images.
    /// </summary>
    public const double RampImages = 50_000;

    /// <summary>The probability each transformation is applied with, in [0, 1]; 0 at the start of a run.</summary>
    public double Probability { get; private set; }

    private double signSum;
    private long signCount, steps;

    /// <summary>Takes D's logits on this step's (augmented) real images into the heuristic.</summary>
    public void Observe(Tensor realLogits)
    {
        signSum += realLogits.detach().sign().sum().item<float>();
        signCount += realLogits.numel();
    }

    /// <summary>After a step of batchSize images: every Interval steps, moves p by r's side of the target.</summary>
    public void Step(long batchSize)
    {
        if (++steps % Interval != 0 || signCount == 0) return;
        double r = signSum / signCount;
        Probability = Math.Clamp(Probability + Math.Sign(r - Target) * batchSize * Interval / RampImages, 0, 1);
        signSum = 0;
        signCount = 0;
    }

    /// <summary>A checkpoint section with p and the heuristic's partial sums, so a resume adapts as an unbroken run would.</summary>
    public CheckpointPart Part(string name) => new(name, writer =>
    {
        writer.Write(Probability);
        writer.Write(signSum);
        writer.Write(signCount);
        writer.Write(steps);
    }, bytes =>
    {
        using var reader = new BinaryReader(new MemoryStream(bytes));
        Probability = reader.ReadDouble();
        signSum = reader.ReadDouble();
        signCount = reader.ReadInt64();
        steps = reader.ReadInt64();
    });
}
