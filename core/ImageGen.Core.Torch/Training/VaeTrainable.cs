using ImageGen.Core.Checkpoints;
using ImageGen.Core.Data;
using ImageGen.Core.Models;
using ImageGen.Core.Sampling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace ImageGen.Core.Training;

/// <summary>
/// VAE step: reconstruction (BCE or MSE, summed per image) plus beta times KL(q(z|x) || N(0, I)); a class-conditional
/// VAE's encoder and decoder both take each image's class (q(z|x,y), p(x|z,y)). With fitPrior, every checkpoint also
/// holds a latent prior fitted to where the encoder puts the training images (LatentPrior: a Gaussian per class), which
/// sampling draws from.
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
    private readonly ImageTensorDataset? priorData;
    /// <summary>The prior fitted to the networks as they are now (null once a step or a load moves them): an epoch's grid and checkpoint share one fit.</summary>
    private LatentPrior? fitted;
    private readonly Device device;

    /// <param name="priorData">The training data, to fit the latent prior to at every checkpoint; null: no prior (fitPrior false, or no data).</param>
    /// <param name="device">Where the networks live and train; Step, Generate and ReconstructionError take tensors there.</param>
    public VaeTrainable(ModelSpec spec, TrainOptions options, ImageTensorDataset? priorData, Device device)
    {
        this.spec = spec;
        this.device = device;
        // Built on the CPU (weights drawn from torch's global RNG, as on any device), then moved before the optimizer sees them.
        encoder = new VaeEncoder(spec);
        encoder.to(device);
        decoder = new VaeDecoder(spec);
        decoder.to(device);
        optimizer = Optimizers.Create(encoder.parameters().Concat(decoder.parameters()), options, spec.Kind);
        loss = options.ResolvedLoss(spec.Kind);
        klWeight = options.ResolvedKlWeight(spec);
        xflip = options.XFlip;
        this.priorData = options.ResolvedFitPrior(spec.Kind) ? priorData : null;
    }

    /// <summary>The decoder, through the fitted prior where there is one: a copy with the prior folded in, as loading does.</summary>
    public Tensor Generate(Tensor inputs)
    {
        if (priorData is null) return decoder.Generate(inputs);
        // The copy's random initial weights are overwritten; torch's RNG is put back, so training draws as it would have.
        using var rng = torch.random.get_rng_state();
        using var folded = new VaeDecoder(spec);
        torch.random.set_rng_state(rng);
        folded.load_state_dict(decoder.state_dict());
        folded.eval();
        FitPrior().FoldInto(folded); // folds on the CPU, where the copy was built
        folded.to(device);
        return folded.Generate(inputs);
    }

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
        var z = mu + torch.randn(std.shape).to(device) * std; // reparameterisation; drawn on the CPU: the same on either device
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
        fitted = null;
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
        images = images.to(device);
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
        // Fitted afresh at every save from the networks of that moment; a resume refits rather than reads it.
        .. priorData is null ? Array.Empty<CheckpointPart>() : [new CheckpointPart(CheckpointSections.LatentPrior, writer => FitPrior().Write(writer), _ => fitted = null)],
    ];

    /// <summary>The most training images a prior is fitted to (evenly spaced through the data): plenty for a covariance of nz up to a few hundred.</summary>
    public const int MaxPriorImages = 8192;

    /// <summary>
    /// The Gaussians of the encoder's posteriors (eval mode) of the training images, one per class: each class's mean of
    /// their means, and each class's covariance shrunk toward the covariance pooled over the classes, which weighs as nz
    /// images: a class of n images gets (n C_class + nz C_pooled) / (n + nz), so a class of fewer images than latent
    /// dimensions, which cannot fill a covariance on its own, borrows the other classes' shape. Reads no random numbers, so
    /// training and a bit-exact resume are undisturbed.
    /// </summary>
    private LatentPrior FitPrior()
    {
        var data = priorData!;
        if (fitted is not null) return fitted;
        bool wasTraining = encoder.training;
        encoder.eval();
        try
        {
            using var inference = torch.inference_mode();
            using var scope = torch.NewDisposeScope();
            int n = Math.Min(data.Count, MaxPriorImages), rows = Math.Max(spec.Classes, 1), nz = spec.LatentSize;
            var indices = torch.tensor(Enumerable.Range(0, n).Select(i => (long)i * data.Count / n).ToArray());
            var means = new List<Tensor>();
            var variances = new List<Tensor>();
            for (int start = 0; start < n; start += 256)
            {
                var picked = indices[start..Math.Min(n, start + 256)];
                var (mu, logvar) = encoder.Encode(data.Batch(picked).to(device), spec.ConditionalEncoder ? data.BatchLabels(picked)!.to(device) : null);
                means.Add(mu.to_type(ScalarType.Float64).cpu()); // the fit itself runs on the CPU
                variances.Add(logvar.exp().to_type(ScalarType.Float64).cpu());
            }
            var codes = torch.cat(means);
            var posteriorVariances = torch.cat(variances);
            var labels = spec.Classes > 0 ? data.BatchLabels(indices)! : torch.zeros(n, dtype: ScalarType.Int64);
            var counts = torch.bincount(labels, minlength: rows).to_type(ScalarType.Float64).unsqueeze(1);
            var classMeans = torch.zeros([rows, nz], dtype: ScalarType.Float64).index_add_(0, labels, codes, 1) / counts.clamp_min(1);
            // A class the evenly spaced images missed takes the mean of them all.
            classMeans = torch.where(counts > 0, classMeans, codes.mean([0], keepdim: true));
            var residuals = codes - classMeans.index_select(0, labels);
            // The codes' spread about their class's mean, plus the posterior's own variance around each code: the moments of
            // the aggregate posterior, which is what the decoder was trained on (z = mu + sigma eps).
            var pooled = residuals.t().matmul(residuals) / Math.Max(n - rows, 1) + torch.diag(posteriorVariances.mean([0]));
            Tensor ClassCovariance(int c)
            {
                var ofClass = labels.eq(c).nonzero().flatten();
                long count = ofClass.shape[0];
                if (count == 0) return pooled;
                var classResiduals = residuals.index_select(0, ofClass);
                var own = classResiduals.t().matmul(classResiduals) / Math.Max(count - 1, 1) + torch.diag(posteriorVariances.index_select(0, ofClass).mean([0]));
                return (own * count + pooled * nz) / (count + nz);
            }
            // Without classes the one covariance is the pooled one.
            var covariances = spec.Classes == 0 ? [pooled] : Enumerable.Range(0, rows).Select(ClassCovariance).ToList();
            var scales = torch.stack(covariances.Select(covariance =>
            {
                // A latent the encoder ignores has (almost) no spread; a little jitter keeps the factorisation defined.
                double jitter = 1e-6 * Math.Max(covariance.trace().item<double>() / nz, 1e-6);
                return torch.linalg.cholesky(covariance + torch.eye(nz, dtype: ScalarType.Float64) * jitter);
            }));
            return fitted = new LatentPrior(classMeans.contiguous().data<double>().ToArray(), scales.contiguous().data<double>().ToArray(), nz);
        }
        finally { encoder.train(wasTraining); }
    }

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
