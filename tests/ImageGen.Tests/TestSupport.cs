using ImageGen.Core.Data;
using ImageGen.Core.Models;
using ImageGen.Core.Runtime;
using ImageGen.Core.Training;
using SkiaSharp;
using TorchSharp;
using static TorchSharp.torch;

[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)] // torch's RNG and thread pool are process-wide

namespace ImageGen.Tests;

public sealed class TempFolder : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "imagegen-test-" + Guid.NewGuid().ToString("N")[..10]);
    public TempFolder() => Directory.CreateDirectory(Path);
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}

public static class TestImages
{
    static TestImages() => TorchRuntime.Configure(threads: 2);

    /// <summary>Before any test touches a tensor: oneDNN reads its instruction-set cap once, at its first primitive.</summary>
#pragma warning disable CA2255 // a test assembly's process-wide setup is what module initializers are for
    [System.Runtime.CompilerServices.ModuleInitializer]
    internal static void ConfigureBeforeAnyTest() => TorchRuntime.Configure(threads: 2);
#pragma warning restore CA2255

    public static void EnsureRuntime() => TorchRuntime.Configure(threads: 2);

    /// <summary>
    /// Runs the CLI in this process, then puts back the suite's libtorch threads, which every command sets (its
    /// --threads, else one per core): a later test must not train with a count that depends on which test ran before.
    /// </summary>
    public static (int code, string output, string error) RunCli(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        try { return (ImageGen.Cli.CliApp.RunAsync(args, output, error).GetAwaiter().GetResult(), output.ToString(), error.ToString()); }
        finally { EnsureRuntime(); }
    }

    public static byte[] Encode(SKBitmap bitmap, SKEncodedImageFormat format)
    {
        using var data = bitmap.Encode(format, 90);
        return data.ToArray();
    }

    /// <summary>
    /// The largest difference of any channel between two encoded images of one size. Two engines (ONNX Runtime and
    /// libtorch), or one engine on another instruction set, may round a pixel one level apart, so tests of the same
    /// images across them allow 1.
    /// </summary>
    public static int MostDifferentLevel(byte[] encodedA, byte[] encodedB)
    {
        using var a = SKBitmap.Decode(encodedA);
        using var b = SKBitmap.Decode(encodedB);
        Assert.Equal((a.Width, a.Height), (b.Width, b.Height));
        int worst = 0;
        for (int y = 0; y < a.Height; y++)
            for (int x = 0; x < a.Width; x++)
            {
                var (p, q) = (a.GetPixel(x, y), b.GetPixel(x, y));
                worst = Math.Max(worst, Math.Max(Math.Abs(p.Red - q.Red), Math.Max(Math.Abs(p.Green - q.Green), Math.Max(Math.Abs(p.Blue - q.Blue), Math.Abs(p.Alpha - q.Alpha)))));
            }
        return worst;
    }

    public static SKBitmap Shape(int seed, int size = 48) => SyntheticShapes.Draw(new Random(seed), size);

    /// <summary>An uncompressed 24-bit BMP (Skia does not encode BMP).</summary>
    public static byte[] Bmp(SKBitmap bitmap)
    {
        int w = bitmap.Width, h = bitmap.Height, rowBytes = (w * 3 + 3) & ~3, size = 54 + rowBytes * h;
        var bmp = new byte[size];
        using var ms = new MemoryStream(bmp);
        using var wr = new BinaryWriter(ms);
        wr.Write((byte)'B'); wr.Write((byte)'M'); wr.Write(size); wr.Write(0); wr.Write(54);
        wr.Write(40); wr.Write(w); wr.Write(h); wr.Write((short)1); wr.Write((short)24); wr.Write(0); wr.Write(rowBytes * h);
        wr.Write(2835); wr.Write(2835); wr.Write(0); wr.Write(0);
        for (int y = h - 1; y >= 0; y--)
        {
            for (int x = 0; x < w; x++) { var c = bitmap.GetPixel(x, y); wr.Write(c.Blue); wr.Write(c.Green); wr.Write(c.Red); }
            for (int p = w * 3; p < rowBytes; p++) wr.Write((byte)0);
        }
        return bmp;
    }

