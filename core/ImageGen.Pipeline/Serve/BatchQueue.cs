using System.Collections.Concurrent;
using System.Diagnostics;
using ImageGen.Core.Imaging;
using ImageGen.Core.Sampling;
using ImageGen.Pipeline.Telemetry;

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
/// optional batch window) are concatenated into one forward pass and split again, up to MaxBatchImages images and
/// MaxBatchPixels output pixels. Other work on the model (a VAE reconstruction) runs on the same worker, alone, in
/// its turn. Work whose caller went away before it started is dropped, not computed. The forward pass runs
/// synchronously on the worker, on either backend (IServedGenerator); libtorch's dispose scopes and inference mode are
/// per thread, so none is held across an await.
/// </summary>
public sealed class BatchQueue : IAsyncDisposable
{
    private abstract class Job(CancellationToken cancellation)
    {
        public long QueuedAt { get; } = Stopwatch.GetTimestamp();
        public CancellationToken Cancellation { get; } = cancellation;
        public abstract void Cancel();

        private const int Queued = 0, Taken = 1, Dropped = 2;
        private int state = Queued;
        private CancellationTokenRegistration registration;
        private BatchQueue? owner;

        /// <summary>
        /// Counts the job among its queue's waiting requests until it leaves the queue, and answers a caller that goes
        /// away meanwhile at once: it gives back its pixel budget, its model lease, its thread and its place in the
        /// queue's limit without waiting for the worker to reach the job, which then skips it.
        /// </summary>
        public void Queue(BatchQueue queue)
        {
            owner = queue;
            registration = Cancellation.Register(static job =>
            {
                var j = (Job)job!;
                if (Interlocked.CompareExchange(ref j.state, Dropped, Queued) == Queued)
                {
                    Interlocked.Decrement(ref j.owner!.waiting);
                    j.Cancel();
                }
            }, this);
        }

        /// <summary>The worker takes the job: true when its caller still waits for it (from here on it runs to the end).</summary>
        public bool Take()
        {
            registration.Dispose();
            if (Interlocked.CompareExchange(ref state, Taken, Queued) != Queued) return false; // dropped: it left the count then
            Interlocked.Decrement(ref owner!.waiting);
            return !Cancellation.IsCancellationRequested;
        }
    }

    private sealed class Generation(Func<GeneratorInputs> makeInputs, int count, int scale, long pixels, CancellationToken cancellation) : Job(cancellation)
    {
        public Func<GeneratorInputs> MakeInputs { get; } = makeInputs;
        public int Count { get; } = count;
        public int Scale { get; } = scale;
        public long Pixels { get; } = pixels;
        public TaskCompletionSource<GeneratedImages> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public override void Cancel() => Result.TrySetCanceled(Cancellation);
    }

    private abstract class SoloJob(CancellationToken cancellation) : Job(cancellation)
    {
        public abstract void Run();
    }

    private sealed class Solo<T>(Func<T> work, CancellationToken cancellation) : SoloJob(cancellation)
    {
        public TaskCompletionSource<T> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public override void Cancel() => Result.TrySetCanceled(Cancellation);
        public override void Run()
        {
            try { Result.TrySetResult(work()); }
            catch (Exception e) { Result.TrySetException(e); }
        }
    }

    private readonly IServedGenerator generator;
    private readonly ServeOptions options;
    private readonly string dataset;
    private readonly BlockingCollection<Job> queue;
    private readonly Thread worker;
    private readonly TaskCompletionSource stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="dataset">The dataset the generator serves: the tag of this queue's metrics.</param>
    public BatchQueue(IServedGenerator generator, ServeOptions options, string dataset)
    {
        this.generator = generator;
        this.options = options;
        this.dataset = dataset;
        // A blocking queue read by a dedicated thread: the worker wakes directly on Add, with no thread-pool hop.
        // Unbounded: the limit counts callers still waiting (waiting), so jobs whose callers left take no one's place.
        queue = new BlockingCollection<Job>(new ConcurrentQueue<Job>());
        // One dedicated thread runs every tensor operation: libtorch's OpenMP team belongs to the calling thread,
        // so hopping between pool threads would start new teams and oversubscribe the cores.
        worker = new Thread(Run) { IsBackground = true, Name = "imagegen-batch" };
        worker.Start();
    }

    public long ForwardPasses;
    public long RequestsServed;
    /// <summary>Queued work dropped because its caller had gone away before it started.</summary>
    public long RequestsDropped;

