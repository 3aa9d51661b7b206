using System.Buffers.Binary;
using System.Security.Cryptography;

namespace ImageGen.Core.Data;

/// <summary>
/// Which images of a drop ingest keeps out of training: the images no model of that dataset version sees, so the
/// evaluation can measure how close genuinely new images of the drop lie to the training images (the near-copy
/// baseline the publish gate holds a run's samples to).
///
/// An image is held out when the hash of its packed pixels falls under the share, so the choice depends on the image
/// alone: it does not move when other images are added or removed, and identical images share their fate (a copy in
/// training would make its twin a near-copy of it). A drop under <see cref="MinImages"/> holds nothing out, and
/// neither does a class under <see cref="MinClassImages"/> images; a class gives up at most twice the share and never
/// more than half its images, so every class keeps images to learn from, and the drop at most <see cref="MaxImages"/>
/// (the lowest hashes). Where a cap or a small class would part identical images, the held-out twin trains too.
/// </summary>
public static class DatasetHoldOut
{
    /// <summary>The share the pipeline holds out unless a dataset's options say otherwise (holdOut).</summary>
    public const double DefaultShare = 0.1;
    public const double MaxShare = 0.5;
    public const int MinImages = 100;
    public const int MinClassImages = 10;
    public const int MaxImages = 1000;

    /// <summary>The key of a packed image: the first 8 bytes of its pixels' SHA-256.</summary>
    public static ulong Key(ReadOnlySpan<byte> pixels)
    {
        Span<byte> digest = stackalloc byte[32];
        SHA256.HashData(pixels, digest);
        return BinaryPrimitives.ReadUInt64BigEndian(digest);
    }

    /// <summary>
    /// The indices (ascending) of the images to hold out, given each image's key and class (labels empty: one class).
    /// </summary>
    public static List<int> Choose(IReadOnlyList<ulong> keys, IReadOnlyList<int> labels, double share)
    {
        if (share is < 0 or > MaxShare) throw new ArgumentOutOfRangeException(nameof(share), share, $"the held-out share must lie in 0..{MaxShare}");
        if (labels.Count != 0 && labels.Count != keys.Count) throw new ArgumentException($"{labels.Count} labels for {keys.Count} images");
        if (share == 0 || keys.Count < MinImages) return [];
        ulong under = (ulong)(share * ulong.MaxValue);
        var chosen = new List<int>();
        foreach (var members in Enumerable.Range(0, keys.Count).GroupBy(i => labels.Count == 0 ? 0 : labels[i]))
        {
            int size = members.Count();
            if (size < MinClassImages) continue;
            chosen.AddRange(members.Where(i => keys[i] < under).OrderBy(i => keys[i]).Take(Math.Min((int)(2 * share * size), size / 2)));
        }
        var heldOut = chosen.OrderBy(i => keys[i]).Take(MaxImages).ToHashSet();
        // Identical images share their fate: one whose twin trains (past a cap, or in a class too small to give any) trains too.
        var trainedKeys = Enumerable.Range(0, keys.Count).Where(i => !heldOut.Contains(i)).Select(i => keys[i]).ToHashSet();
        return [.. heldOut.Where(i => !trainedKeys.Contains(keys[i])).Order()];
    }
}
