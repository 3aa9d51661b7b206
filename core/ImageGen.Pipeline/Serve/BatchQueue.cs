using System.Collections.Concurrent;
using System.Diagnostics;
using ImageGen.Core.Imaging;
using ImageGen.Core.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Pipeline.Serve;

/// <summary>The queue was full: the caller should answer 429 with Retry-After.</summary>
public sealed class QueueFullException(string message) : Exception(message);

/// <summary>
/// A request's images and where its time went: waiting for the worker, drawing the pass's latents, the forward pass
/// (both shared with the BatchRequests requests of the pass), and turning the pass into 8-bit pixels.
/// </summary>
public sealed record GeneratedImages(ImagePixels Pixels, TimeSpan Queued, TimeSpan Latents, TimeSpan Forward, TimeSpan Pixelize, int BatchRequests);

/// <summary>
/// One worker per loaded generator. Requests already queued when a pass starts (plus any arriving within the
/// optional batch window) are concatenated into one forward pass and split again. The forward pass runs synchronously on the worker inside one dispose scope
/// and inference mode (both are per thread in TorchSharp, so neither is held across an await).
/// </summary>
public sealed class BatchQueue : IAsyncDisposable
{
    private sealed record Work(Func<Tensor> MakeLatents, int Count, int Scale, long QueuedAt, TaskCompletionSource<GeneratedImages> Result);

    private readonly ImageSampler sampler;
    private readonly ServeOptions options;
    private readonly BlockingCollection<Work> queue;
    private readonly Thread worker;
    private readonly TaskCompletionSource stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public BatchQueue(ImageSampler sampler, ServeOptions options)
    {
        this.sampler = sampler;
        this.options = options;
        // A blocking queue read by a dedicated thread: the worker wakes directly on Add, with no thread-pool hop.
        queue = new BlockingCollection<Work>(new ConcurrentQueue<Work>(), options.MaxQueuedRequests);
        // One dedicated thread runs every tensor operation: libtorch's OpenMP team belongs to the calling thread,
        // so hopping between pool threads would start new teams and oversubscribe the cores.
        worker = new Thread(Run) { IsBackground = true, Name = "imagegen-batch" };
        worker.Start();
    }

    public long ForwardPasses;
    public long RequestsServed;

    /// <summary>
    /// Queues a request for count images. makeLatents runs on the worker thread and returns [count, nz]; the
    /// answer is 8-bit pixels (enlarged scale times), so no tensor ever leaves the worker thread.
    /// </summary>
    public Task<GeneratedImages> GenerateAsync(Func<Tensor> makeLatents, int count, int scale = 1)
    {
        var work = new Work(makeLatents, count, scale, Stopwatch.GetTimestamp(),
            new TaskCompletionSource<GeneratedImages>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!queue.TryAdd(work))
            throw new QueueFullException($"more than {options.MaxQueuedRequests} requests are waiting for this model");
        return work.Result.Task;
    }

    private void Run()
    {
        var batch = new List<Work>();
        Work? carried = null; // took it, but it did not fit the last batch
        try
        {
            while (true)
            {
                var first = carried;
                carried = null;
                if (first is null && !queue.TryTake(out first, Timeout.Infinite)) break; // completed and empty
                batch.Clear();
                batch.Add(first);
                int images = first.Count;
                if (options.Batching)
                {
                    var deadline = DateTime.UtcNow + options.BatchWindow;
                    while (images < options.MaxBatchImages)
                    {
                        int waitMs = Math.Max(0, (int)(deadline - DateTime.UtcNow).TotalMilliseconds);
                        if (!queue.TryTake(out var next, waitMs)) break;
                        if (images + next.Count > options.MaxBatchImages) { carried = next; break; }
                        batch.Add(next);
                        images += next.Count;
                    }
                }
                Generate(batch);
            }
        }
        catch (InvalidOperationException) { } // completed while waiting
        finally { stopped.TrySetResult(); }
    }

    private void Generate(List<Work> batch)
    {
        try
        {
            long started = Stopwatch.GetTimestamp();
            using var scope = torch.NewDisposeScope();
            var latents = batch.Count == 1 ? batch[0].MakeLatents() : torch.cat(batch.Select(w => w.MakeLatents()).ToArray(), 0);
            long latentsDone = Stopwatch.GetTimestamp();
            var images = sampler.GenerateFrom(latents);
            Interlocked.Increment(ref ForwardPasses);
            long forwardDone = Stopwatch.GetTimestamp();
            // One conversion to 8-bit for the whole pass (a handful of tensor ops, not a handful per request); each
            // request copies out only its own images, so no pass-sized array lands on the large object heap.
            // Enlarged requests convert their own rows.
            var unscaled = batch.Any(w => w.Scale == 1) ? ImageGrid.ToByteImages(images) : null;
            int offset = 0;
            foreach (var work in batch)
            {
                ImagePixels pixels;
                if (work.Scale == 1) pixels = ImageGrid.ReadPixels(unscaled!, offset, work.Count);
                else
                {
                    using var mine = images.narrow(0, offset, work.Count);
                    pixels = ImageGrid.ToPixels(mine, work.Scale);
                }
                offset += work.Count;
                work.Result.SetResult(new GeneratedImages(pixels, Stopwatch.GetElapsedTime(work.QueuedAt, started), Stopwatch.GetElapsedTime(started, latentsDone),
                    Stopwatch.GetElapsedTime(latentsDone, forwardDone), Stopwatch.GetElapsedTime(forwardDone), batch.Count));
            }
            Interlocked.Add(ref RequestsServed, batch.Count);
        }
        catch (Exception e)
        {
            foreach (var work in batch) work.Result.TrySetException(e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        queue.CompleteAdding();
        await stopped.Task;
        queue.Dispose();
    }
}
