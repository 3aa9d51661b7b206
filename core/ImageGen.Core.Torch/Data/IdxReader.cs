using System.Buffers.Binary;
using System.IO.Compression;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Data;

/// <summary>
/// Reads IDX image files (the MNIST / Fashion-MNIST format: big-endian, magic 0x00000803 for uint8 images),
/// gzipped or not, into uint8 [N, 1, H, W].
/// </summary>
public static class IdxReader
{
    public const string DebianFashionMnistTrain = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz";
    public const string DebianFashionMnistTrainLabels = "/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz";
    public const string DebianFashionMnistTest = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    public const string DebianFashionMnistTestLabels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";

    public static bool LooksLikeIdx(string path)
    {
        var name = Path.GetFileName(path).ToLowerInvariant();
        return File.Exists(path) && (name.Contains("idx") || name.EndsWith(".ubyte") || name.EndsWith(".ubyte.gz"));
    }

    public static ImageTensorDataset ReadImages(string path, int? limit = null)
    {
        using (var stream = Open(path))
        {
            Span<byte> header = stackalloc byte[16];
            stream.ReadExactly(header[..4]);
            uint magic = BinaryPrimitives.ReadUInt32BigEndian(header);
            if (magic != 0x803)
                throw new InvalidDataException($"'{path}' is not an IDX image file: magic 0x{magic:x8}, expected 0x00000803 (uint8, 3 dimensions)");
            stream.ReadExactly(header[4..16]);
            int count = checked((int)BinaryPrimitives.ReadUInt32BigEndian(header[4..]));
            int rows = checked((int)BinaryPrimitives.ReadUInt32BigEndian(header[8..]));
            int cols = checked((int)BinaryPrimitives.ReadUInt32BigEndian(header[12..]));
            if (rows != cols || rows is < 1 or > 4096)
                throw new InvalidDataException($"'{path}' holds {rows}x{cols} images; only square images up to 4096 are read");
            if (limit is { } max) count = Math.Min(count, max);
            var pixels = new byte[checked(count * rows * cols)];
            stream.ReadExactly(pixels);
            var tensor = torch.tensor(pixels, [count, 1, rows, cols], ScalarType.Byte);
            return new ImageTensorDataset(tensor, $"IDX {Path.GetFileName(path)}: {count} images {rows}x{cols}");
        }
    }

    /// <summary>Reads an IDX label file (magic 0x00000801, uint8 labels) into int64 [N].</summary>
    public static Tensor ReadLabels(string path, int? limit = null)
    {
        using var stream = Open(path);
        Span<byte> header = stackalloc byte[8];
        stream.ReadExactly(header);
        uint magic = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (magic != 0x801)
            throw new InvalidDataException($"'{path}' is not an IDX label file: magic 0x{magic:x8}, expected 0x00000801 (uint8, 1 dimension)");
        int count = checked((int)BinaryPrimitives.ReadUInt32BigEndian(header[4..]));
        if (limit is { } max) count = Math.Min(count, max);
        var labels = new byte[count];
        stream.ReadExactly(labels);
        using var bytes = torch.tensor(labels, ScalarType.Byte);
        return bytes.to_type(ScalarType.Int64);
    }

    /// <summary>The file, through gunzip when it starts with gzip's magic.</summary>
    private static Stream Open(string path)
    {
        var file = File.OpenRead(path);
        int b0 = file.ReadByte(), b1 = file.ReadByte();
        file.Position = 0;
        return b0 == 0x1f && b1 == 0x8b ? new GZipStream(file, CompressionMode.Decompress) : file;
    }
}
