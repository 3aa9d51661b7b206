using ImageGen.Core.Checkpoints;
using ImageGen.Core.Data;
using ImageGen.Core.Imaging;
using ImageGen.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Sampling;

/// <summary>
/// Generates images from a checkpoint's generator. A sample is a pure function of (weights, seed, truncation):
/// each image's z comes from its own seed, and the network runs in eval and inference mode. A class-conditional model
/// takes a class per image too: the one asked for, else one drawn from the image's seed as often as the training data
/// holds it.
/// </summary>
public sealed class ImageSampler : IImageReconstructor
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

    /// <summary>A sampler over networks already in memory (tests); it owns and disposes them.</summary>
    internal static ImageSampler FromNetworks(CheckpointHeader header, IImageGenerator generator, IImageEncoder? encoder) =>
        new(GeneratorCheckpoint.FromNetworks(header, generator, encoder));

    /// <summary>The VAE's encoder; null for a family without one.</summary>
    public IImageEncoder? Encoder => loaded.Encoder;

    /// <summary>Whether samples come from the generator's moving average (G_ema).</summary>
    public bool Averaged => loaded.Averaged;

    /// <summary>The class names of a class-conditional model, by index; empty for an unconditional one.</summary>
    public IReadOnlyList<string> ClassNames => Header.Classes;
    public IReadOnlyList<int> ClassSizes => Header.ClassSizes;

    /// <summary>
    /// One image per seed, [n, C, H, W] in [-1, 1]. truncation scales z (GANs; 1 = off). classes: one per seed, or null
    /// for the seeds' own (conditional models; ignored by unconditional ones).
    /// </summary>
    public Tensor Generate(IReadOnlyList<long> seeds, double truncation = 1.0, IReadOnlyList<int>? classes = null)
    {
        using var z = GeneratorTensors.Latents(seeds, Spec.LatentSize);
        return GenerateFrom(z, truncation, classes ?? ClassesFor(seeds));
    }

    /// <summary>steps images along the great circle from seedA's z to seedB's z (of seedA's class, or the one given).</summary>
    public Tensor Interpolate(long seedA, long seedB, int steps, double truncation = 1.0, int? @class = null)
    {
        float[] ends = LatentNoise.Draw([seedA, seedB], Spec.LatentSize);
        using var path = torch.tensor(Seeds.Slerp(ends.AsSpan(0, Spec.LatentSize), ends.AsSpan(Spec.LatentSize), steps), [steps, Spec.LatentSize]);
        int fixedClass = @class ?? ClassesFor([seedA])[0];
        return GenerateFrom(path, truncation, Enumerable.Repeat(fixedClass, steps).ToArray());
    }

    /// <summary>Each seed's own class, drawn as often as the training data holds it (all 0 for an unconditional model).</summary>
    public int[] ClassesFor(IReadOnlyList<long> seeds) => GeneratorClasses.ClassesFor(this, seeds);

    /// <summary>Images from latents z [n, nz] and, for a conditional model, a class per row.</summary>
    public Tensor GenerateFrom(Tensor z, double truncation, IReadOnlyList<int> classes)
    {
        if (!(truncation > 0 && truncation <= 2)) throw new ArgumentOutOfRangeException(nameof(truncation), truncation, "truncation must be in (0, 2]");
        using var inference = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        var latents = truncation == 1.0 ? z : z * truncation;
        return Generator.Generate(GeneratorTensors.Inputs(Spec, latents, classes)).MoveToOuterDisposeScope();
    }

    /// <summary>Images from the generator's whole input ([n, nz + classes]: z already truncated, classes appended).</summary>
    public Tensor GenerateFrom(Tensor inputs)
    {
        using var inference = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        return Generator.Generate(inputs).MoveToOuterDisposeScope();
    }

    public string Backend => "libtorch";

    /// <summary>The serving path: latents [count, nz] and a class per image (conditional models) to images [count, C, H, W] in [-1, 1].</summary>
    public float[] Generate(float[] latents, int[] classes, int count)
    {
        using var scope = torch.NewDisposeScope();
        using var images = GenerateFrom(torch.tensor(latents, [count, Spec.LatentSize]), 1.0, classes);
        return images.data<float>().ToArray();
    }

    public bool CanReconstruct => loaded.Encoder is not null;

    /// <summary>
    /// VAE: images [n, C, H, W] in [-1, 1] through the encoder's mean and the decoder. A class-conditional VAE needs each
    /// image's class (classes, one per image): its encoder reads it, where it takes one, and its decoder draws the image
    /// as that class.
    /// </summary>
    public Tensor Reconstruct(Tensor images, IReadOnlyList<int>? classes = null)
    {
        if (loaded.Encoder is not { } encoder) throw new InvalidOperationException($"a {Spec.Kind} checkpoint cannot reconstruct images; only VAEs can");
        ReconstructionClasses.Check(Spec, classes);
        using var inference = torch.inference_mode();
        using var scope = torch.NewDisposeScope();
        var labels = classes is null ? null : GeneratorTensors.Labels(Spec, classes, images.shape[0]);
        var latents = encoder.EncodeMean(images, labels);
        return Generator.Generate(GeneratorTensors.Inputs(Spec, latents, classes ?? [])).MoveToOuterDisposeScope();
    }

    /// <summary>The serving path's reconstruction: an image's 8-bit pixels [C, H, W] at the model's size (ImageDecoder's) to the PNG of its reconstruction.</summary>
    public byte[] ReconstructPng(byte[] pixels, int? imageClass = null)
    {
        using var scope = torch.NewDisposeScope();
        var input = ImageTensorDataset.ToUnitRange(torch.tensor(pixels, [1, Spec.Channels, Spec.ImageSize, Spec.ImageSize]));
        return TensorImages.EncodePng(Reconstruct(input, imageClass is { } c ? [c] : null)[0]);
    }

    public void Dispose() => loaded.Dispose();
}
