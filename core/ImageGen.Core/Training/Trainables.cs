using ImageGen.Core.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ImageGen.Core.Training;

/// <summary>Running sums of per-step scalars, averaged per epoch.</summary>
public sealed class MetricSums
{
    private readonly Dictionary<string, double> sums = [];
    public int Steps { get; private set; }
    public void Add(string name, double value) => sums[name] = sums.GetValueOrDefault(name) + value;
    public void EndStep() => Steps++;
    public Dictionary<string, double> Means() => sums.ToDictionary(kv => kv.Key, kv => Steps == 0 ? 0 : kv.Value / Steps);
    public void Clear() { sums.Clear(); Steps = 0; }
}

/// <summary>What the trainer needs of a model family: one optimisation step, its checkpoint sections, its sample images.</summary>
public interface ITrainable : IDisposable
{
    IImageGenerator Generator { get; }
    /// <summary>One step on a batch in [-1, 1]; adds this step's scalars to sums and returns them.</summary>
    Dictionary<string, double> Step(Tensor batch);
    void SetTraining(bool training);
    IReadOnlyList<(string name, Action<BinaryWriter> write)> Sections();
    void Load(IReadOnlyDictionary<string, byte[]> sections);
    /// <summary>Extra images per epoch beyond the fixed-noise grid (VAE: inputs over reconstructions).</summary>
    void WriteExtraImages(Tensor inputs, string samplesFolder, string suffix);
    /// <summary>Multiply-adds per image of one forward pass of each network, for FLOP counts.</summary>
    long TrainingMacsPerImage { get; }
}

public static class Trainables
{
    /// <summary>A fresh model family with its optimizers (weights drawn from torch's global RNG).</summary>
    public static ITrainable Create(ModelSpec spec, TrainOptions options) =>
        spec.Kind == ModelKind.Vae ? new VaeTrainable(spec, options) : new GanTrainable(spec, options);
}

internal static class Optimizers
{
    public static OptimizerHelper Create(IEnumerable<Parameter> parameters, TrainOptions options, ModelKind kind)
    {
        double lr = options.ResolvedLr(kind);
        return options.Optimizer switch
        {
            OptimizerKind.Adam => torch.optim.Adam(parameters, lr, beta1: options.ResolvedBeta1(kind), beta2: options.Beta2),
            OptimizerKind.Rmsprop => torch.optim.RMSProp(parameters, lr, momentum: options.Momentum ?? 0.0),
            OptimizerKind.Sgd => torch.optim.SGD(parameters, lr, momentum: options.Momentum ?? 0.9),
            _ => throw new ArgumentOutOfRangeException(nameof(options), options.Optimizer, "unknown optimizer"),
        };
    }

    public static Action<BinaryWriter> Section(OptimizerHelper optimizer) => w => optimizer.save_state_dict(w);
    public static void Load(OptimizerHelper optimizer, byte[] bytes)
    {
        using var reader = new BinaryReader(new MemoryStream(bytes));
        optimizer.load_state_dict(reader);
    }
}

/// <summary>DCGAN training step as in pytorch/examples: D on real and detached fake, then G through D.</summary>
public sealed class GanTrainable : ITrainable
{
    public const string DiscriminatorSection = "discriminator";
    private readonly DcganGenerator generator;
    private readonly DcganDiscriminator discriminator;
    private readonly OptimizerHelper optG, optD;
    private readonly LossKind loss;
    private readonly ModelSpec spec;

    public GanTrainable(ModelSpec spec, TrainOptions options)
    {
        this.spec = spec;
        generator = new DcganGenerator(spec);
        discriminator = new DcganDiscriminator(spec);
        optG = Optimizers.Create(generator.parameters(), options, spec.Kind);
        optD = Optimizers.Create(discriminator.parameters(), options, spec.Kind);
        loss = options.ResolvedLoss(spec.Kind);
    }

    public IImageGenerator Generator => generator;

    public Dictionary<string, double> Step(Tensor real)
    {
        using var scope = torch.NewDisposeScope();
        long batch = real.shape[0];
        // (1) Update D: maximise log D(x) + log(1 - D(G(z))) (or the hinge equivalent).
        optD.zero_grad();
        var z = torch.randn(batch, spec.LatentSize);
        var fake = generator.forward(z);
        var realLogits = discriminator.forward(real);
        var fakeLogits = discriminator.forward(fake.detach());
        Tensor lossD = loss == LossKind.Hinge
            ? F.relu(1.0 - realLogits).mean() + F.relu(1.0 + fakeLogits).mean()
            : F.binary_cross_entropy_with_logits(realLogits, torch.ones_like(realLogits))
              + F.binary_cross_entropy_with_logits(fakeLogits, torch.zeros_like(fakeLogits));
        lossD.backward();
        optD.step();
        // (2) Update G: non-saturating loss, maximise log D(G(z)).
        optG.zero_grad();
        var fakeLogitsForG = discriminator.forward(fake);
        Tensor lossG = loss == LossKind.Hinge
            ? -fakeLogitsForG.mean()
            : F.binary_cross_entropy_with_logits(fakeLogitsForG, torch.ones_like(fakeLogitsForG));
        lossG.backward();
        optG.step();
        return new Dictionary<string, double>
        {
            ["loss_d"] = lossD.item<float>(),
            ["loss_g"] = lossG.item<float>(),
            ["d_x"] = realLogits.sigmoid().mean().item<float>(),
            ["d_g_z"] = fakeLogits.sigmoid().mean().item<float>(),
        };
    }