    /// <summary>A 1x1 GIF89a (Skia does not encode GIF).</summary>
    public static byte[] Gif() => Convert.FromBase64String("R0lGODlhAQABAIAAAP///wAAACwAAAAAAQABAAACAkQBADs=");

    /// <summary>A valid PNG signature and IHDR (with a correct CRC) declaring width x height, and no pixel data.</summary>
    public static byte[] PngHeaderOnly(int width, int height)
    {
        using var ms = new MemoryStream();
        ms.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var chunk = new List<byte>("IHDR"u8.ToArray());
        chunk.AddRange(BigEndian(width)); chunk.AddRange(BigEndian(height));
        chunk.AddRange(new byte[] { 8, 0, 0, 0, 0 }); // 8-bit grayscale
        ms.Write(BigEndian(13));
        ms.Write(chunk.ToArray());
        ms.Write(BigEndian((int)Crc32(chunk.ToArray())));
        // A tiny IDAT (zlib stream of a few zero bytes) and IEND: the file is small, the declared image is not.
        WriteChunk(ms, "IDAT", [0x78, 0x9C, 0x63, 0x60, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01]);
        WriteChunk(ms, "IEND", []);
        return ms.ToArray();
    }

    /// <summary>An ICO file wrapping a PNG: a real image in a format the decoder reads but the project does not accept.</summary>
    public static byte[] Ico(byte[] png, int size)
    {
        using var ms = new MemoryStream();
        using var wr = new BinaryWriter(ms);
        wr.Write((short)0); wr.Write((short)1); wr.Write((short)1);
        wr.Write((byte)size); wr.Write((byte)size); wr.Write((byte)0); wr.Write((byte)0);
        wr.Write((short)1); wr.Write((short)32); wr.Write(png.Length); wr.Write(22);
        wr.Write(png);
        wr.Flush();
        return ms.ToArray();
    }

    private static void WriteChunk(Stream stream, string type, byte[] data)
    {
        byte[] typed = [.. System.Text.Encoding.ASCII.GetBytes(type), .. data];
        stream.Write(BigEndian(data.Length));
        stream.Write(typed);
        stream.Write(BigEndian((int)Crc32(typed)));
    }

    private static byte[] BigEndian(int value) => [(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value];

    private static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }
}

/// <summary>
/// Small real training runs shared by several test classes (training is the slow part): a DCGAN and a VAE
/// on 512 synthetic 32x32 shapes, with narrow networks so each takes seconds on two cores.
/// </summary>
public sealed class TrainedRuns : IDisposable
{
    public TempFolder Folder { get; } = new();
    public ModelSpec GanSpec { get; } = ModelSpec.DefaultFor(ModelKind.Dcgan) with { Ngf = 16, Ndf = 16, LatentSize = 32 };
    public ModelSpec VaeSpec { get; } = ModelSpec.DefaultFor(ModelKind.Vae) with { Ngf = 16, Ndf = 16, LatentSize = 16 };
    public ImageTensorDataset Data { get; }
    public ImageTensorDataset HeldOut { get; }
    public TrainResult Gan { get; }
    public TrainResult Vae { get; }
    /// <summary>A class-conditional DCGAN on <see cref="Labelled"/>: "plain" shapes and "inverted" ones (bright backgrounds).</summary>
    public TrainResult ConditionalGan { get; }
    /// <summary>A class-conditional VAE on <see cref="Labelled"/>, with the defaults' fitted prior (a scale per class).</summary>
    public TrainResult ConditionalVae { get; }
    public ImageTensorDataset Labelled { get; }
    public const int GanSteps = 400, VaeSteps = 300;

