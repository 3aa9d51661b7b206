using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Metrics;

/// <summary>Euclidean nearest-neighbour distances between feature rows, computed in blocks so memory stays bounded.</summary>
public static class NearestNeighbours
{
    private const int Block = 1024;

    /// <summary>For each row of queries, its k smallest distances to rows of points, ascending: [n, k].</summary>
    public static Tensor KSmallest(Tensor queries, Tensor points, int k, bool excludeSelf = false)
    {
        if (k < 1 || k + (excludeSelf ? 1 : 0) > points.shape[0])
            throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be in 1..{points.shape[0] - (excludeSelf ? 1 : 0)} for {points.shape[0]} points");
        int take = excludeSelf ? k + 1 : k;
        var blocks = new List<Tensor>();
        using (var scope = torch.NewDisposeScope())
        {
            for (long start = 0; start < queries.shape[0]; start += Block)
            {
                long end = Math.Min(queries.shape[0], start + Block);
                var distances = torch.cdist(queries.narrow(0, start, end - start), points);
                var (values, _) = distances.topk(take, dim: 1, largest: false, sorted: true);
                // The query itself is among the points (distance 0): drop the first column.
                blocks.Add((excludeSelf ? values[.., 1..] : values).MoveToOuterDisposeScope());
            }
        }
        var all = torch.cat(blocks, 0);
        foreach (var b in blocks) b.Dispose();
        return all;
    }

    /// <summary>
    /// The distance from each query row to its nearest point row that is more than <paramref name="minimum"/> away
    /// (so neither the query itself nor a repeat of it counts); +infinity where every point is that close.
    /// </summary>
    public static Tensor NearestBeyond(Tensor queries, Tensor points, double minimum)
    {
        var blocks = new List<Tensor>();
        using (var scope = torch.NewDisposeScope())
        {
            for (long start = 0; start < queries.shape[0]; start += Block)
            {
                long end = Math.Min(queries.shape[0], start + Block);
                var distances = torch.cdist(queries.narrow(0, start, end - start), points);
                blocks.Add(distances.masked_fill(distances.le(minimum), double.PositiveInfinity).min(1).values.MoveToOuterDisposeScope());
            }
        }
        var all = torch.cat(blocks, 0);
        foreach (var b in blocks) b.Dispose();
        return all;
    }

    /// <summary>The distance from each query row to its nearest point row and that point's index.</summary>
    public static (Tensor distance, Tensor index) Nearest(Tensor queries, Tensor points)
    {
        var distances = new List<Tensor>();
        var indices = new List<Tensor>();
        using (var scope = torch.NewDisposeScope())
        {
            for (long start = 0; start < queries.shape[0]; start += Block)
            {
                long end = Math.Min(queries.shape[0], start + Block);
                var (values, idx) = torch.cdist(queries.narrow(0, start, end - start), points).min(1);
                distances.Add(values.MoveToOuterDisposeScope());
                indices.Add(idx.MoveToOuterDisposeScope());
            }
        }
        var d = torch.cat(distances, 0);
        var i = torch.cat(indices, 0);
        foreach (var t in distances.Concat(indices)) t.Dispose();
        return (d, i);
    }
}
