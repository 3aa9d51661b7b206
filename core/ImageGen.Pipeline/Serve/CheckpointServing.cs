using ImageGen.Core.Sampling;

namespace ImageGen.Pipeline.Serve;

/// <summary>
/// Serving from a version's checkpoint with libtorch: versions published before model.onnx existed, Serve__Backend
/// libtorch, and a VAE's reconstruction (its encoder is not exported). Builds that carry libtorch register one
/// (AddLibtorchServing, in ImageGen.Pipeline.Torch); the lean serving build has none and serves ONNX alone.
/// </summary>
public interface ICheckpointServing
{
    /// <summary>Where libtorch runs: "cpu" or "cuda:0".</summary>
    string Device { get; }
    /// <summary>libtorch's intra-op threads.</summary>
    int Threads { get; }
    /// <summary>The checkpoint's served generator (and encoder, for a VAE). Synchronous and slow: call it off the request's thread.</summary>
    IImageReconstructor Load(Stream checkpoint);
}
