using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Data;

/// <summary>
/// A dataset held in memory as uint8 pixels [N, C, H, W] (the packed form: 4x smaller than float).
/// Batches are converted to float in [-1, 1] on the way out. A labelled dataset also holds each image's class index
/// (int64 [N]) and the class names.
/// </summary>
public sealed class ImageTensorDataset : IDisposable
{
    public Tensor Pixels { get; }
    public int Count => (int)Pixels.shape[0];
    public int Channels => (int)Pixels.shape[1];
    public int ImageSize => (int)Pixels.shape[2];
    public string Description { get; }
    /// <summary>Each image's class index, int64 [N]; null for an unlabelled dataset.</summary>
    public Tensor? Labels { get; }
    /// <summary>The class names, by index; empty for an unlabelled dataset.</summary>
    public IReadOnlyList<string> ClassNames { get; }

    public ImageTensorDataset(Tensor pixels, string description, Tensor? labels = null, IReadOnlyList<string>? classNames = null)
    {
        if (pixels.dtype != ScalarType.Byte || pixels.dim() != 4 || pixels.shape[2] != pixels.shape[3])
            throw new ArgumentException($"pixels must be uint8 [N, C, S, S], got {pixels.dtype} [{string.Join(", ", pixels.shape)}]");
        if ((labels is null) != (classNames is null or { Count: 0 }))
            throw new ArgumentException("labels and class names come together");
        if (labels is not null && (labels.dtype != ScalarType.Int64 || labels.shape.Length != 1 || labels.shape[0] != pixels.shape[0]))
            throw new ArgumentException($"labels must be int64 [{pixels.shape[0]}], got {labels.dtype} [{string.Join(", ", labels.shape)}]");
        if (labels is not null && labels.numel() > 0 && (labels.min().item<long>() < 0 || labels.max().item<long>() >= classNames!.Count))
            throw new ArgumentException($"labels must lie in 0..{classNames!.Count - 1}");
        Pixels = pixels;
        Description = description;
        Labels = labels;
        ClassNames = classNames ?? [];
    }

    /// <summary>The images of each class, by index; empty for an unlabelled dataset.</summary>
    public int[] ClassSizes()
    {
        if (Labels is null) return [];
        using var counts = Labels.bincount(null, ClassNames.Count);
        return [.. counts.data<long>().ToArray().Select(n => (int)n)];
    }

    /// <summary>Class indices for the given image indices; null for an unlabelled dataset.</summary>
    public Tensor? BatchLabels(Tensor indices) => Labels?.index_select(0, indices);

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
        return new ImageTensorDataset(converted, Description, Labels, Labels is null ? null : ClassNames);
    }

    /// <summary>The first n images (n clamped to the count).</summary>
    public ImageTensorDataset Take(int n) => new(Pixels[..Math.Min(n, Count)].clone(), Description + $" (first {Math.Min(n, Count)})",
        Labels?[..Math.Min(n, Count)].clone(), Labels is null ? null : ClassNames);

    /// <summary>The images at the given indices (a copy), with their labels.</summary>
    public ImageTensorDataset Select(Tensor indices, string description) =>
        new(Pixels.index_select(0, indices), description, Labels?.index_select(0, indices), Labels is null ? null : ClassNames);

    /// <summary>The same images (a copy) without classes, as an unlabelled drop of them would load.</summary>
    public ImageTensorDataset WithoutLabels(string? description = null) => new(Pixels.clone(), description ?? Description);

    public void Dispose() { Pixels.Dispose(); Labels?.Dispose(); }
}
