using ImageGen.Core.Checkpoints;
using ImageGen.Core.Models;
using ImageGen.Core.Sampling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ImageGen.Core.Training;

/// <summary>
/// DCGAN training step as in pytorch/examples: D on real and detached fake, then G through D. With augmentations on,
/// every image D sees (real or fake, in either step) goes through DiffAugment first, each transformation with ADA's
/// adaptive probability where ada is on; with xflip, the real batch is mirrored at random before that. With the
/// mode-seeking term on, the fakes' second half repeats the first half's classes with new z, and G's loss gains
/// weight / (mean |G(z1) - G(z2)| / mean |z1 - z2|) over those pairs (MSGAN, Mao et al. 2019).
/// </summary>
public sealed class GanTrainable : ITrainable
{
    private readonly DcganGenerator generator;
    /// <summary>The averaged generator (null when ema is 0): what samples, grids and serving use.</summary>
    private readonly DcganGenerator? generatorEma;
    private readonly GeneratorAverage? average;
    private readonly DcganDiscriminator discriminator;
    private readonly OptimizerHelper optG, optD;
    private readonly LossKind loss;
    private readonly ModelSpec spec;
    private readonly Augmentations augment;
    private readonly bool xflip;
    private readonly double modeSeeking;
    /// <summary>ADA's probability (null unless ada is on: then augmentations apply with probability 1).</summary>
    private readonly AdaptiveAugment? adaptive;
    private readonly Device device;

    /// <param name="device">Where the networks live and train; Step and Generate take tensors there.</param>
    public GanTrainable(ModelSpec spec, TrainOptions options, Device device)
    {
        this.spec = spec;
        this.device = device;
        // Built on the CPU (weights drawn from torch's global RNG, as on any device), then moved before the optimizers see them.
        generator = new DcganGenerator(spec);
        generator.to(device);
        discriminator = new DcganDiscriminator(spec);
        discriminator.to(device);
        optG = Optimizers.Create(generator.parameters(), options, spec.Kind);
        optD = Optimizers.Create(discriminator.parameters(), options, spec.Kind);
        loss = options.ResolvedLoss(spec.Kind);
        augment = options.ResolvedAugment(spec.Kind);
        xflip = options.XFlip;
        modeSeeking = options.ResolvedModeSeeking(spec);
        if (options.Ada) adaptive = new AdaptiveAugment();
        if (options.ResolvedEmaImages(spec.Kind) is > 0 and var halfLife)
        {
            generatorEma = new DcganGenerator(spec);
            generatorEma.to(device);
            average = new GeneratorAverage(generator, generatorEma, halfLife);
        }
    }

    public Tensor Generate(Tensor inputs) => (generatorEma ?? generator).Generate(inputs);