    /// <summary>
    /// Queues a request for count images. makeInputs runs on the worker thread, when the pass starts (a request dropped
    /// before then costs nothing); the answer is 8-bit pixels (enlarged scale times).
    /// </summary>
    public Task<GeneratedImages> GenerateAsync(Func<GeneratorInputs> makeInputs, int count, int scale = 1, CancellationToken cancellationToken = default)
    {
        long side = (long)generator.Spec.ImageSize * scale;
        return Enqueue(new Generation(makeInputs, count, scale, count * side * side, cancellationToken)).Result.Task;
    }

    /// <summary>Runs other work on the model (it may use its tensors) on the worker thread, alone, in queue order.</summary>
    public Task<T> RunAsync<T>(Func<T> work, CancellationToken cancellationToken = default) => Enqueue(new Solo<T>(work, cancellationToken)).Result.Task;

    /// <summary>Jobs queued whose callers still wait: what MaxQueuedRequests bounds.</summary>
    private int waiting;

    private TJob Enqueue<TJob>(TJob job) where TJob : Job
    {
        job.Cancellation.ThrowIfCancellationRequested();
        if (Interlocked.Increment(ref waiting) > options.MaxQueuedRequests)
        {
            Interlocked.Decrement(ref waiting);
            throw new QueueFullException($"more than {options.MaxQueuedRequests} requests are waiting for this model");
        }
        job.Queue(this); // before the worker can see it, so Take always finds the registration to end
        try { queue.Add(job); }
        catch (InvalidOperationException)
        {
            job.Take(); // the queue is closing: the job never waited
            throw;
        }
        return job;
    }

    /// <summary>The next job whose caller is still waiting; dropped ones are answered as cancelled.</summary>
    private bool TryTakeLive(int waitMs, out Job job)
    {
        while (queue.TryTake(out job!, waitMs))
        {
            if (job.Take()) return true;
            job.Cancel();
            Interlocked.Increment(ref RequestsDropped);
        }
        return false;
    }

    private void Run()
    {
        var batch = new List<Generation>();
        Job? carried = null; // took it, but it did not fit the last batch
        try
        {
            while (true)
            {
                var first = carried;
                carried = null;
                if (first is not null && first.Cancellation.IsCancellationRequested)
                {
                    // Its caller left while it waited out the last pass: dropped, not computed.
                    first.Cancel();
                    Interlocked.Increment(ref RequestsDropped);
                    first = null;
                }
                if (first is null && !TryTakeLive(Timeout.Infinite, out first)) break; // completed and empty
                if (first is SoloJob solo)
                {
                    solo.Run();
                    Interlocked.Increment(ref RequestsServed);
                    continue;
                }
                var generation = (Generation)first;
                batch.Clear();
                batch.Add(generation);
                int images = generation.Count;
                long pixels = generation.Pixels;
                if (options.Batching)
                {
                    var deadline = DateTime.UtcNow + options.BatchWindow;
                    while (images < options.MaxBatchImages)
                    {
                        int waitMs = Math.Max(0, (int)(deadline - DateTime.UtcNow).TotalMilliseconds);
                        if (!TryTakeLive(waitMs, out var next)) break;
                        if (next is not Generation more || images + more.Count > options.MaxBatchImages || pixels + more.Pixels > options.MaxBatchPixels)
                        {
                            carried = next;
                            break;
                        }
                        batch.Add(more);
                        images += more.Count;
                        pixels += more.Pixels;
                    }
                }
                Generate(batch);
            }
        }
        catch (InvalidOperationException) { } // completed while waiting
        finally { stopped.TrySetResult(); }
    }

    private void Generate(List<Generation> batch)
    {
        try
        {
            long started = Stopwatch.GetTimestamp();
            var inputs = GeneratorInputs.Concat(batch.Select(w => w.MakeInputs()).ToList());
            long latentsDone = Stopwatch.GetTimestamp();
            float[] images = generator.Generate(inputs.Latents, inputs.Classes, inputs.Count);
            Interlocked.Increment(ref ForwardPasses);
            ImageGenTelemetry.RecordPass(dataset, inputs.Count, batch.Count);
            long forwardDone = Stopwatch.GetTimestamp();
            // Each request converts only its own images, so no pass-sized pixel array lands on the large object heap.
            var spec = generator.Spec;
            int offset = 0;
            foreach (var work in batch)
            {
                var pixels = ImageGrid.ToPixels(images, spec.Channels, spec.ImageSize, spec.ImageSize, offset, work.Count, work.Scale);
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
