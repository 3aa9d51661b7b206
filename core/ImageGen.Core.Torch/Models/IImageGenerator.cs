using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Models;

/// <summary>A network that turns latent vectors [batch, nz] into images [batch, C, H, W] in [-1, 1].</summary>
public interface IImageGenerator : IDisposable
{
    ModelSpec Spec { get; }
    Tensor Generate(Tensor z);
    nn.Module AsModule { get; }
    /// <summary>The forward pass at inference (eval mode) as plain layers with their weights, for export.</summary>
    IReadOnlyList<InferenceLayer> InferenceLayers();
}
