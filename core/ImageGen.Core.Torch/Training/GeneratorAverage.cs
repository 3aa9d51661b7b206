using ImageGen.Core.Models;
using ImageGen.Core.Sampling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace ImageGen.Core.Training;

/// <summary>
/// An exponential moving average of a generator's weights (G_ema, as StyleGAN2-ADA keeps it), with the half-life counted
/// in training images: after each step, ema = beta * ema + (1 - beta) * g with beta = 0.5^(batch / halfLife). As in
/// StyleGAN2-ADA, the half-life ramps up with the images seen (at most RampUp x images seen), so early in training the
/// average follows the generator closely instead of holding on to its random start. The images seen travel in the
/// checkpoint, so a resumed run averages as an uninterrupted one does.
/// BatchNorm's running statistics are not averaged: statistics averaged along with the weights do not match the
/// averaged weights (that made the average score worse than the raw generator). Before the average is sampled or
/// saved, <see cref="Recalibrate"/> measures them afresh on the averaged weights from a fixed batch of latents.
/// </summary>
public sealed class GeneratorAverage
{
    private readonly (Tensor Source, Tensor Average)[] pairs;
    private readonly IImageGenerator average;
    private readonly double halfLifeImages;
    private long recalibratedAt = -1;
    public const double RampUp = 0.05;
    /// <summary>Latents per recalibration: enough for stable per-channel statistics, at most 4 M output values.</summary>
    public static int RecalibrationBatch(ModelSpec spec) => (int)Math.Clamp((1L << 22) / ((long)spec.ImageSize * spec.ImageSize * spec.Channels), 64, 256);
    public long ImagesSeen { get; private set; }

    public GeneratorAverage(nn.Module source, IImageGenerator average, double halfLifeImages)
    {
        if (!(halfLifeImages > 0)) throw new ArgumentOutOfRangeException(nameof(halfLifeImages), halfLifeImages, "the half-life must be positive");
        this.halfLifeImages = halfLifeImages;
        this.average = average;
        var averaged = average.AsModule.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        pairs = [.. source.named_parameters().Select(p => ((Tensor)p.parameter, averaged[p.name]))];
        using var noGrad = torch.no_grad();
        average.AsModule.load_state_dict(source.state_dict());
    }

    /// <summary>A checkpoint section with the images seen, which the ramp-up depends on.</summary>
    public CheckpointPart Part(string name) => new(name, writer => writer.Write(ImagesSeen), bytes =>
    {
        ImagesSeen = BitConverter.ToInt64(bytes);
        recalibratedAt = ImagesSeen; // the averaged generator's section was saved recalibrated at this point
    });

    /// <summary>Moves the average towards the source's current weights after a step of batchSize images.</summary>
    public void Update(long batchSize)
    {
        ImagesSeen += batchSize;
        double beta = Math.Pow(0.5, batchSize / Math.Min(halfLifeImages, RampUp * ImagesSeen));
        using var noGrad = torch.no_grad();
        foreach (var (s, a) in pairs) a.mul_(beta).add_(s, alpha: 1 - beta);
    }

    /// <summary>
    /// Sets every BatchNorm's running statistics to the exact mean and variance of the averaged generator's activations
    /// over one batch of latents drawn from a generator seeded by the images seen: a pure function of the averaged
    /// weights and the point in training, so it disturbs neither torch's global RNG nor a bit-exact resume.
    /// </summary>
    public void Recalibrate()
    {
        if (recalibratedAt == ImagesSeen) return;
        var module = average.AsModule;
        var norms = module.modules().OfType<BatchNorm2d>().ToList();
        using (var noGrad = torch.no_grad())
        using (var scope = torch.NewDisposeScope())
        {
            foreach (var norm in norms) { norm.reset_running_stats(); norm.momentum = null; } // null: a cumulative average
            module.train();
            using var random = new torch.Generator(0x5EED_E3A_0000UL + (ulong)ImagesSeen);
            var spec = average.Spec;
            int count = RecalibrationBatch(spec);
            var z = torch.randn([count, spec.LatentSize], generator: random);
            var inputs = spec.Classes == 0 ? z
                : GeneratorTensors.AppendClasses(z, torch.randint(0, spec.Classes, [count], dtype: ScalarType.Int64, generator: random), spec.Classes);
            average.Generate(inputs.to(pairs[0].Average.device)); // drawn on the CPU, run where the average lives
            foreach (var norm in norms) norm.momentum = 0.1;
            module.eval();
        }
        recalibratedAt = ImagesSeen;
    }
}