    public void SetTraining(bool training) { generator.train(training); discriminator.train(training); }

    public IReadOnlyList<(string name, Action<BinaryWriter> write)> Sections() =>
    [
        (Checkpoint.GeneratorSection, Checkpoint.ModuleSection(generator)),
        (DiscriminatorSection, Checkpoint.ModuleSection(discriminator)),
        ("optimizer.generator", Optimizers.Section(optG)),
        ("optimizer.discriminator", Optimizers.Section(optD)),
    ];

    public void Load(IReadOnlyDictionary<string, byte[]> sections)
    {
        Checkpoint.LoadModule(generator, sections[Checkpoint.GeneratorSection]);
        Checkpoint.LoadModule(discriminator, sections[DiscriminatorSection]);
        Optimizers.Load(optG, sections["optimizer.generator"]);
        Optimizers.Load(optD, sections["optimizer.discriminator"]);
    }

    public void WriteExtraImages(Tensor inputs, string samplesFolder, string suffix) { }

    // D runs 3 forward passes and their backward passes (about 2x a forward each); G one forward and one backward.
    public long TrainingMacsPerImage => 9 * Flops.DiscriminatorMacs(spec) + 3 * Flops.GeneratorMacs(spec);

    public void Dispose()
    {
        generator.Dispose(); discriminator.Dispose(); optG.Dispose(); optD.Dispose();
    }
}

/// <summary>VAE step: reconstruction (BCE or MSE, summed per image) plus beta times KL(q(z|x) || N(0, I)).</summary>
public sealed class VaeTrainable : ITrainable
{
    public const string EncoderSection = "encoder";
    private readonly VaeEncoder encoder;
    private readonly VaeDecoder decoder;
    private readonly OptimizerHelper optimizer;
    private readonly LossKind loss;
    private readonly double klWeight;
    private readonly ModelSpec spec;

    public VaeTrainable(ModelSpec spec, TrainOptions options)
    {
        this.spec = spec;
        encoder = new VaeEncoder(spec);
        decoder = new VaeDecoder(spec);
        optimizer = Optimizers.Create(encoder.parameters().Concat(decoder.parameters()), options, spec.Kind);
        loss = options.ResolvedLoss(spec.Kind);
        klWeight = options.KlWeight;
    }

    public IImageGenerator Generator => decoder;

    public Dictionary<string, double> Step(Tensor batch)
    {
        using var scope = torch.NewDisposeScope();
        long n = batch.shape[0];
        optimizer.zero_grad();
        var target = (batch + 1.0) / 2.0;
        var (mu, logvar) = encoder.forward(batch);
        var std = (0.5 * logvar).exp();
        var z = mu + torch.randn_like(std) * std; // reparameterisation
        var logits = decoder.forward(z);
        var recon = (loss == LossKind.Mse
            ? F.mse_loss(logits.sigmoid(), target, reduction: nn.Reduction.Sum)
            : F.binary_cross_entropy_with_logits(logits, target, reduction: nn.Reduction.Sum)) / n;
        var kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum() / n;
        var total = recon + klWeight * kl;
        total.backward();
        optimizer.step();
        using var noGrad = torch.no_grad();
        return new Dictionary<string, double>
        {
            ["loss"] = total.item<float>(),
            ["recon"] = recon.item<float>(),
            ["kl"] = kl.item<float>(),
            ["mse"] = (logits.sigmoid() - target).pow(2).mean().item<float>(),
        };
    }

    /// <summary>Mean squared error per pixel, in [0, 1] intensity units, of mean-code reconstructions (eval mode).</summary>
    public double ReconstructionError(Tensor images)
    {
        using var inference = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        var (mu, _) = encoder.forward(images);
        var reconstructed = decoder.forward(mu).sigmoid();
        return (reconstructed - (images + 1.0) / 2.0).pow(2).mean().item<float>();
    }

    public void SetTraining(bool training) { encoder.train(training); decoder.train(training); }

    public IReadOnlyList<(string name, Action<BinaryWriter> write)> Sections() =>
    [
        (Checkpoint.GeneratorSection, Checkpoint.ModuleSection(decoder)),
        (EncoderSection, Checkpoint.ModuleSection(encoder)),
        ("optimizer", Optimizers.Section(optimizer)),
    ];

    public void Load(IReadOnlyDictionary<string, byte[]> sections)
    {
        Checkpoint.LoadModule(decoder, sections[Checkpoint.GeneratorSection]);
        Checkpoint.LoadModule(encoder, sections[EncoderSection]);
        Optimizers.Load(optimizer, sections["optimizer"]);
    }

    /// <summary>pytorch/examples vae: 8 inputs over their 8 reconstructions.</summary>
    public void WriteExtraImages(Tensor inputs, string samplesFolder, string suffix)
    {
        using var inference = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        var shown = inputs[..(int)Math.Min(8, inputs.shape[0])];
        var (mu, _) = encoder.forward(shown);
        var reconstructed = decoder.Generate(mu);
        Imaging.ImageGrid.SaveGridPng(torch.cat([shown, reconstructed], 0),
            Path.Combine(samplesFolder, $"reconstruction_{suffix}.png"), nrow: (int)shown.shape[0]);
    }

    public long TrainingMacsPerImage => 3 * (Flops.EncoderMacs(spec) + Flops.DecoderMacs(spec));

    public void Dispose() { encoder.Dispose(); decoder.Dispose(); optimizer.Dispose(); }
}
