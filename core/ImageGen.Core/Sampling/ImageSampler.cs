using ImageGen.Core.Checkpoints;
using ImageGen.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Sampling;

/// <summary>
/// Generates images from a checkpoint's generator. A sample is a pure function of (weights, seed, truncation):
/// each image's z comes from its own seed, and the network runs in eval and inference mode.
/// </summary>
public sealed class ImageSampler : IDisposable
{
    private readonly GeneratorCheckpoint loaded;
    public CheckpointHeader Header => loaded.Header;
    public IImageGenerator Generator => loaded.Generator;
    public ModelSpec Spec => Header.Spec;

    private ImageSampler(GeneratorCheckpoint loaded) => this.loaded = loaded;

    /// <param name="raw">Sample the raw generator instead of its moving average, where the checkpoint has both.</param>
    public static ImageSampler Load(string fileOrRunFolder, bool raw = false)
    {
        using var file = File.OpenRead(Checkpoint.Resolve(fileOrRunFolder));
        return Load(file, raw);
    }

    public static ImageSampler Load(Stream stream, bool raw = false) => new(GeneratorCheckpoint.Load(stream, raw));

    /// <summary>Whether samples come from the generator's moving average (G_ema).</summary>
    public bool Averaged => loaded.Averaged;

    /// <summary>One image per seed, [n, C, H, W] in [-1, 1]. truncation scales z (GANs; 1 = off).</summary>
    public Tensor Generate(IReadOnlyList<long> seeds, double truncation = 1.0)
    {
        using var z = Seeds.Latents(seeds, Spec.LatentSize);
        return GenerateFrom(z, truncation);
    }

    /// <summary>steps images along the great circle from seedA's z to seedB's z.</summary>
    public Tensor Interpolate(long seedA, long seedB, int steps, double truncation = 1.0)
    {
        using var ends = Seeds.Latents([seedA, seedB], Spec.LatentSize);
        using var path = Seeds.Slerp(ends[0], ends[1], steps);
        return GenerateFrom(path, truncation);
    }

    public Tensor GenerateFrom(Tensor z, double truncation = 1.0)
    {
        if (!(truncation > 0 && truncation <= 2)) throw new ArgumentOutOfRangeException(nameof(truncation), truncation, "truncation must be in (0, 2]");
        using var inference = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        var latents = truncation == 1.0 ? z : z * truncation;
        return Generator.Generate(latents).MoveToOuterDisposeScope();
    }

    public bool CanReconstruct => loaded.Encoder is not null;

    /// <summary>VAE: images [n, C, H, W] in [-1, 1] through the encoder's mean and the decoder.</summary>
    public Tensor Reconstruct(Tensor images)
    {
        if (loaded.Encoder is not { } encoder) throw new InvalidOperationException($"a {Spec.Kind} checkpoint cannot reconstruct images; only VAEs can");
        using var inference = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        return Generator.Generate(encoder.EncodeMean(images)).MoveToOuterDisposeScope();
    }

    public void Dispose() => loaded.Dispose();
}
