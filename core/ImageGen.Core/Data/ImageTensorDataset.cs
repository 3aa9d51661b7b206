using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Data;

/// <summary>
/// A dataset held in memory as uint8 pixels [N, C, H, W] (the packed form: 4x smaller than float).
/// Batches are converted to float in [-1, 1] on the way out.
/// </summary>
public sealed class ImageTensorDataset : IDisposable
{
    public Tensor Pixels { get; }
    public int Count => (int)Pixels.shape[0];
    public int Channels => (int)Pixels.shape[1];
    public int ImageSize => (int)Pixels.shape[2];
    public string Description { get; }

    public ImageTensorDataset(Tensor pixels, string description)
    {
        if (pixels.dtype != ScalarType.Byte || pixels.dim() != 4 || pixels.shape[2] != pixels.shape[3])
            throw new ArgumentException($"pixels must be uint8 [N, C, S, S], got {pixels.dtype} [{string.Join(", ", pixels.shape)}]");
        Pixels = pixels;
        Description = description;
    }

    /// <summary>Float images in [-1, 1] for the given indices.</summary>
    public Tensor Batch(Tensor indices)
    {
        using var picked = Pixels.index_select(0, indices);
        return ToUnitRange(picked);
    }

    public static Tensor ToUnitRange(Tensor bytes) => bytes.to_type(ScalarType.Float32).div_(127.5).sub_(1.0);

    /// <summary>The same images at another size or channel count (bilinear, antialiased when shrinking; luma for RGB to gray).</summary>
    public ImageTensorDataset Convert(int imageSize, int channels)
    {
        if (imageSize == ImageSize && channels == Channels) return this;
        using var scope = torch.NewDisposeScope();
        var images = Pixels.to_type(ScalarType.Float32);
        if (channels == 1 && Channels == 3)
            images = (images[.., 0..1] * 0.299 + images[.., 1..2] * 0.587 + images[.., 2..3] * 0.114);
        else if (channels == 3 && Channels == 1)
            images = images.expand(-1, 3, -1, -1);
        else if (channels != Channels)
            throw new ArgumentException($"cannot convert {Channels} channels to {channels}");
        if (imageSize != ImageSize)
            images = nn.functional.interpolate(images, size: [imageSize, imageSize], mode: InterpolationMode.Bilinear,
                align_corners: false, antialias: imageSize < ImageSize);
        var converted = images.round_().clamp_(0, 255).to_type(ScalarType.Byte).contiguous().MoveToOuterDisposeScope();
        Pixels.Dispose();
        return new ImageTensorDataset(converted, Description);
    }

    /// <summary>The first n images (n clamped to the count).</summary>
    public ImageTensorDataset Take(int n) => new(Pixels[..Math.Min(n, Count)].clone(), Description + $" (first {Math.Min(n, Count)})");

    public void Dispose() => Pixels.Dispose();
}
