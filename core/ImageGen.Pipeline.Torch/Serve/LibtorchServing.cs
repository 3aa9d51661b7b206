using ImageGen.Core.Runtime;
using ImageGen.Core.Sampling;
using Microsoft.Extensions.DependencyInjection;
using TorchSharp;

namespace ImageGen.Pipeline.Serve;

/// <summary>Checkpoints served by libtorch (ImageSampler), for the builds that carry it.</summary>
public sealed class LibtorchServing : ICheckpointServing
{
    /// <summary>ImageSampler loads every checkpoint onto the CPU, GPU machine or not (only training uses the GPU).</summary>
    public string Device => "cpu";
    public int Threads => torch.get_num_threads();
    public IImageReconstructor Load(Stream checkpoint) => ImageSampler.Load(checkpoint);
}

public static class LibtorchServingServices
{
    /// <summary>Adds libtorch to AddImageGenServing's services: checkpoints without model.onnx, Serve__Backend libtorch, and VAE reconstruction.</summary>
    public static IServiceCollection AddLibtorchServing(this IServiceCollection services) => services.AddSingleton<ICheckpointServing, LibtorchServing>();
}
