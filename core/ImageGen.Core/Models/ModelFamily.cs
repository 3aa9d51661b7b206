namespace ImageGen.Core.Models;

/// <summary>
/// What the rest of the code knows of a model family: its name, default shape and recipe. One subclass per family;
/// <see cref="For"/> is the one list. Needing no libtorch, it serves option checks and messages anywhere; what runs on
/// libtorch is registered per family in ImageGen.Core.Torch: its networks in Models/ModelNetworks, its training step
/// in Training/Trainables.
/// </summary>
public abstract class ModelFamily
{
    public abstract ModelKind Kind { get; }
    /// <summary>As people write it ("DCGAN"), and the kind of model it is, plural ("GANs"), for messages.</summary>
    public abstract string Name { get; }
    public abstract string Group { get; }
    public abstract ModelSpec DefaultSpec(int imageSize, int channels);
    /// <summary>The classic recipe's epochs when no other stop is set (DCGAN 25, VAE 10).</summary>
    public abstract int DefaultEpochs { get; }
    /// <summary>The recipe's Adam (and RMSprop) learning rate.</summary>
    public abstract double DefaultLr { get; }
    public abstract double DefaultBeta1 { get; }
    /// <summary>
    /// Half-life in images of the generator's moving average by default; 0: none. GANs keep one (StyleGAN2-ADA's 10k
    /// images): with BatchNorm's statistics recalibrated on the averaged weights it scored a lower FD than the raw
    /// generator in most runs of `imagegen bench variants` (docs/benchmarks.md). A VAE's decoder has no adversarial wobble to smooth.
    /// </summary>
    public virtual int DefaultEmaImages => 0;
    /// <summary>
    /// DiffAugment's transformations by default: none for every family. Measured with `imagegen bench variants`
    /// (docs/benchmarks.md), DiffAugment raised the DCGAN's FD at equal steps on 1,000- and 5,000-image Fashion-MNIST
    /// subsets and lowered it at every seed on a 1,000-image RGB set, so it is an option for datasets small and varied
    /// enough that the discriminator memorises them. ADA's adaptive probability (the ada option) did not pick per dataset
    /// what to use: it raised FD on both.
    /// </summary>
    public virtual Augmentations DefaultAugment => Augmentations.None;
    /// <summary>
    /// Clusters found in an unlabelled drop by default (TrainOptions.Clusters, ResolvedClusters); 0: none.
    /// </summary>
    public virtual int DefaultClusters => 0;
    /// <summary>The mode-seeking term's weight by default for a run whose classes come from there (TrainOptions.ResolvedModeSeeking); 0: off.</summary>
    public virtual double DefaultModeSeeking(ClassOrigin classes) => 0;
    /// <summary>Whether the family has an encoder (a VAE's q(z | x)); a class-conditional model's encoder then takes the class too.</summary>
    public virtual bool HasEncoder => false;
    /// <summary>
    /// The weight of the KL term by default (the beta of a beta-VAE; families without one ignore it), for a model
    /// without or with classes, sampling from N(0, I) or from a fitted prior: 1, the ELBO, unless the family says otherwise.
    /// </summary>
    public virtual double DefaultKlWeight(bool conditional, bool fittedPrior) => 1.0;
    /// <summary>Whether a trained model samples from a prior fitted to its encoder's latents (LatentPrior) by default.</summary>
    public virtual bool DefaultFitPrior => false;
    /// <summary>Losses this family trains with; the first is the default.</summary>
    public abstract IReadOnlyList<LossKind> Losses { get; }

    /// <summary>Every model family: the one list.</summary>
    public static IReadOnlyList<ModelFamily> All { get; } = [new DcganFamily(), new VaeFamily()];
    private static readonly Dictionary<ModelKind, ModelFamily> Families = All.ToDictionary(f => f.Kind);

    public static ModelFamily For(ModelKind kind) =>
        Families.TryGetValue(kind, out var family) ? family : throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown model kind");
}

