using ImageGen.Core.Models;

namespace ImageGen.Core.Sampling;

/// <summary>
/// A generator as the server runs it, on plain arrays: latents [count, nz] and a class per image (conditional models)
/// in, images [count, C, H, W] in [-1, 1] out. Two backends: libtorch (ImageSampler, the checkpoint's network) and
/// ONNX Runtime (OnnxGenerator, the version's model.onnx). The same seeds give the same images within one level in 255.
/// </summary>
public interface IServedGenerator : IDisposable
{
    ModelSpec Spec { get; }
    /// <summary>The class names of a class-conditional model, by index; empty for an unconditional one.</summary>
    IReadOnlyList<string> ClassNames { get; }
    /// <summary>
    /// The training images of each class, by index, which set how often a sample without a class draws each one; empty
    /// for an unconditional model and for models saved before they were recorded (uniform draws).
    /// </summary>
    IReadOnlyList<int> ClassSizes { get; }
    /// <summary>"libtorch" or "onnxruntime".</summary>
    string Backend { get; }
    float[] Generate(float[] latents, int[] classes, int count);
}
