using SkiaSharp;

namespace ImageGen.Core.Data;

/// <summary>Limits checked before any pixel is decoded (from the file size and the image header).</summary>
public sealed record DecodeLimits
{
    public int MaxSide { get; init; } = 4096;
    public long MaxPixels { get; init; } = 16_000_000;
    public long MaxBytes { get; init; } = 64L * 1024 * 1024;
    /// <summary>
    /// Pixels decoded at once across parallel decodes (each costs about 8 bytes a pixel while it runs); an image
    /// over the whole budget decodes alone.
    /// </summary>
    public long MaxPixelsInFlight { get; init; } = 64_000_000;
    public static readonly DecodeLimits Default = new();
}

/// <summary>Either planar pixels ([C, S, S], uint8) or the reason the input was rejected.</summary>
public readonly record struct DecodeResult(byte[]? Pixels, string? Rejection)
{
    public bool Accepted => Pixels is not null;
    public static DecodeResult Reject(string reason) => new(null, reason);
    public static DecodeResult Accept(byte[] pixels) => new(pixels, null);
}

/// <summary>An image's size from its header alone, or the reason it was rejected before any pixel was decoded.</summary>
public readonly record struct ImageHeader(int Width, int Height, string? Rejection)
{
    public long Pixels => (long)Width * Height;
}

/// <summary>
/// Decodes PNG, JPEG, BMP, GIF (first frame) and WebP with SkiaSharp, then centre-crops to a square,
/// resizes to the target size and converts to grayscale or RGB. Transparent pixels are composited over white.
/// </summary>
public static class ImageDecoder
{
    public static readonly SKEncodedImageFormat[] SupportedFormats =
        [SKEncodedImageFormat.Png, SKEncodedImageFormat.Jpeg, SKEncodedImageFormat.Bmp, SKEncodedImageFormat.Gif, SKEncodedImageFormat.Webp];

    /// <summary>Reads the header only, with every check that needs no pixels; cheap enough to run before waiting for memory.</summary>
    public static ImageHeader Identify(byte[] data, DecodeLimits? limits = null)
    {
        var (codec, header) = Open(data, limits ?? DecodeLimits.Default);
        codec?.Dispose();
        return header;
    }

    /// <summary>
    /// Decodes once the image's pixels, read from its header, fit in <paramref name="budget"/>: parallel callers are bounded
    /// by the memory their decodes take (about 8 bytes a pixel while decoding), not only by how many run.
    /// </summary>
    public static async Task<DecodeResult> DecodeWithinAsync(PixelBudget budget, byte[] data, int imageSize, int channels, DecodeLimits? limits = null,
        CancellationToken cancellationToken = default)
    {
        var header = Identify(data, limits);
        if (header.Rejection is { } reason) return DecodeResult.Reject(reason);
        using (await budget.AcquireAsync(header.Pixels, cancellationToken)) return Decode(data, imageSize, channels, limits);
    }

    public static DecodeResult Decode(byte[] data, int imageSize, int channels, DecodeLimits? limits = null)
    {
        var (opened, header) = Open(data, limits ?? DecodeLimits.Default);
        if (opened is null) return DecodeResult.Reject(header.Rejection!);
        using var codec = opened;
        int width = header.Width, height = header.Height;
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var decoded = new SKBitmap(info);
        // GetPixels reports a truncated file (SKBitmap.Decode would silently fill the missing rows).
        var result = codec.GetPixels(info, decoded.GetPixels());
        if (result == SKCodecResult.IncompleteInput) return DecodeResult.Reject("truncated image: pixel data ends early");
        if (result != SKCodecResult.Success) return DecodeResult.Reject($"undecodable image data ({result})");
        return DecodeResult.Accept(ToPlanar(decoded, imageSize, channels));
    }

    /// <summary>Why a file of this many bytes is refused before it is read, or null.</summary>
    public static string? SizeRejection(long length, DecodeLimits limits) =>
        length == 0 ? "empty file (0 bytes)" : length > limits.MaxBytes ? $"file is {length} bytes, over the {limits.MaxBytes}-byte limit" : null;

    /// <summary>The one place an input is checked before decoding: its size, its format and its declared dimensions.</summary>
    private static (SKCodec? Codec, ImageHeader Header) Open(byte[] data, DecodeLimits limits)
    {
        static (SKCodec?, ImageHeader) Reject(string reason) => (null, new ImageHeader(0, 0, reason));
        if (SizeRejection(data.Length, limits) is { } badSize) return Reject(badSize);
        var codec = SKCodec.Create(new MemoryStream(data, writable: false), out var createResult);
        if (codec is null)
            return Reject(createResult == SKCodecResult.IncompleteInput
                ? "truncated image: the header is incomplete"
                : "not a recognised image (expected PNG, JPEG, BMP, GIF or WebP data)");
        int width = codec.Info.Width, height = codec.Info.Height;
        string? rejection =
            !SupportedFormats.Contains(codec.EncodedFormat) ? $"format {codec.EncodedFormat} is not supported; use PNG, JPEG, BMP, GIF or WebP"
            : width < 1 || height < 1 ? $"image declares {width}x{height} pixels"
            : width > limits.MaxSide || height > limits.MaxSide ? $"image is {width}x{height} pixels, over the {limits.MaxSide}-pixel limit per side"
            : (long)width * height > limits.MaxPixels ? $"image is {width}x{height} = {(long)width * height} pixels, over the {limits.MaxPixels}-pixel limit"
            : null;
        if (rejection is null) return (codec, new ImageHeader(width, height, null));
        codec.Dispose();
        return Reject(rejection);
    }

    /// <summary>Centre-crop to a square, resize with a good filter, flatten alpha over white, return [C, S, S] bytes.</summary>
    public static byte[] ToPlanar(SKBitmap source, int imageSize, int channels)
    {
        int side = Math.Min(source.Width, source.Height);
        var crop = SKRectI.Create((source.Width - side) / 2, (source.Height - side) / 2, side, side);
        using var image = SKImage.FromBitmap(source);
        using var target = new SKBitmap(new SKImageInfo(imageSize, imageSize, SKColorType.Rgba8888, SKAlphaType.Premul));
        using (var canvas = new SKCanvas(target))
        {
            canvas.Clear(SKColors.White);
            // Mipmaps for large reductions (no aliasing), Mitchell cubic otherwise.
            var sampling = side >= imageSize * 2
                ? new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Linear)
                : new SKSamplingOptions(SKCubicResampler.Mitchell);
            using var paint = new SKPaint();
            canvas.DrawImage(image, crop, SKRect.Create(imageSize, imageSize), sampling, paint);
        }
        var rgba = target.GetPixelSpan();
        int plane = imageSize * imageSize;
        var planar = new byte[channels * plane];
        for (int i = 0; i < plane; i++)
        {
            byte r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2];
            if (channels == 1) planar[i] = (byte)Math.Clamp((int)Math.Round(0.299 * r + 0.587 * g + 0.114 * b), 0, 255);
            else { planar[i] = r; planar[plane + i] = g; planar[2 * plane + i] = b; }
        }
        return planar;
    }
}