    public Dictionary<string, double> Step(Tensor real, Tensor? labels)
    {
        using var scope = torch.NewDisposeScope();
        long batch = real.shape[0];
        if (xflip) real = DiffAugment.RandomXFlip(real);
        // (1) Update D: maximise log D(x) + log(1 - D(G(z))) (or the hinge equivalent).
        optD.zero_grad();
        if (spec.Classes > 0 && labels is null) throw new ArgumentException("a class-conditional GAN trains on labelled images");
        long pairs = modeSeeking > 0 ? batch / 2 : 0;
        var noise = torch.randn(batch, spec.LatentSize).to(device); // drawn on the CPU: the same noise on either device
        var z = noise;
        Tensor? fakeLabels = null;
        if (spec.Classes > 0)
        {
            // Fakes of the real batch's classes; with mode seeking, the second half's pairs take the first half's.
            fakeLabels = pairs > 0 ? torch.cat([labels![..(int)pairs], labels[..(int)pairs], labels[(int)(2 * pairs)..]]) : labels!;
            z = GeneratorTensors.AppendClasses(noise, fakeLabels, spec.Classes);
        }
        else labels = null;
        var fake = generator.forward(z);
        double p = adaptive?.Probability ?? 1;
        var realLogits = discriminator.Logits(DiffAugment.Apply(real, augment, p), labels);
        var fakeLogits = discriminator.Logits(DiffAugment.Apply(fake.detach(), augment, p), fakeLabels);
        adaptive?.Observe(realLogits);
        Tensor lossD = loss == LossKind.Hinge
            ? F.relu(1.0 - realLogits).mean() + F.relu(1.0 + fakeLogits).mean()
            : F.binary_cross_entropy_with_logits(realLogits, torch.ones_like(realLogits))
              + F.binary_cross_entropy_with_logits(fakeLogits, torch.zeros_like(fakeLogits));
        lossD.backward();
        optD.step();
        // (2) Update G: non-saturating loss, maximise log D(G(z)).
        optG.zero_grad();
        var fakeLogitsForG = discriminator.Logits(DiffAugment.Apply(fake, augment, p), fakeLabels);
        Tensor lossG = loss == LossKind.Hinge
            ? -fakeLogitsForG.mean()
            : F.binary_cross_entropy_with_logits(fakeLogitsForG, torch.ones_like(fakeLogitsForG));
        Tensor? spread = null;
        if (pairs > 0)
        {
            int n = (int)pairs;
            spread = (fake[..n] - fake[n..(2 * n)]).abs().mean() / (noise[..n] - noise[n..(2 * n)]).abs().mean();
            lossG = lossG + modeSeeking / (spread + 1e-5);
        }
        lossG.backward();
        optG.step();
        average?.Update(batch);
        adaptive?.Step(batch);
        var scalars = new Dictionary<string, double>
        {
            ["loss_d"] = lossD.item<float>(),
            ["loss_g"] = lossG.item<float>(),
            ["d_x"] = realLogits.sigmoid().mean().item<float>(),
            ["d_g_z"] = fakeLogits.sigmoid().mean().item<float>(),
        };
        if (adaptive is not null) scalars["augment_p"] = p;
        if (spread is not null) scalars["mode_spread"] = spread.item<float>();
        return scalars;
    }

    public void SetTraining(bool training)
    {
        generator.train(training);
        discriminator.train(training);
        generatorEma?.eval(); // only ever sampled from
        if (!training) average?.Recalibrate();
    }

    public IReadOnlyList<CheckpointPart> Parts =>
    [
        CheckpointPart.Module(CheckpointSections.Generator, generator),
        CheckpointPart.Module(CheckpointSections.Discriminator, discriminator),
        CheckpointPart.Optimizer(CheckpointSections.GeneratorOptimizer, optG),
        CheckpointPart.Optimizer(CheckpointSections.DiscriminatorOptimizer, optD),
        .. generatorEma is null || average is null ? Array.Empty<CheckpointPart>()
            : [AverageSection(generatorEma, average), average.Part(CheckpointSections.GeneratorAverageImages)],
        .. adaptive is null ? Array.Empty<CheckpointPart>() : [adaptive.Part(CheckpointSections.AugmentProbability)],
    ];

    /// <summary>The averaged generator's section, written with BatchNorm statistics measured on its own weights.</summary>
    private static CheckpointPart AverageSection(DcganGenerator generatorEma, GeneratorAverage average)
    {
        var module = CheckpointPart.Module(CheckpointSections.GeneratorAverage, generatorEma);
        return module with { Write = writer => { average.Recalibrate(); module.Write(writer); } };
    }

    public void WriteExtraImages(Tensor inputs, string samplesFolder, string suffix) { }

    // D runs 3 forward passes and their backward passes (about 2x a forward each); G one forward and one backward.
    public long TrainingMacsPerImage => 9 * Flops.DiscriminatorMacs(spec) + 3 * Flops.GeneratorMacs(spec);

    public void Dispose()
    {
        generator.Dispose(); generatorEma?.Dispose(); discriminator.Dispose(); optG.Dispose(); optD.Dispose();
    }
}
