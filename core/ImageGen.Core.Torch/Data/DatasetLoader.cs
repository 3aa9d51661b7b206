using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Data;

/// <summary>
/// Opens whatever --data names: an IDX file (gzipped or not), a shard folder (with manifest.json),
/// a folder of images (decoded in memory), or "synthetic[:N]" (shapes drawn by the project itself).
/// </summary>
public static class DatasetLoader
{
    public const string SyntheticPrefix = "synthetic";

    public static ImageTensorDataset Load(string source, int imageSize, int channels, int? limit = null,
        IProgress<PackProgress>? progress = null, int seed = 0)
    {
        if (source == SyntheticPrefix || source.StartsWith(SyntheticPrefix + ":", StringComparison.Ordinal))
        {
            int count = source.Length > SyntheticPrefix.Length && int.TryParse(source[(SyntheticPrefix.Length + 1)..], out var n) ? n : 2048;
            if (count is < 1 or > 1_000_000) throw new ArgumentException($"synthetic dataset size {count} is outside 1..1000000");
            return SyntheticShapes.Generate(limit is { } l ? Math.Min(l, count) : count, imageSize, channels, seed);
        }
        if (File.Exists(source))
        {
            if (!IdxReader.LooksLikeIdx(source) && !LooksLikeIdxByMagic(source))
                throw new ArgumentException($"--data '{source}' is a file but not an IDX image file; give a folder of images, a shard folder, an IDX file or 'synthetic'");
            return IdxReader.ReadImages(source, limit).Convert(imageSize, channels);
        }
        if (Directory.Exists(source))
        {
            if (File.Exists(Path.Combine(source, DatasetManifest.FileName))) return ReadShards(source, limit).Convert(imageSize, channels);
            return DecodeFolder(source, imageSize, channels, limit, progress);
        }
        throw new FileNotFoundException($"--data '{source}' does not exist (expected a folder of images, a shard folder, an IDX file or 'synthetic[:N]')");
    }

    /// <summary>The images training uses: every accepted image but those the manifest holds out (the first limit of them).</summary>
    public static ImageTensorDataset ReadShards(string folder, int? limit = null) =>
        ReadShards(folder, limit, $"shards {Path.GetFileName(Path.TrimEndingDirectorySeparator(folder))}");

    /// <summary>The images the manifest holds out of training (DatasetHoldOut); null when it holds none out.</summary>
    public static ImageTensorDataset? ReadHeldOut(string folder)
    {
        var manifest = DatasetManifest.Read(folder);
        if (manifest.HeldOut.Count == 0) return null;
        string source = $"shards {Path.GetFileName(Path.TrimEndingDirectorySeparator(folder))}";
        return Read(folder, manifest, manifest.HeldOut, $"{source}: {manifest.HeldOut.Count} held-out images");
    }

    /// <summary>The shards, described as <paramref name="source"/> (a folder decoded into temporary shards names the folder, not them).</summary>
    private static ImageTensorDataset ReadShards(string folder, int? limit, string source)
    {
        var manifest = DatasetManifest.Read(folder);
        var heldOut = manifest.HeldOut.ToHashSet();
        var training = Enumerable.Range(0, manifest.Count).Where(i => !heldOut.Contains(i)).Take(limit ?? int.MaxValue).ToList();
        if (training.Count == 0) throw new InvalidDataException($"shard folder '{folder}' holds no accepted images ({manifest.Rejected.Count} rejected)");
        return Read(folder, manifest, training, $"{source}: {training.Count} images" + (heldOut.Count > 0 ? $" ({heldOut.Count} more held out)" : ""));
    }

    /// <summary>Images read from a shard file at a time: bounded managed memory whatever the image size.</summary>
    private const int ReadBlockImages = 1024;

    /// <summary>
    /// The accepted images at <paramref name="indices"/> (ascending, in Sources' order), with their labels where the dataset
    /// has classes. Read block by block straight into one native tensor, so a dataset may pass the 2 GiB a managed array
    /// can hold (44,000 images at 128x128 RGB).
    /// </summary>
    private static ImageTensorDataset Read(string folder, DatasetManifest manifest, IReadOnlyList<int> indices, string description)
    {
        int count = indices[^1] + 1; // the shards are read up to the last image wanted
        int imageBytes = manifest.Channels * manifest.ImageSize * manifest.ImageSize;
        var tensor = torch.empty([count, manifest.Channels, manifest.ImageSize, manifest.ImageSize], ScalarType.Byte);
        var block = new byte[Math.Min(count, ReadBlockImages) * imageBytes];
        int read = 0;
        foreach (var shard in manifest.Shards)
        {
            if (read >= count) break;
            using var file = File.OpenRead(Path.Combine(folder, shard.File));
            for (int inShard = 0; inShard < shard.Count && read < count;)
            {
                int images = Math.Min(Math.Min(ReadBlockImages, shard.Count - inShard), count - read);
                var buffer = images * imageBytes == block.Length ? block : new byte[images * imageBytes]; // a shard's last, shorter block
                file.ReadExactly(buffer);
                using (var part = torch.tensor(buffer, [images, manifest.Channels, manifest.ImageSize, manifest.ImageSize], ScalarType.Byte))
                using (var target = tensor.narrow(0, read, images))
                    target.copy_(part);
                read += images;
                inShard += images;
            }
        }
        bool labelled = manifest.Classes.Count > 0 && manifest.Labels.Count == manifest.Count;
        var labels = labelled ? torch.tensor(indices.Select(i => (long)manifest.Labels[i]).ToArray(), ScalarType.Int64) : null;
        if (indices.Count < count)
        {
            using var all = tensor;
            using var picked = torch.tensor(indices.Select(i => (long)i).ToArray());
            tensor = all.index_select(0, picked);
        }
        return new ImageTensorDataset(tensor, description + (labelled ? $" in {manifest.Classes.Count} classes" : ""), labels, labelled ? manifest.Classes : null);
    }

    private static ImageTensorDataset DecodeFolder(string folder, int imageSize, int channels, int? limit, IProgress<PackProgress>? progress)
    {
        string temp = Path.Combine(Path.GetTempPath(), "imagegen-pack-" + Guid.NewGuid().ToString("N"));
        try
        {
            using (var packer = new DatasetPacker(temp, imageSize, channels, progress: progress))
            {
                packer.AddFolder(folder);
                var manifest = packer.Finish();
                if (manifest.Count == 0)
                    throw new InvalidDataException($"folder '{folder}' has no usable images ({manifest.Rejected.Count} rejected" +
                        (manifest.Rejected.Count > 0 ? $", first: '{manifest.Rejected[0].Name}': {manifest.Rejected[0].Reason})" : ")"));
            }
            return ReadShards(temp, limit, $"folder {folder}");
        }
        finally { Directory.Delete(temp, recursive: true); }
    }

    private static bool LooksLikeIdxByMagic(string path)
    {
        using var file = File.OpenRead(path);
        Span<byte> head = stackalloc byte[4];
        return file.Read(head) == 4 && ((head[0] == 0x1f && head[1] == 0x8b) || (head[0] == 0 && head[1] == 0 && head[2] == 8 && head[3] == 3));
    }
}
