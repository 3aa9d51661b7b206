using ImageGen.Core.Imaging;
using ImageGen.Core.Models;
using Microsoft.ML.OnnxRuntime;

namespace ImageGen.Core.Sampling;

/// <summary>
/// A VAE served by ONNX Runtime whole: model.onnx generates (OnnxGenerator), and encoder.onnx maps an image (with its
/// class, where the encoder takes one) to its latent mean, which the decoder turns back into the reconstruction, as
/// ImageSampler.Reconstruct does in libtorch.
/// </summary>
public sealed class OnnxReconstructor : IImageReconstructor
{
    /// <summary>The encoder's input (images [batch, C, H, W] in [-1, 1]) and output (the latent mean [batch, nz]); the export writes these.</summary>
    public const string ImagesInput = "images", MeanOutput = "mu";
    private readonly OnnxGenerator generator;
    private readonly InferenceSession encoder;
    private readonly RunOptions runOptions = new();

    private OnnxReconstructor(OnnxGenerator generator, InferenceSession encoder)
    {
        this.generator = generator;
        this.encoder = encoder;
    }

    /// <summary>Takes ownership of the generator; refuses an encoder whose input or output does not fit its spec.</summary>
    public static OnnxReconstructor Load(OnnxGenerator generator, byte[] encoderModel, int threads = 0)
    {
        var spec = generator.Spec;
        var session = OnnxGenerator.CreateSession(encoderModel, threads);
        try
        {
            int[]? input = session.InputMetadata.TryGetValue(ImagesInput, out var i) ? i.Dimensions : null;
            int[]? output = session.OutputMetadata.TryGetValue(MeanOutput, out var o) ? o.Dimensions : null;
            if (input is not [_, var c, var h, var w] || (c, h, w) != (spec.Channels, spec.ImageSize, spec.ImageSize) || output is not [_, var nz] || nz != spec.LatentSize)
                throw new InvalidDataException($"the encoder's {ImagesInput} [{string.Join(", ", input ?? [])}] to {MeanOutput} [{string.Join(", ", output ?? [])}] does not fit " +
                    $"a {spec.ImageSize}x{spec.ImageSize}x{spec.Channels} model of nz {spec.LatentSize}");
            if (session.InputMetadata.ContainsKey(OnnxGenerator.ClassInput) != spec.ConditionalEncoder)
                throw new InvalidDataException(spec.ConditionalEncoder
                    ? $"the model's encoder takes each image's class, and this encoder has no {OnnxGenerator.ClassInput} input"
                    : $"this encoder takes a {OnnxGenerator.ClassInput} input, and the model's encoder takes none");
            return new OnnxReconstructor(generator, session);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    public ModelSpec Spec => generator.Spec;
    public IReadOnlyList<string> ClassNames => generator.ClassNames;
    public IReadOnlyList<int> ClassSizes => generator.ClassSizes;
    public string Backend => generator.Backend;
    public float[] Generate(float[] latents, int[] classes, int count) => generator.Generate(latents, classes, count);

    public byte[] ReconstructPng(byte[] pixels, int? imageClass = null)
    {
        ReconstructionClasses.Check(Spec, imageClass is { } c ? [c] : null);
        int size = Spec.Channels * Spec.ImageSize * Spec.ImageSize;
        if (pixels.Length != size) throw new ArgumentException($"{pixels.Length} pixel values for a {Spec.ImageSize}x{Spec.ImageSize}x{Spec.Channels} image");
        var images = new float[size];
        for (int k = 0; k < size; k++) images[k] = pixels[k] / 127.5f - 1f; // libtorch's ToUnitRange, in float
        float[] mean;
        var inputs = new Dictionary<string, OrtValue>();
        try
        {
            inputs[ImagesInput] = OrtValue.CreateTensorValueFromMemory(images, [1, Spec.Channels, Spec.ImageSize, Spec.ImageSize]);
            // Load refused any encoder whose class input does not match the spec's, so the spec says whether it takes one.
            if (Spec.ConditionalEncoder) inputs[OnnxGenerator.ClassInput] = OrtValue.CreateTensorValueFromMemory(new[] { (long)imageClass!.Value }, [1]);
            using var outputs = encoder.Run(runOptions, inputs, [MeanOutput]);
            mean = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }
        finally { foreach (var value in inputs.Values) value.Dispose(); }
        var reconstructed = generator.Generate(mean, [imageClass ?? 0], 1);
        return ImageGrid.EncodePng(ImageGrid.ToPixels(reconstructed, Spec.Channels, Spec.ImageSize, Spec.ImageSize, 0, 1), 0);
    }

    public void Dispose()
    {
        runOptions.Dispose();
        encoder.Dispose();
        generator.Dispose();
    }
}