    public TrainedRuns()
    {
        TestImages.EnsureRuntime();
        Data = SyntheticShapes.Generate(512, 32, 1, seed: 11);
        HeldOut = SyntheticShapes.Generate(128, 32, 1, seed: 12);
        Gan = Trainer.Run(new TrainRequest
        {
            Data = Data, Spec = GanSpec, RunFolder = Path.Combine(Folder.Path, "gan"),
            // With a moving average of the generator, so sampling and serving tests go through it.
            Options = new TrainOptions { MaxSteps = GanSteps, BatchSize = 32, Seed = 5, EmaImages = 2_000 },
        });
        Vae = Trainer.Run(new TrainRequest
        {
            Data = Data, Spec = VaeSpec, RunFolder = Path.Combine(Folder.Path, "vae"),
            Options = new TrainOptions { MaxSteps = VaeSteps, BatchSize = 32, Seed = 5 },
        });
        Labelled = PlainAndInverted(Data);
        ConditionalGan = Trainer.Run(new TrainRequest
        {
            Data = Labelled, Spec = GanSpec, RunFolder = Path.Combine(Folder.Path, "conditional"),
            Options = new TrainOptions { MaxSteps = GanSteps, BatchSize = 32, Seed = 5, EmaImages = 2_000 },
        });
        ConditionalVae = Trainer.Run(new TrainRequest
        {
            Data = Labelled, Spec = VaeSpec, RunFolder = Path.Combine(Folder.Path, "cvae"),
            Options = new TrainOptions { MaxSteps = VaeSteps, BatchSize = 32, Seed = 5 },
        });
    }

    /// <summary>Two classes told apart at a glance: the shapes as drawn ("plain") and their negatives ("inverted").</summary>
    public static ImageTensorDataset PlainAndInverted(ImageTensorDataset data)
    {
        int half = data.Count / 2;
        var pixels = data.Pixels.clone();
        using (var second = pixels.narrow(0, half, data.Count - half)) second.copy_(255 - second);
        var labels = torch.cat([torch.zeros(half, dtype: ScalarType.Int64), torch.ones(data.Count - half, dtype: ScalarType.Int64)]);
        return new ImageTensorDataset(pixels, "plain and inverted shapes", labels, ["plain", "inverted"]);
    }

    public void Dispose() { Data.Dispose(); HeldOut.Dispose(); Labelled.Dispose(); Folder.Dispose(); }
}

[Xunit.CollectionDefinition(Name)]
public sealed class TrainedRunsCollection : Xunit.ICollectionFixture<TrainedRuns> { public const string Name = "trained runs"; }

/// <summary>A scrape of a Prometheus text endpoint (/metrics): sample values by metric name and labels.</summary>
public sealed class Metrics
{
    private readonly List<(string Name, Dictionary<string, string> Labels, double Value)> samples = [];

    public static async Task<Metrics> ScrapeAsync(HttpClient http, string path = "/metrics")
    {
        var response = await http.GetAsync(path);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"GET {path}: {(int)response.StatusCode} {text}");
        var metrics = new Metrics();
        foreach (string line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#') continue;
            var match = System.Text.RegularExpressions.Regex.Match(line, @"^([A-Za-z_:][\w:]*)(?:\{(.*)\})? (\S+)");
            Assert.True(match.Success, $"not a Prometheus sample line: {line}");
            var labels = System.Text.RegularExpressions.Regex.Matches(match.Groups[2].Value, @"(\w+)=""((?:[^""\\]|\\.)*)""")
                .ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value);
            metrics.samples.Add((match.Groups[1].Value, labels, double.Parse(match.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture)));
        }
        return metrics;
    }

    /// <summary>The sum of the named metric's samples whose labels include all of <paramref name="labels"/>; 0 when none.</summary>
    public double Sum(string name, IReadOnlyDictionary<string, string> labels) =>
        samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Key, out var v) && v == l.Value)).Sum(s => s.Value);
}
