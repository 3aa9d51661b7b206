namespace ImageGen.Core.Imaging;

/// <summary>
/// 8-bit images, interleaved row-major (Gray8, or RGBA8888 with opaque alpha), image after image.
/// Plain bytes: PNG encoding and grid layout need no tensor, so they can run on any thread.
/// </summary>
public sealed record ImagePixels(byte[] Data, int Count, int Height, int Width, int BytesPerPixel)
{
    public int ImageBytes => Height * Width * BytesPerPixel;
}

/// <summary>8-bit pixels from images in [-1, 1], image grids and PNG encoding: plain arrays, no tensor.</summary>
public static class ImageGrid
{
    /// <summary>
    /// Images first..first+count-1 of [N, C, H, W] floats in [-1, 1] (row-major, as an ONNX session returns them) to 8-bit
    /// pixels: (x + 1) * 127.5 in float, rounded half to even (libtorch's round), clamped; RGB gains opaque alpha. Every
    /// image this project writes, served or saved, goes through here.
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
}
