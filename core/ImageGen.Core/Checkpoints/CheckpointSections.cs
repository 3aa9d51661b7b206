namespace ImageGen.Core.Checkpoints;

/// <summary>The names of a checkpoint's sections: every family writes its generator under Generator.</summary>
public static class CheckpointSections
{
    public const string Generator = "generator";
    /// <summary>The exponential moving average of the generator's weights, which sampling prefers when present.</summary>
    public const string GeneratorAverage = "generator.ema";
    /// <summary>Images the moving average has seen (its half-life ramps up with them).</summary>
    public const string GeneratorAverageImages = "generator.ema.images";
    public const string Discriminator = "discriminator";
    public const string Encoder = "encoder";
    public const string Optimizer = "optimizer";
    public const string GeneratorOptimizer = "optimizer.generator";
    public const string DiscriminatorOptimizer = "optimizer.discriminator";
    /// <summary>torch's global RNG state, so a resumed run draws what an uninterrupted one would.</summary>
    public const string Rng = "rng";
    /// <summary>ADA's augmentation probability and its heuristic's partial sums (runs with ada on).</summary>
    public const string AugmentProbability = "augment.p";
    /// <summary>A VAE's latent prior fitted to its encoder (Models/LatentPrior), which loading folds into the networks.</summary>
    public const string LatentPrior = "latent.prior";

    /// <summary>Sections that hold a network's weights (what a warm start carries over), not optimizer or RNG state.</summary>
    public static bool IsNetwork(string name) => name is Generator or GeneratorAverage or GeneratorAverageImages or Discriminator or Encoder;
}
