using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using ImageGen.Core.Imaging;
using ImageGen.Core.Models;
using ImageGen.Pipeline.Http;

namespace ImageGen.Pipeline.Serve;

/// <summary>A sample request's answer: the four output formats (grid, one PNG, zip, JSON of base64 PNGs) and its Server-Timing.</summary>
public static class SampleEncoding
{
    public static ApiResult Encode(SampleQuery request, ImagePixels pixels, IReadOnlyList<string> names, string version, Dictionary<string, string> headers)
    {
        switch (request.Format)
        {
            case OutputFormat.Png:
                return new ApiResult(200, "image/png", ImageGrid.EncodePng(pixels, 0), headers);
            case OutputFormat.Zip:
            {
                using var buffer = new MemoryStream();
                using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
                    for (int i = 0; i < names.Count; i++)
                    {
                        using var entry = zip.CreateEntry(names[i], CompressionLevel.NoCompression).Open(); // PNG is compressed already
                        entry.Write(ImageGrid.EncodePng(pixels, i));
                    }
                return new ApiResult(200, "application/zip", buffer.ToArray(), headers);
            }
            case OutputFormat.Json:
            {
                // Written as it is encoded: each PNG goes straight into the body as base64, with no string per image.
                using var buffer = new MemoryStream();
                using (var writer = new Utf8JsonWriter(buffer))
                {
                    writer.WriteStartObject();
                    writer.WriteString("modelVersion", version);
                    writer.WritePropertyName("seeds");
                    JsonSerializer.Serialize(writer, request.Seeds, Json.Compact);
                    writer.WritePropertyName("names");
                    JsonSerializer.Serialize(writer, names, Json.Compact);
                    writer.WriteStartArray("images");
                    for (int i = 0; i < names.Count; i++) writer.WriteBase64StringValue(ImageGrid.EncodePng(pixels, i));
                    writer.WriteEndArray();
                    writer.WriteEndObject();
                }
                return new ApiResult(200, "application/json", buffer.ToArray(), headers);
            }
            default:
                return new ApiResult(200, "image/png", ImageGrid.EncodeGridPng(pixels, request.Nrow, request.Padding), headers);
        }
    }

    /// <summary>
    /// The Server-Timing header (W3C): time queued for the model's worker, the latents and the forward pass (shared
    /// with the other requests of its batch), conversion to pixels, encoding, and the whole handler, so a client can
    /// tell server time from network time.
    /// </summary>
    public static string ServerTiming(GeneratedImages generated, TimeSpan encode, TimeSpan total) => string.Create(CultureInfo.InvariantCulture,
        $"queue;dur={generated.Queued.TotalMilliseconds:0.00}, latents;dur={generated.Latents.TotalMilliseconds:0.00}, " +
        $"forward;dur={generated.Forward.TotalMilliseconds:0.00};desc=\"batch of {generated.BatchRequests}\", pixels;dur={generated.Pixelize.TotalMilliseconds:0.00}, " +
        $"encode;dur={encode.TotalMilliseconds:0.00}, total;dur={total.TotalMilliseconds:0.00}");
}
