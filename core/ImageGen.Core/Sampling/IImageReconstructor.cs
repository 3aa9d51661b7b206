namespace ImageGen.Core.Sampling;

/// <summary>
/// A served generator that also reconstructs images through its encoder: a VAE's checkpoint under libtorch (ImageSampler),
/// or its model.onnx and encoder.onnx under ONNX Runtime (OnnxReconstructor).
/// </summary>
public interface IImageReconstructor : IServedGenerator
{
    /// <summary>
    /// An image's 8-bit pixels [C, H, W] at the model's size in, the PNG of its reconstruction out. Throws for a model that
    /// does not reconstruct: another family, or a class-conditional VAE, whose decoder needs a class the image does not carry.
    /// </summary>
    byte[] ReconstructPng(byte[] pixels);
}
