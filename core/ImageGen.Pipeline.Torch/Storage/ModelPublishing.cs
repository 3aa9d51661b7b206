using ImageGen.Core.Checkpoints;
using ImageGen.Core.Export;

namespace ImageGen.Pipeline.Storage;

/// <summary>
/// Publishing from a checkpoint: its served generator (the moving average where it has one) exported to model.onnx beside
/// it, and a VAE's encoder to encoder.onnx.
/// </summary>
public static class ModelPublishing
{
    /// <summary>ModelRegistry.PublishAsync with model.onnx exported from the checkpoint.</summary>
    public static async Task<LatestPointer?> PublishAsync(this ModelRegistry registry, ModelCard card, Stream checkpoint, byte[]? samplesPng,
        CancellationToken cancellationToken = default) =>
        await registry.PublishAsync(card, await ExportAsync(checkpoint, samplesPng, cancellationToken), cancellationToken);

    /// <summary>ModelRegistry.PublishRunAsync with model.onnx exported from the checkpoint, unless the version is already complete.</summary>
    public static Task<LatestPointer?> PublishRunAsync(this ModelRegistry registry, ModelCard card, Stream checkpoint, byte[]? samplesPng,
        Func<LatestPointer?, bool> mayMove, CancellationToken cancellationToken = default) =>
        registry.PublishRunAsync(card, ct => ExportAsync(checkpoint, samplesPng, ct), mayMove, cancellationToken);

    /// <summary>The checkpoint read once into memory (the export and the upload both read it) and its networks exported.</summary>
    public static async Task<ModelFiles> ExportAsync(Stream checkpoint, byte[]? samplesPng, CancellationToken cancellationToken = default)
    {
        var buffered = new MemoryStream();
        await checkpoint.CopyToAsync(buffered, cancellationToken);
        buffered.Position = 0;
        byte[] onnx;
        byte[]? encoder;
        using (var loaded = GeneratorCheckpoint.Load(buffered))
        {
            onnx = OnnxExport.ToBytes(loaded);
            encoder = OnnxExport.EncoderToBytes(loaded);
        }
        buffered.Position = 0;
        return new ModelFiles(buffered, onnx, encoder, samplesPng);
    }
}
