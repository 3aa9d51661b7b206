using ImageGen.Core.Models;

namespace ImageGen.Core.Sampling;

/// <summary>
/// A served generator that also reconstructs images through its encoder: a VAE's checkpoint under libtorch (ImageSampler),
/// or its model.onnx and encoder.onnx under ONNX Runtime (OnnxReconstructor).
/// </summary>
public interface IImageReconstructor : IServedGenerator
{
    /// <summary>
    /// An image's 8-bit pixels [C, H, W] at the model's size in, the PNG of its reconstruction out. A class-conditional VAE
    /// needs the image's class (imageClass); an unconditional one takes none. Throws for a model that does not reconstruct
    /// (another family), and ArgumentException for a class that does not fit the model.
    /// </summary>
    byte[] ReconstructPng(byte[] pixels, int? imageClass = null);
}

/// <summary>The one check of which classes a reconstruction takes, for both backends.</summary>
public static class ReconstructionClasses
{
    /// <summary>
    /// ArgumentException where the classes given do not fit the model: a class-conditional VAE needs each image's class,
    /// an unconditional one takes none, and a class must lie in 0..classes-1.
    /// </summary>
    public static void Check(ModelSpec spec, IReadOnlyList<int>? imageClasses)
    {
        if (spec.Classes == 0 && imageClasses is not null)
            throw new ArgumentException("this VAE is not class-conditional: it reconstructs without classes", nameof(imageClasses));
        if (spec.Classes > 0 && imageClasses is null)
            throw new ArgumentException("a class-conditional VAE reconstructs an image with its class: give one per image", nameof(imageClasses));
        if ((imageClasses ?? []).Any(c => c < 0 || c >= spec.Classes))
            throw new ArgumentOutOfRangeException(nameof(imageClasses), $"classes lie in 0..{spec.Classes - 1}");
    }
}
