using System.Text.Json.Serialization;
namespace ImageGen.Core.Models;

/// <summary>The differentiable augmentations of DiffAugment (Zhao et al. 2020; Training/DiffAugment), any combination; None: off.</summary>
[Flags]
[JsonConverter(typeof(JsonStringEnumConverter<Augmentations>))]
public enum Augmentations { None = 0, Color = 1, Translation = 2, Cutout = 4 }

public enum OptimizerKind { Adam, Rmsprop, Sgd }

/// <summary>GAN: Bce (non-saturating, with logits) or Hinge. VAE reconstruction: Bce or Mse.</summary>
public enum LossKind { Bce, Hinge, Mse }
/// <summary>Where a run's classes come from: none, the data's own (folders or a labels file), or clusters found in unlabelled data.</summary>
public enum ClassOrigin { None, Data, Clusters }

/// <summary>
/// Training options, named after the CLI's flags (camelCase in JSON). Unset values take the classic
/// recipe's defaults for the model kind: DCGAN Adam lr 2e-4 betas 0.5/0.999, 25 epochs; VAE Adam lr 1e-3, 10 epochs.
/// Training stops at whichever of Epochs, MaxSteps, TimeBudget or cancellation comes first.
/// </summary>
public sealed record TrainOptions
{
    public int? Epochs { get; init; }
    public long? MaxSteps { get; init; }
    public TimeSpan? TimeBudget { get; init; }
    public int BatchSize { get; init; } = 64;
    public OptimizerKind Optimizer { get; init; } = OptimizerKind.Adam;
    public double? Lr { get; init; }
    public double? Beta1 { get; init; }
    public double Beta2 { get; init; } = 0.999;
    /// <summary>Momentum for SGD (default 0.9) and RMSprop (default 0).</summary>
    public double? Momentum { get; init; }
    public LossKind? Loss { get; init; }
    /// <summary>beta of the beta-VAE: weight of the KL term. Unset: the family's default for the model, with or without classes and a fitted prior (ModelFamily.DefaultKlWeight).</summary>
    public double? KlWeight { get; init; }
    public int? Seed { get; init; }
    /// <summary>
    /// Half-life in training images of the generator's moving average (StyleGAN2-ADA's ema_kimg x 1000), which samples
    /// and serving use; 0 turns it off. Unset: the family's default (DCGAN 10,000; ModelFamily.DefaultEmaImages says why).
    /// </summary>
    public int? EmaImages { get; init; }
    /// <summary>
    /// DiffAugment's transformations before every discriminator call (GANs). Unset: the family's default
    /// (ModelFamily.DefaultAugment says what was measured).
    /// </summary>
    public Augmentations? Augment { get; init; }
    /// <summary>
    /// ADA: apply augment's transformations (all of them when augment is unset) to each image with a probability that
    /// follows the discriminator's overfitting (Training/AdaptiveAugment), instead of to every image. GANs only.
    /// </summary>
    public bool Ada { get; init; }
    /// <summary>
    /// Fit the prior a VAE's decoder samples from to where its encoder puts the training images (Models/LatentPrior),
    /// refitted at every checkpoint. Unset: the family's default (ModelFamily.DefaultFitPrior says what was measured).
    /// </summary>
    public bool? FitPrior { get; init; }
    /// <summary>
    /// Weight of the mode-seeking term (MSGAN, Mao et al. 2019) in a GAN generator's loss: the inverse of how far apart
    /// two fakes of the same classes lie for how far apart their z lie, so a generator that ignores z pays for it. GANs
    /// only; 0: off. Unset: the family's default, which may differ between the data's own classes, clusters and no
    /// classes (ModelFamily.DefaultModeSeeking says what was measured).
    /// </summary>
    public double? ModeSeeking { get; init; }
    /// <summary>Mirror a random half of each real batch left to right: for data whose mirror image is as likely.</summary>
    public bool XFlip { get; init; }
    /// <summary>
    /// Class-conditional training where the data has classes (sub-folders): null (auto) and true condition on them,
    /// false ignores them. True on unlabelled data is an error.
    /// </summary>
    public bool? Conditional { get; init; }
    /// <summary>
    /// Classes found in unlabelled data: its images grouped by k-means into this many clusters of a self-supervised
    /// extractor's features (ImageClusters), and the model trained class-conditionally on them, each cluster a class
    /// ("cluster-01" the largest). 0: off. Null: the family's default (ResolvedClusters). Data with classes of its own
    /// keeps them.
    /// </summary>
    public int? Clusters { get; init; }
    public const int MaxClusters = 100;
    /// <summary>The images per cluster unlabelled data must hold for a family's default clusters to apply.</summary>
    public const int MinImagesPerDefaultCluster = 30;
    /// <summary>
    /// A run on a dataset with a published model starts from that model's weights when their specs match (the pipeline
    /// decides; core trains from whatever start it is given). False always starts fresh.
    /// </summary>
    public bool WarmStart { get; init; } = true;
    /// <summary>Write the fixed-noise grid, a checkpoint and a metrics line every N epochs.</summary>
    public int SampleEveryEpochs { get; init; } = 1;
    public int SampleCount { get; init; } = 64;
    /// <summary>Write TensorBoard step scalars every N steps.</summary>
    public int LogEverySteps { get; init; } = 50;

