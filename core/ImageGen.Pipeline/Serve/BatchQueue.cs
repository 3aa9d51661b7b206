using System.Threading.Channels;
using ImageGen.Core.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace ImageGen.Pipeline.Serve;

/// <summary>The queue was full: the caller should answer 429 with Retry-After.</summary>
public sealed class QueueFullException(string message) : Exception(message);

/// <summary>
/// One worker per loaded generator. Requests already queued when a pass starts (plus any arriving within the
/// optional batch window) are concatenated into one forward pass and split again. The forward pass runs synchronously on the worker inside one dispose scope
/// and inference mode (both are per thread in TorchSharp, so neither is held across an await).
/// </summary>
public sealed class BatchQueue : IAsyncDisposable
{
    private sealed record Work(Tensor Latents, TaskCompletionSource<Tensor> Result);

    private readonly ImageSampler sampler;
    private readonly ServeOptions options;
    private readonly Channel<Work> channel;
    private readonly Task worker;

    public BatchQueue(ImageSampler sampler, ServeOptions options)
    {
        this.sampler = sampler;
        this.options = options;
        channel = Channel.CreateBounded<Work>(new BoundedChannelOptions(options.MaxQueuedRequests) { SingleReader = true });
        worker = Task.Factory.StartNew(RunAsync, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    public long ForwardPasses;
    public long RequestsServed;

    /// <summary>Queues latents [n, nz] (owned by the queue from here on) and returns images [n, C, H, W] that the caller disposes.</summary>
    public Task<Tensor> GenerateAsync(Tensor latents)
    {
        var work = new Work(latents, new TaskCompletionSource<Tensor>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!channel.Writer.TryWrite(work))
        {
            latents.Dispose();
            throw new QueueFullException($"more than {options.MaxQueuedRequests} requests are waiting for this model");
        }
        return work.Result.Task;
    }

    private async Task RunAsync()
    {
        var reader = channel.Reader;
        var batch = new List<Work>();
        while (await reader.WaitToReadAsync())
        {
            batch.Clear();
            long images = 0;
            if (!reader.TryRead(out var first)) continue;
            batch.Add(first);
            images += first.Latents.shape[0];
            if (options.Batching)
            {
                var deadline = DateTime.UtcNow + options.BatchWindow;
                while (images < options.MaxBatchImages)
                {
                    if (reader.TryPeek(out var next))
                    {
                        if (images + next.Latents.shape[0] > options.MaxBatchImages) break;
                        reader.TryRead(out next);
                        batch.Add(next!);
                        images += next!.Latents.shape[0];
                        continue;
                    }
                    var left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero) break;
                    using var timeout = new CancellationTokenSource(left);
                    try { if (!await reader.WaitToReadAsync(timeout.Token)) break; }
                    catch (OperationCanceledException) { break; }
                }
            }
            Run(batch);
        }
    }

    private void Run(List<Work> batch)
    {
        try
        {
            using var scope = torch.NewDisposeScope();
            var latents = batch.Count == 1 ? batch[0].Latents : torch.cat(batch.Select(w => w.Latents).ToArray(), 0);
            var images = sampler.GenerateFrom(latents);
            Interlocked.Increment(ref ForwardPasses);
            long offset = 0;
            foreach (var work in batch)
            {
                long n = work.Latents.shape[0];
                var mine = images.narrow(0, offset, n).clone().MoveToOuterDisposeScope();
                offset += n;
                work.Result.SetResult(mine);
            }
            Interlocked.Add(ref RequestsServed, batch.Count);
        }
        catch (Exception e)
        {
            foreach (var work in batch) work.Result.TrySetException(e);
        }
        finally
        {
            foreach (var work in batch) work.Latents.Dispose();
        }
    }

    public async ValueTask DisposeAsync()
    {
        channel.Writer.TryComplete();
        await worker;
    }
}
