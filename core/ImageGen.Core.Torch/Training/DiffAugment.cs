using ImageGen.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Training;

/// <summary>
/// DiffAugment: the same random, differentiable transformations applied to every image the discriminator sees, real
/// or generated, in D's step and in G's alike, so D cannot memorise a small dataset and G learns the un-augmented
/// distribution (nothing here ever touches a sample). Images are [N, C, H, W] in [-1, 1]; 0 is the fill value, as in
/// the paper's code. Randomness comes from torch's global generator on the CPU (moved to the images' device), which
/// checkpoints save, so resume stays bit-exact and a GPU run draws the same transformations.
/// </summary>
public static class DiffAugment
{
    /// <summary>Translation moves each image by up to this share of its side (the paper's 1/8).</summary>
    public const double TranslationRatio = 0.125;
    /// <summary>Cutout blanks a square of this share of the side (the paper's 1/2).</summary>
    public const double CutoutRatio = 0.5;

    /// <summary>
    /// The policy's transformations in order. Probability 1 (DiffAugment) transforms every image; below 1 (ADA), each
    /// transformation is applied to each image with that probability, the others passing through unchanged.
    /// </summary>
    public static Tensor Apply(Tensor images, Augmentations policy, double probability = 1)
    {
        if (policy == Augmentations.None) return images;
        var x = images;
        if (policy.HasFlag(Augmentations.Color)) x = Sometimes(x, Color, probability);
        if (policy.HasFlag(Augmentations.Translation)) x = Sometimes(x, Translate, probability);
        if (policy.HasFlag(Augmentations.Cutout)) x = Sometimes(x, Cutout, probability);
        return x;
    }

    private static Tensor Sometimes(Tensor x, Func<Tensor, Tensor> transform, double probability)
    {
        if (probability >= 1) return transform(x);
        var chosen = (torch.rand(x.shape[0]) < probability).view(-1, 1, 1, 1).to(x.device);
        return torch.where(chosen, transform(x), x);
    }

    /// <summary>Random brightness (±0.5), saturation (x0..2) and contrast (x0.5..1.5) per image.</summary>
    public static Tensor Color(Tensor x)
    {
        long n = x.shape[0];
        x = x + (torch.rand(n, 1, 1, 1) - 0.5).to(x.device);
        if (x.shape[1] > 1)
        {
            var channelMean = x.mean([1], keepdim: true);
            x = (x - channelMean) * (torch.rand(n, 1, 1, 1) * 2).to(x.device) + channelMean;
        }
        var imageMean = x.mean([1, 2, 3], keepdim: true);
        return (x - imageMean) * (torch.rand(n, 1, 1, 1) + 0.5).to(x.device) + imageMean;
    }

    /// <summary>Shifts each image by a whole number of pixels in [-s, s] on each axis, s = side/8, filling with 0.</summary>
    public static Tensor Translate(Tensor x)
    {
        long n = x.shape[0], h = x.shape[2], w = x.shape[3];
        long sy = (long)(h * TranslationRatio + 0.5), sx = (long)(w * TranslationRatio + 0.5);
        var shiftY = torch.randint(-sy, sy + 1, [n, 1, 1], dtype: ScalarType.Int64).to(x.device);
        var shiftX = torch.randint(-sx, sx + 1, [n, 1, 1], dtype: ScalarType.Int64).to(x.device);
        // Output pixel (y, x) reads input (y - shiftY, x - shiftX), or the fill where that lies outside.
        var rows = torch.arange(h, dtype: ScalarType.Int64, device: x.device).view(1, h, 1) - shiftY;   // [n, h, 1]
        var cols = torch.arange(w, dtype: ScalarType.Int64, device: x.device).view(1, 1, w) - shiftX;   // [n, 1, w]
        var inside = ((rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)).unsqueeze(1); // [n, 1, h, w]
        var flat = (rows.clamp(0, h - 1) * w + cols.clamp(0, w - 1)).view(n, 1, h * w).expand(-1, x.shape[1], -1);
        var moved = x.flatten(2).gather(2, flat).view(x.shape);
        return moved * inside.to_type(x.dtype);
    }

    /// <summary>Sets a square of half the side to 0 at a random centre per image (it may hang over the edge).</summary>
    public static Tensor Cutout(Tensor x)
    {
        long n = x.shape[0], h = x.shape[2], w = x.shape[3];
        long ch = (long)(h * CutoutRatio + 0.5), cw = (long)(w * CutoutRatio + 0.5);
        var top = (torch.randint(0, h + (1 - ch % 2), [n, 1, 1], dtype: ScalarType.Int64) - ch / 2).to(x.device);
        var left = (torch.randint(0, w + (1 - cw % 2), [n, 1, 1], dtype: ScalarType.Int64) - cw / 2).to(x.device);
        var rows = torch.arange(h, dtype: ScalarType.Int64, device: x.device).view(1, h, 1);
        var cols = torch.arange(w, dtype: ScalarType.Int64, device: x.device).view(1, 1, w);
        var hole = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw);
        return x * hole.logical_not().unsqueeze(1).to_type(x.dtype);
    }

    /// <summary>Mirrors a random half of the images left to right (the data's x-flip; not differentiable augmentation).</summary>
    public static Tensor RandomXFlip(Tensor x)
    {
        var flip = (torch.rand(x.shape[0]) < 0.5).view(-1, 1, 1, 1).to(x.device);
        return torch.where(flip, x.flip(3), x);
    }
}
