using ImageGen.Core.Checkpoints;
using ImageGen.Core.Models;
using ImageGen.Core.Sampling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ImageGen.Core.Training;

/// <summary>
/// VAE step: reconstruction (BCE or MSE, summed per image) plus beta times KL(q(z|x) || N(0, I)); a class-conditional
/// VAE's encoder and decoder both take each image's class (q(z|x,y), p(x|z,y)).
/// </summary>
public sealed class VaeTrainable : ITrainable
{
    private readonly VaeEncoder encoder;
    private readonly VaeDecoder decoder;
    private readonly OptimizerHelper optimizer;
    private readonly LossKind loss;
    private readonly double klWeight;
    private readonly ModelSpec spec;
    private readonly bool xflip;

    public VaeTrainable(ModelSpec spec, TrainOptions options)
    {
        this.spec = spec;
        encoder = new VaeEncoder(spec);
        decoder = new VaeDecoder(spec);
        optimizer = Optimizers.Create(encoder.parameters().Concat(decoder.parameters()), options, spec.Kind);
        loss = options.ResolvedLoss(spec.Kind);
        klWeight = options.ResolvedKlWeight(spec);
        xflip = options.XFlip;
    }

    public IImageGenerator Generator => decoder;

    public Dictionary<string, double> Step(Tensor batch, Tensor? labels)
    {
        using var scope = torch.NewDisposeScope();
        long n = batch.shape[0];
        if (xflip) batch = DiffAugment.RandomXFlip(batch);
        optimizer.zero_grad();
        var target = (batch + 1.0) / 2.0;
        if (spec.Classes > 0 && labels is null) throw new ArgumentException("a class-conditional VAE trains on labelled images");
        var (mu, logvar) = encoder.Encode(batch, spec.ConditionalEncoder ? labels : null);
        var std = (0.5 * logvar).exp();
        var z = mu + torch.randn_like(std) * std; // reparameterisation
        if (spec.Classes > 0)
            z = GeneratorTensors.AppendClasses(z, labels!, spec.Classes);
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
        if (spec.Classes > 0) throw new InvalidOperationException("a class-conditional VAE reconstructs only with each image's class");
        using var inference = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        var (mu, _) = encoder.forward(images);
        var reconstructed = decoder.forward(mu).sigmoid();
        return (reconstructed - (images + 1.0) / 2.0).pow(2).mean().item<float>();
    }

    public void SetTraining(bool training) { encoder.train(training); decoder.train(training); }

    public IReadOnlyList<CheckpointPart> Parts =>
    [
        CheckpointPart.Module(CheckpointSections.Generator, decoder),
        CheckpointPart.Module(CheckpointSections.Encoder, encoder),
        CheckpointPart.Optimizer(CheckpointSections.Optimizer, optimizer),
    ];

    /// <summary>pytorch/examples vae: 8 inputs over their 8 reconstructions.</summary>
    public void WriteExtraImages(Tensor inputs, string samplesFolder, string suffix)
    {
        using var inference = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        var shown = inputs[..(int)Math.Min(8, inputs.shape[0])];
        if (spec.Classes > 0) return; // its networks need each input's class, which this preview does not carry
        var (mu, _) = encoder.forward(shown);
        var reconstructed = decoder.Generate(mu);
        Imaging.TensorImages.SaveGridPng(torch.cat([shown, reconstructed], 0),
            Path.Combine(samplesFolder, $"reconstruction_{suffix}.png"), nrow: (int)shown.shape[0]);
    }

    public long TrainingMacsPerImage => 3 * (Flops.EncoderMacs(spec) + Flops.DecoderMacs(spec));

    public void Dispose() { encoder.Dispose(); decoder.Dispose(); optimizer.Dispose(); }
}
