using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Imaging;

/// <summary>Image grids and PNG encoding for tensors of images in [-1, 1].</summary>
public static class ImageGrid
{
    /// <summary>
    /// Lays out [N, C, H, W] images in rows of nrow with padding pixels between them (as torchvision's make_grid,
    /// but keeping one channel for grayscale). Returns [C, H', W'] in the input's range; padding uses padValue.
    /// </summary>
    public static Tensor MakeGrid(Tensor images, int nrow = 8, int padding = 2, double padValue = -1.0)
    {
        if (images.dim() != 4) throw new ArgumentException($"expected [N, C, H, W] images, got {images.dim()} dimensions");
        long n = images.shape[0], c = images.shape[1], h = images.shape[2], w = images.shape[3];
        long columns = Math.Max(1, Math.Min(nrow, n));
        long rows = (n + columns - 1) / columns;
        var grid = torch.full([c, rows * (h + padding) + padding, columns * (w + padding) + padding], padValue, images.dtype);
        for (long i = 0; i < n; i++)
        {
            long row = i / columns, col = i % columns;
            long top = padding + row * (h + padding), left = padding + col * (w + padding);
            using var rowBand = grid.narrow(1, top, h); // every view is disposed: a stray view keeps the grid's storage alive
            using var cell = rowBand.narrow(2, left, w);
            using var image = images[i];
            cell.copy_(image);
        }
        return grid;
    }

    /// <summary>[C, H, W] in [-1, 1] to 8-bit pixels, row-major, C interleaved (Gray8 or RGBA8888).</summary>
    public static byte[] ToBytes(Tensor image, out int width, out int height, out int channels)
    {
        channels = (int)image.shape[0];
        height = (int)image.shape[1];
        width = (int)image.shape[2];
        using var scope = torch.NewDisposeScope();
        var bytes = image.add(1.0).mul_(127.5).round_().clamp_(0, 255).to_type(ScalarType.Byte);
        if (channels == 3) bytes = torch.cat([bytes, torch.full([1, height, width], (byte)255, ScalarType.Byte)], 0);
        return bytes.permute(1, 2, 0).contiguous().data<byte>().ToArray();
    }

    public static byte[] EncodePng(Tensor image)
    {
        var pixels = ToBytes(image, out int width, out int height, out int channels);
        var info = new SKImageInfo(width, height, channels == 1 ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque);
        using var bitmap = new SKBitmap(info);
        System.Runtime.InteropServices.Marshal.Copy(pixels, 0, bitmap.GetPixels(), pixels.Length);
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    public static byte[] EncodeGridPng(Tensor images, int nrow = 8, int padding = 2)
    {
        using var grid = MakeGrid(images, nrow, padding);
        return EncodePng(grid);
    }

    public static void SaveGridPng(Tensor images, string path, int nrow = 8, int padding = 2)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllBytes(path, EncodeGridPng(images, nrow, padding));
    }
}