    public const int MaxBatchSize = 4096;

    public int ResolvedEpochs(ModelKind kind) => Epochs ?? (MaxSteps is null && TimeBudget is null ? ModelFamily.For(kind).DefaultEpochs : int.MaxValue);
    public double ResolvedLr(ModelKind kind) => Lr ?? (Optimizer == OptimizerKind.Sgd ? 0.01 : ModelFamily.For(kind).DefaultLr);
    public double ResolvedBeta1(ModelKind kind) => Beta1 ?? ModelFamily.For(kind).DefaultBeta1;
    public LossKind ResolvedLoss(ModelKind kind) => Loss ?? ModelFamily.For(kind).Losses[0];
    public double ResolvedKlWeight(ModelSpec spec) =>
        KlWeight ?? ModelFamily.For(spec.Kind).DefaultKlWeight(conditional: spec.Classes > 0, fittedPrior: ResolvedFitPrior(spec.Kind));
    public int ResolvedEmaImages(ModelKind kind) => EmaImages ?? ModelFamily.For(kind).DefaultEmaImages;
    /// <summary>
    /// The clusters a new run on imageCount images trains on: Clusters where set; else, where the data is unlabelled and
    /// conditional is not false, the family's default (ModelFamily.DefaultClusters) if the images make at least
    /// MinImagesPerDefaultCluster per cluster; else 0. A resumed run keeps its checkpoint's (ImageClusters.Resolve).
    /// </summary>
    public int ResolvedClusters(ModelKind kind, int imageCount, bool labelled)
    {
        if (Clusters is { } set) return set;
        int k = ModelFamily.For(kind).DefaultClusters;
        return k > 0 && !labelled && Conditional != false && imageCount >= k * MinImagesPerDefaultCluster ? k : 0;
    }
    /// <summary>ModeSeeking where set; else the family's default for a run whose classes come from there.</summary>
    public double ResolvedModeSeeking(ModelKind kind, ClassOrigin classes) => ModeSeeking ?? ModelFamily.For(kind).DefaultModeSeeking(classes);
    /// <summary>
    /// The same for a spec whose classes are known, taking them to be clusters where Clusters is above 0. Where runs
    /// begin, ImageClusters.Resolve records the weight, knowing whether the data's own classes or clusters are used.
    /// </summary>
    public double ResolvedModeSeeking(ModelSpec spec) =>
        ResolvedModeSeeking(spec.Kind, spec.Classes == 0 ? ClassOrigin.None : Clusters > 0 ? ClassOrigin.Clusters : ClassOrigin.Data);
    public bool ResolvedFitPrior(ModelKind kind) => FitPrior ?? ModelFamily.For(kind).DefaultFitPrior;
    public Augmentations ResolvedAugment(ModelKind kind) =>
        Augment ?? (Ada ? Augmentations.Color | Augmentations.Translation | Augmentations.Cutout : ModelFamily.For(kind).DefaultAugment);

