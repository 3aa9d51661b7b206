using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Data;

/// <summary>
/// A dataset the project draws itself: filled circles, squares, triangles and rings at random positions,
/// sizes and brightness on a dark background. Used by the tests and whenever Fashion-MNIST is not installed.
/// Deterministic for a seed.
/// </summary>
public static class SyntheticShapes
{
    public static ImageTensorDataset Generate(int count, int imageSize, int channels, int seed = 0)
    {
        int imageBytes = channels * imageSize * imageSize;
        var pixels = new byte[(long)count * imageBytes];
        var random = new Random(seed);
        for (int i = 0; i < count; i++)
        {
            using var bitmap = Draw(random, imageSize);
            ImageDecoder.ToPlanar(bitmap, imageSize, channels).CopyTo(pixels, (long)i * imageBytes);
        }
        return new ImageTensorDataset(torch.tensor(pixels, [count, channels, imageSize, imageSize], ScalarType.Byte),
            $"synthetic shapes: {count} images");
    }

    /// <summary>One opaque shape image as a bitmap (tests encode it to PNG, JPEG and so on).</summary>
    public static SKBitmap Draw(Random random, int size)
    {
        var bitmap = new SKBitmap(new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Premul));
        using var canvas = new SKCanvas(bitmap);
        canvas.Clear(SKColors.Black);
        var color = new SKColor((byte)random.Next(120, 256), (byte)random.Next(120, 256), (byte)random.Next(120, 256));
        using var paint = new SKPaint { Color = color, IsAntialias = true, Style = SKPaintStyle.Fill };
        float radius = size * (0.18f + 0.17f * random.NextSingle());
        float cx = radius + (size - 2 * radius) * random.NextSingle();
        float cy = radius + (size - 2 * radius) * random.NextSingle();
        switch (random.Next(4))
        {
            case 0: canvas.DrawCircle(cx, cy, radius, paint); break;
            case 1: canvas.DrawRect(cx - radius, cy - radius, 2 * radius, 2 * radius, paint); break;
            case 2:
                using (var path = new SKPath())
                {
                    path.MoveTo(cx, cy - radius);
                    path.LineTo(cx + radius, cy + radius);
                    path.LineTo(cx - radius, cy + radius);
                    path.Close();
                    canvas.DrawPath(path, paint);
                }
                break;
            default:
                paint.Style = SKPaintStyle.Stroke;
                paint.StrokeWidth = Math.Max(1.5f, radius * 0.35f);
                canvas.DrawCircle(cx, cy, radius * 0.8f, paint);
                break;
        }
        return bitmap;
    }
}
