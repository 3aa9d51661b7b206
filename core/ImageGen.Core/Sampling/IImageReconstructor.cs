namespace ImageGen.Core.Sampling;

/// <summary>
/// A served generator that also reconstructs images through its encoder (a VAE's checkpoint under libtorch): an image's
/// 8-bit pixels [C, H, W] at the model's size in, the PNG of its reconstruction out.
/// </summary>
public interface IImageReconstructor : IServedGenerator
{
    /// <summary>False for a family without an encoder, and for a class-conditional VAE, whose decoder needs a class the image does not carry.</summary>
    bool CanReconstruct { get; }
    byte[] ReconstructPng(byte[] pixels);
}