    public void Validate(ModelKind kind)
    {
        if (Epochs is < 1) throw new ArgumentException($"epochs {Epochs} must be at least 1");
        if (MaxSteps is < 1) throw new ArgumentException($"max steps {MaxSteps} must be at least 1");
        if (TimeBudget is { } t && t <= TimeSpan.Zero) throw new ArgumentException($"time budget {t} must be positive");
        if (BatchSize is < 1 or > MaxBatchSize) throw new ArgumentException($"batch size {BatchSize} is outside 1..{MaxBatchSize}");
        if (Lr is { } lr && !(lr > 0 && lr < 10)) throw new ArgumentException($"lr {lr} must be in (0, 10)");
        if (Beta1 is { } b1 && !(b1 >= 0 && b1 < 1)) throw new ArgumentException($"beta1 {b1} must be in [0, 1)");
        if (!(Beta2 >= 0 && Beta2 < 1)) throw new ArgumentException($"beta2 {Beta2} must be in [0, 1)");
        if (Momentum is { } m && !(m >= 0 && m < 1)) throw new ArgumentException($"momentum {Momentum} must be in [0, 1)");
        if (EmaImages is < 0) throw new ArgumentException($"ema {EmaImages} must be 0 (off) or a half-life in images");
        if (KlWeight < 0) throw new ArgumentException($"KL weight {KlWeight} must be >= 0");
        if (SampleEveryEpochs < 1) throw new ArgumentException($"sample-every {SampleEveryEpochs} must be at least 1");
        if (SampleCount is < 1 or > 256) throw new ArgumentException($"sample count {SampleCount} is outside 1..256");
        if (LogEverySteps < 1) throw new ArgumentException($"log-every {LogEverySteps} must be at least 1");
        if (Clusters is < 0 or 1 or > MaxClusters) throw new ArgumentException($"clusters {Clusters} must be 0 (off) or 2..{MaxClusters}");
        if (Clusters is > 0 && Conditional == false)
            throw new ArgumentException($"clusters {Clusters} trains on the clusters as classes, and conditional false ignores classes: drop one");
        var family = ModelFamily.For(kind);
        if (EmaImages is > 0 && kind != ModelKind.Dcgan)
            throw new ArgumentException($"ema {EmaImages}: a moving average is kept for GAN generators only; a {family.Name} takes 0");
        if (Augment is { } augment && augment != Augmentations.None && kind != ModelKind.Dcgan)
            throw new ArgumentException($"augment {augment.ToString().ToLowerInvariant()}: augmentation feeds a GAN's discriminator; a {family.Name} takes 'off'");
        if (ModeSeeking is < 0) throw new ArgumentException($"modeSeeking {ModeSeeking} must be 0 (off) or a positive weight");
        if (ModeSeeking is > 0 && kind != ModelKind.Dcgan)
            throw new ArgumentException($"modeSeeking {ModeSeeking}: the mode-seeking term is part of a GAN generator's loss; a {family.Name} takes 0");
        if (Ada && kind != ModelKind.Dcgan)
            throw new ArgumentException($"ada true: the adaptive augmentation feeds a GAN's discriminator; a {family.Name} takes false");
        if (Ada && Augment == Augmentations.None)
            throw new ArgumentException("ada true adapts how often augment's transformations apply, and augment 'off' names none: drop augment or name some");
        if (FitPrior == true && !family.HasEncoder)
            throw new ArgumentException($"fitPrior true: the prior is fitted to an encoder's latents; a {family.Name} has none and takes false");
        var loss = ResolvedLoss(kind);
        if (!family.Losses.Contains(loss))
        {
            string owners = string.Join(" and ", ModelFamily.All.Where(f => f.Losses.Contains(loss)).Select(f => f.Group));
            throw new ArgumentException($"loss '{Name(loss)}' is for {owners}; a {family.Name} takes {string.Join(" or ", family.Losses.Select(l => $"'{Name(l)}'"))}");
        }
    }

    private static string Name<T>(T value) where T : Enum => value.ToString().ToLowerInvariant();
}
