using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Core.Metrics;

/// <summary>
/// Euclidean nearest-neighbour distances between feature rows, computed in blocks of queries, each block's distance
/// matrix freed before the next, so memory stays at one block's rows against all points.
/// </summary>
public static class NearestNeighbours
{
    private const int Block = 1024;

    /// <summary>For each row of queries, its k smallest distances to rows of points, ascending: [n, k].</summary>
    public static Tensor KSmallest(Tensor queries, Tensor points, int k, bool excludeSelf = false)
    {
        if (k < 1 || k + (excludeSelf ? 1 : 0) > points.shape[0])
            throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be in 1..{points.shape[0] - (excludeSelf ? 1 : 0)} for {points.shape[0]} points");
        int take = excludeSelf ? k + 1 : k;
        // The query itself is among the points (distance 0): the first column is dropped.
        return InBlocks(queries, block =>
        {
            var (values, _) = torch.cdist(block, points).topk(take, dim: 1, largest: false, sorted: true);
            return excludeSelf ? values[.., 1..] : values;
        });
    }

    /// <summary>
    /// For each query row, the distance to its nearest point row that is a different image: neither the query itself
    /// nor a repeat of it. The candidates are the <paramref name="candidates"/> nearest by the fast distance (a matrix
    /// product, whose rounding reaches about 1e-3 of a row's length); their distances are then computed exactly, and a
    /// candidate within <paramref name="sameImage"/> of the query's length is the same image. +infinity where every
    /// candidate is: an image held that many times over has no neighbour to be new against, so anything near it is a copy.
    /// </summary>
    public static Tensor NearestDistinct(Tensor queries, Tensor points, double sameImage = 1e-4, int candidates = 16)
    {
        int k = (int)Math.Min(candidates, points.shape[0]);
        return InBlocks(queries, block =>
        {
            var (_, index) = torch.cdist(block, points).topk(k, dim: 1, largest: false, sorted: true);
            var near = points.index_select(0, index.flatten()).view(block.shape[0], k, points.shape[1]);
            var exact = (near - block.unsqueeze(1)).square().sum(2).sqrt();
            var same = exact.le(block.square().sum(1, keepdim: true).sqrt() * sameImage);
            return exact.masked_fill(same, double.PositiveInfinity).min(1).values;
        });
    }

    /// <summary>The distance from each query row to its nearest point row and that point's index.</summary>
    public static (Tensor distance, Tensor index) Nearest(Tensor queries, Tensor points)
    {
        var indices = new List<Tensor>();
        try
        {
            var distance = InBlocks(queries, block =>
            {
                var (values, index) = torch.cdist(block, points).min(1);
                indices.Add(index.MoveToOuterDisposeScope());
                return values;
            });
            return (distance, torch.cat(indices, 0));
        }
        finally { foreach (var i in indices) i.Dispose(); }
    }

    /// <summary>Rows of <paramref name="perBlock"/>'s results for each block of queries, concatenated; each block's temporaries are freed with it.</summary>
    private static Tensor InBlocks(Tensor queries, Func<Tensor, Tensor> perBlock)
    {
        var blocks = new List<Tensor>();
        try
        {
            for (long start = 0; start < queries.shape[0]; start += Block)
            {
                using var scope = torch.NewDisposeScope();
                blocks.Add(perBlock(queries.narrow(0, start, Math.Min(queries.shape[0], start + Block) - start)).MoveToOuterDisposeScope());
            }
            return torch.cat(blocks, 0);
        }
        finally { foreach (var b in blocks) b.Dispose(); }
    }
}