public sealed class DcganFamily : ModelFamily
{
    public override ModelKind Kind => ModelKind.Dcgan;
    public override string Name => "DCGAN";
    public override string Group => "GANs";
    public override ModelSpec DefaultSpec(int imageSize, int channels) => new() { Kind = Kind, ImageSize = imageSize, Channels = channels };
    public override int DefaultEpochs => 25;
    public override double DefaultLr => 2e-4;
    public override double DefaultBeta1 => 0.5;
    public override IReadOnlyList<LossKind> Losses { get; } = [LossKind.Bce, LossKind.Hinge];
    public override int DefaultEmaImages => 10_000;
    /// <summary>
    /// 10 clusters for an unlabelled drop, as for the VAE, trained with the mode-seeking term (DefaultModeSeeking).
    /// Measured with `imagegen bench variants` at 1,000 steps over seeds 1-3 (docs/benchmarks.md, "The mode-seeking
    /// term"): against the unclustered DCGAN, the median FD fell from 40.63 to 20.48 on 1,000 Fashion-MNIST images and
    /// from 227.66 to 149.11 on 1,000 handwritten digits, and on 300 images from 41.29 to 25.25 and from 261.36 to 162.49,
    /// at every seed each time. Near-copies stayed at 0.24% or less.
    /// </summary>
    public override int DefaultClusters => 10;
    /// <summary>
    /// Weight 1 (MSGAN's) on clusters and without classes, 0.5 on the data's own classes. On clusters, without it the
    /// DCGAN ignored z within a cluster on the digits (recall 0.19-0.21, median FD 310.26, worse than no clusters); with it
    /// recall was 0.58-0.66. On Fashion-MNIST, where clusters already helped, it kept their gain (20.48 against 21.30).
    /// On the data's own classes (1,000 images, seeds 1-3, docs/benchmarks.md "The term on a drop's own classes") the
    /// conditional DCGAN collapsed the same way on the digits (median FD 300.42, recall 0.13-0.16): weight 1 gave 165.88,
    /// 0.5 gave 215.81 (recall 0.35-0.39). On Fashion-MNIST 0.5 gave the lowest FD (16.36, against 17.34 without and
    /// 16.98 at 1) and kept the judge's class accuracy at 81.9-83.8% (85.3-86.7% without, 78.9-80.8% at 1): a class asked
    /// for by name must stay that class, which weight 1 traded away for spread. Without classes (a drop under 300 images,
    /// or clusters: 0), on 200 unlabelled images, weight 1 lowered the median FD from 53.99 to 47.41 on Fashion-MNIST and
    /// from 317.99 to 213.28 on the digits, and on 100 from 86.96 to 85.27 and from 322.64 to 248.90, at every seed.
    /// </summary>
    public override double DefaultModeSeeking(ClassOrigin classes) => classes == ClassOrigin.Data ? 0.5 : 1;
}

public sealed class VaeFamily : ModelFamily
{
    public override ModelKind Kind => ModelKind.Vae;
    public override string Name => "VAE";
    public override string Group => "VAEs";
    public override ModelSpec DefaultSpec(int imageSize, int channels) =>
        new() { Kind = Kind, ImageSize = imageSize, Channels = channels, LatentSize = 20, Ngf = 32, Ndf = 32 };
    public override int DefaultEpochs => 10;
    public override double DefaultLr => 1e-3;
    public override double DefaultBeta1 => 0.9;
    public override IReadOnlyList<LossKind> Losses { get; } = [LossKind.Bce, LossKind.Mse];
    public override bool HasEncoder => true;
    /// <summary>
    /// 10 clusters for an unlabelled drop (docs/benchmarks.md, "Classes found in unlabelled images"), measured at 1,000
    /// steps over seeds 1-3 with judges the clusters never see: on 1,000 Fashion-MNIST images the median FD fell from
    /// 83.43 to 31.96, and on 1,000 handwritten digits from 107.94 to 58.99, at every seed. On 300 images it fell from
    /// 83.48 to 33.58 and from 136.37 to 90.79, again at every seed. On 100 it still fell, but the samples that are
    /// near-copies of training images tripled (to 1.66%), so the default asks for 30 images per cluster
    /// (TrainOptions.MinImagesPerDefaultCluster). Recall falls as precision rises: the cost, in the numbers above.
    /// </summary>
    public override int DefaultClusters => 10;
    /// <summary>
    /// On: measured on 1,000 Fashion-MNIST images over three seeds (docs/benchmarks.md). At beta 2, the class-conditional
    /// VAE's default before, sampling from the fitted prior instead of N(0, I) lowered its median FD from 121.32 to 82.63
    /// and raised its class accuracy from 66.8-74.1% to 80.2-84.3%. The unconditional VAE's median FD fell from 157.88
    /// to 111.19 (at beta 1).
    /// </summary>
    public override bool DefaultFitPrior => true;
    /// <summary>
    /// With a fitted prior (DefaultFitPrior), far below the ELBO's 1: the KL term no longer has to pull the codes onto
    /// N(0, I) for sampling to find them, so a smaller weight buys sharper reconstructions and more varied samples.
    /// Measured on 1,000 Fashion-MNIST images, 1,000 steps, seeds 1-3 (docs/benchmarks.md); FD fell with each step down
    /// from 1 to 0.02, with and without classes, at every seed but one, while precision fell:
    /// - without classes, 0.05: median FD 82.23 (87.12 at 0.1, 111.19 at 1). 0.02 gave 79.06, by less again, at lower
    ///   precision: a default that stops at 0.05 is a judgement, and --kl-weight 0.02 is one flag away.
    /// - with classes, 0.1: median FD 26.63 (36.98 at 0.5), class accuracy 84.4-86.4%. Below it the per-class
    ///   accuracy fell: at 0.05 (FD 23.70) shirts were drawn as shirts at 52-68% against 62-69%, and t-shirts at 75-87%
    ///   against 77-88%.
    /// Sampling from N(0, I), 1 stays: there beta 0.5 drew a conditional VAE's classes at 44.1% (seed 1, FD 157.69),
    /// against 57.9% (FD 138.25) at 1.
    /// </summary>
    public override double DefaultKlWeight(bool conditional, bool fittedPrior) => !fittedPrior ? 1.0 : conditional ? 0.1 : 0.05;
}
