using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Imaging;

/// <summary>Tensors of images in [-1, 1] as pixels and PNGs: the floats are copied out once and ImageGrid does the rest.</summary>
public static class TensorImages
{
    /// <summary>[N, C, H, W] in [-1, 1], on any device and of any floating type, to 8-bit pixels; scale &gt; 1 enlarges each image by nearest neighbour.</summary>
    public static ImagePixels ToPixels(Tensor images, int scale = 1)
    {
        if (images.dim() != 4) throw new ArgumentException($"expected [N, C, H, W] images, got {images.dim()} dimensions");
        using var floats = images.detach().to(ScalarType.Float32, CPU).contiguous();
        long n = floats.shape[0], c = floats.shape[1], h = floats.shape[2], w = floats.shape[3];
        return ImageGrid.ToPixels(floats.data<float>().ToArray(), (int)c, (int)h, (int)w, 0, (int)n, scale);
    }

    /// <summary>One [C, H, W] image as a PNG.</summary>
    public static byte[] EncodePng(Tensor image)
    {
        using var batch = image.unsqueeze(0);
        return ImageGrid.EncodePng(ToPixels(batch), 0);
    }

    public static byte[] EncodeGridPng(Tensor images, int nrow = 8, int padding = 2) => ImageGrid.EncodeGridPng(ToPixels(images), nrow, padding);

    public static void SaveGridPng(Tensor images, string path, int nrow = 8, int padding = 2)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllBytes(path, EncodeGridPng(images, nrow, padding));
    }
}
