using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Imaging;

/// <summary>
/// 8-bit images, interleaved row-major (Gray8, or RGBA8888 with opaque alpha), image after image.
/// Plain bytes: PNG encoding and grid layout need no tensor, so they can run on any thread.
/// </summary>
public sealed record ImagePixels(byte[] Data, int Count, int Height, int Width, int BytesPerPixel)
{
    public int ImageBytes => Height * Width * BytesPerPixel;
}

/// <summary>Image grids and PNG encoding for tensors of images in [-1, 1].</summary>
public static class ImageGrid
{
    /// <summary>[N, C, H, W] in [-1, 1] to 8-bit pixels; scale &gt; 1 enlarges each image by nearest neighbour.</summary>
    public static ImagePixels ToPixels(Tensor images, int scale = 1)
    {
        using var bytes = ToByteImages(images, scale);
        return ReadPixels(bytes, 0, (int)bytes.shape[0]);
    }

    /// <summary>
    /// Images first..first+count-1 of [N, C, H, W] floats in [-1, 1] (row-major, as an ONNX session returns them) to 8-bit
    /// pixels, with ToByteImages' arithmetic: (x + 1) * 127.5 in float, rounded half to even, clamped; RGB gains opaque alpha.
    /// </summary>
    public static ImagePixels ToPixels(ReadOnlySpan<float> images, int channels, int height, int width, int first, int count, int scale = 1)
    {
        if (channels is not (1 or 3)) throw new ArgumentException($"images of {channels} channels; expected 1 or 3");
        int bpp = channels == 3 ? 4 : 1, outHeight = height * scale, outWidth = width * scale, plane = height * width;
        var data = new byte[(long)count * outHeight * outWidth * bpp is var size && size <= Array.MaxLength ? (int)size : throw new ArgumentOutOfRangeException(nameof(count))];
        for (int n = 0; n < count; n++)
        {
            var image = images.Slice((first + n) * channels * plane, channels * plane);
            int outBase = n * outHeight * outWidth * bpp;
            for (int y = 0; y < outHeight; y++)
                for (int x = 0; x < outWidth; x++)
                {
                    int source = y / scale * width + x / scale, target = outBase + (y * outWidth + x) * bpp;
                    for (int c = 0; c < channels; c++) data[target + c] = ToByte(image[c * plane + source]);
                    if (bpp == 4) data[target + 3] = 255;
                }
        }
        return new ImagePixels(data, count, outHeight, outWidth, bpp);
    }

    private static byte ToByte(float value) => (byte)Math.Clamp(MathF.Round((value + 1f) * 127.5f), 0f, 255f);

    /// <summary>
    /// [N, C, H, W] in [-1, 1] to a contiguous [N, H, W, 1 or 4] uint8 tensor (RGB gains opaque alpha); scale &gt; 1
    /// enlarges each image by nearest neighbour. Read images out of it with ReadPixels.
    /// </summary>
    public static Tensor ToByteImages(Tensor images, int scale = 1)
    {
        if (images.dim() != 4) throw new ArgumentException($"expected [N, C, H, W] images, got {images.dim()} dimensions");
        using var scope = torch.NewDisposeScope();
        var bytes = images.add(1.0).mul_(127.5).round_().clamp_(0, 255).to_type(ScalarType.Byte);
        if (scale > 1) bytes = bytes.repeat_interleave(scale, 2).repeat_interleave(scale, 3);
        long n = bytes.shape[0], c = bytes.shape[1], h = bytes.shape[2], w = bytes.shape[3];
        if (c == 3) bytes = torch.cat([bytes, torch.full([n, 1, h, w], (byte)255, ScalarType.Byte)], 1);
        return bytes.permute(0, 2, 3, 1).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Copies images first..first+count-1 of a ToByteImages tensor into managed memory (only those bytes).</summary>
    public static ImagePixels ReadPixels(Tensor byteImages, int first, int count)
    {
        if (byteImages.dtype != ScalarType.Byte || byteImages.dim() != 4 || !byteImages.is_contiguous())
            throw new ArgumentException("expected a contiguous [N, H, W, C] uint8 tensor from ToByteImages");
        if (first < 0 || count < 1 || first + count > byteImages.shape[0])
            throw new ArgumentOutOfRangeException(nameof(count), $"images {first}..{first + count - 1} of {byteImages.shape[0]}");
        using var mine = byteImages.narrow(0, first, count);
        return new ImagePixels(mine.data<byte>().ToArray(), count, (int)byteImages.shape[1], (int)byteImages.shape[2], (int)byteImages.shape[3]);
    }

    public static byte[] EncodePng(ImagePixels pixels, int index) =>
        PngEncoder.Encode(pixels.Data.AsSpan(index * pixels.ImageBytes, pixels.ImageBytes), pixels.Width, pixels.Height, pixels.BytesPerPixel);

    /// <summary>
    /// Lays the images out in rows of nrow with padding black pixels around and between them (as torchvision's
    /// make_grid, but keeping one channel for grayscale) and encodes the grid as one PNG.
    /// </summary>
    public static byte[] EncodeGridPng(ImagePixels pixels, int nrow = 8, int padding = 2)
    {
        int columns = Math.Max(1, Math.Min(nrow, pixels.Count));
        int rows = (pixels.Count + columns - 1) / columns;
        int bpp = pixels.BytesPerPixel;
        int gridWidth = columns * (pixels.Width + padding) + padding, gridHeight = rows * (pixels.Height + padding) + padding;
        var grid = new byte[gridWidth * gridHeight * bpp];
        if (bpp == 4) for (int i = 3; i < grid.Length; i += 4) grid[i] = 255; // opaque black padding
        int rowBytes = pixels.Width * bpp;
        for (int i = 0; i < pixels.Count; i++)
        {
            int top = padding + i / columns * (pixels.Height + padding), left = padding + i % columns * (pixels.Width + padding);
            for (int y = 0; y < pixels.Height; y++)
                Buffer.BlockCopy(pixels.Data, i * pixels.ImageBytes + y * rowBytes, grid, ((top + y) * gridWidth + left) * bpp, rowBytes);
        }
        return PngEncoder.Encode(grid, gridWidth, gridHeight, bpp);
    }

    public static byte[] EncodePng(Tensor image) => EncodePng(ToPixels(image.unsqueeze(0)), 0);

    public static byte[] EncodeGridPng(Tensor images, int nrow = 8, int padding = 2) => EncodeGridPng(ToPixels(images), nrow, padding);

    public static void SaveGridPng(Tensor images, string path, int nrow = 8, int padding = 2)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllBytes(path, EncodeGridPng(images, nrow, padding));
    }
}
