using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Models;

/// <summary>
/// Each model family's networks: the one table from a family to its generator (and encoder, where it reconstructs).
/// A family added to ModelFamily.All adds its row here; <c>family.CreateGenerator(spec)</c> reads as before.
/// </summary>
public static class ModelNetworks
{
    private sealed record Networks(Func<ModelSpec, IImageGenerator> Generator, Func<ModelSpec, IImageEncoder>? Encoder = null);

    private static readonly Dictionary<ModelKind, Networks> ByKind = new()
    {
        [ModelKind.Dcgan] = new(spec => new DcganGenerator(spec)),
        [ModelKind.Vae] = new(spec => new VaeDecoder(spec), spec => new VaeEncoder(spec)),
    };

    private static Networks Of(ModelFamily family) =>
        ByKind.TryGetValue(family.Kind, out var networks) ? networks : throw new InvalidOperationException($"the {family.Name} family has no networks registered in ModelNetworks");

    extension(ModelFamily family)
    {
        public IImageGenerator CreateGenerator(ModelSpec spec) => Of(family).Generator(spec);
        /// <summary>An encoder to reconstruct images with (VAE), or null where the family has none.</summary>
        public IImageEncoder? CreateEncoder(ModelSpec spec) => Of(family).Encoder?.Invoke(spec);
    }
}

/// <summary>A network that encodes images [batch, C, H, W] in [-1, 1] to latent means [batch, nz] for reconstruction.</summary>
public interface IImageEncoder : IDisposable
{
    /// <param name="labels">Each image's class, int64 [batch], for an encoder that takes it (TakesClass); else ignored.</param>
    Tensor EncodeMean(Tensor images, Tensor? labels = null);
    /// <summary>Whether EncodeMean needs each image's class: a class-conditional VAE's encoder, q(z | x, y).</summary>
    bool TakesClass { get; }
    /// <summary>EncodeMean's pass as plain layers with their weights, for the ONNX export (encoder.onnx).</summary>
    IReadOnlyList<InferenceLayer> InferenceLayers();
    nn.Module AsModule { get; }
}
