using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Models;

/// <summary>A network that turns latent vectors [batch, nz] into images [batch, C, H, W] in [-1, 1].</summary>
public interface IImageGenerator : IDisposable
{
    ModelSpec Spec { get; }
    Tensor Generate(Tensor z);
    nn.Module AsModule { get; }
}

public static class GeneratorFactory
{
    public static IImageGenerator Create(ModelSpec spec) => spec.Kind switch
    {
        ModelKind.Dcgan => new DcganGenerator(spec),
        ModelKind.Vae => new VaeDecoder(spec),
        _ => throw new ArgumentOutOfRangeException(nameof(spec), spec.Kind, "unknown model kind"),
    };
}
