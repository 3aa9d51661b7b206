using System.Text.Json.Serialization;

namespace ImageGen.Core.Models;

[JsonConverter(typeof(JsonStringEnumConverter<ModelKind>))]
public enum ModelKind { Dcgan, Vae }

/// <summary>
/// Everything needed to rebuild a network before its weights are loaded. Saved in every checkpoint,
/// so a checkpoint loads without knowing its shape beforehand. Names follow the DCGAN paper/examples.
/// </summary>
public sealed record ModelSpec
{
    public static readonly int[] SupportedImageSizes = [32, 64, 128];
    public static readonly int[] SupportedChannels = [1, 3];
    /// <summary>
    /// The most parameters (generator plus discriminator or encoder) a model may have. A checkpoint holds at most four
    /// float32 copies of them (weights, Adam's two moments, the generator's moving average): 100 M parameters make at most
    /// 1.6 GB, so every checkpoint and every section stays under the 2 GiB a section length and a MemoryStream allow.
    /// </summary>
    public const long MaxParameters = 100_000_000;
    /// <summary>The most classes a class-conditional model may have.</summary>
    public const int MaxClasses = 1000;

    public ModelKind Kind { get; init; } = ModelKind.Dcgan;
    public int ImageSize { get; init; } = 32;
    public int Channels { get; init; } = 1;
    /// <summary>nz: size of the latent vector z.</summary>
    public int LatentSize { get; init; } = 100;
    /// <summary>ngf: width of the generator (VAE: decoder).</summary>
    public int Ngf { get; init; } = 64;
    /// <summary>ndf: width of the discriminator (VAE: encoder).</summary>
    public int Ndf { get; init; } = 64;
    /// <summary>
    /// Classes of a class-conditional model (0: unconditional). The generator's input is then z followed by the class
    /// as a one-hot vector (ClassConditioning); the checkpoint header names the classes.
    /// </summary>
    public int Classes { get; init; }
    /// <summary>
    /// A class-conditional VAE whose encoder also takes the class, q(z | x, y), as every conditional VAE trained since 2026-12-06 does.
    /// False in the checkpoints of conditional VAEs from before, whose encoder is q(z | x): they load and resume as they were.
    /// </summary>
    public bool ConditionalEncoder { get; init; }

    public static ModelSpec DefaultFor(ModelKind kind, int imageSize = 32, int channels = 1) => ModelFamily.For(kind).DefaultSpec(imageSize, channels);

    /// <summary>Width of the generator's input: z, then the one-hot class where conditional.</summary>
    public int InputSize => LatentSize + Classes;

    /// <summary>Number of stride-2 up (or down) sampling stages between 4x4 and the image size.</summary>
    public int Stages => (int)Math.Log2(ImageSize / 4);

    public void Validate()
    {
        if (!SupportedImageSizes.Contains(ImageSize))
            throw new ArgumentException($"image size {ImageSize} is not supported; use one of {string.Join(", ", SupportedImageSizes)}");
        if (!SupportedChannels.Contains(Channels))
            throw new ArgumentException($"channels {Channels} is not supported; use 1 (grayscale) or 3 (RGB)");
        if (LatentSize is < 1 or > 4096) throw new ArgumentException($"latent size {LatentSize} is outside 1..4096");
        if (Ngf is < 1 or > 1024) throw new ArgumentException($"ngf {Ngf} is outside 1..1024");
        if (Ndf is < 1 or > 1024) throw new ArgumentException($"ndf {Ndf} is outside 1..1024");
        if (Classes is < 0 or 1 or > MaxClasses) throw new ArgumentException($"classes {Classes} must be 0 (unconditional) or 2..{MaxClasses}");
        if (ConditionalEncoder && (!ModelFamily.For(Kind).HasEncoder || Classes == 0))
            throw new ArgumentException($"a conditional encoder belongs to a class-conditional VAE, not to a {(Classes == 0 ? "model without classes" : Kind.ToString())}");
        ValidateSize(MaxParameters);
    }

    /// <summary>Refuses a model over maxParameters, naming its count, before anything is allocated.</summary>
    public void ValidateSize(long maxParameters)
    {
        long generator = ModelSize.GeneratorParameters(this), critic = ModelSize.CriticParameters(this);
        if (generator + critic > maxParameters)
            throw new ArgumentException($"the model has {generator + critic:N0} parameters (generator {generator:N0}, {(Kind == ModelKind.Vae ? "encoder" : "discriminator")} {critic:N0}), " +
                                        $"over the limit of {maxParameters:N0}; lower ngf, ndf, nz or the image size");
    }
}
