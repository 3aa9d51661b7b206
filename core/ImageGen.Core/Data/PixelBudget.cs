namespace ImageGen.Core.Data;

/// <summary>
/// A weighted semaphore counted in pixels: parallel decodes wait until their images fit together under the
/// capacity, so sixteen large images cannot be decoded at once. A request over the whole capacity is taken as
/// the whole capacity, so it runs alone rather than never. Waiters are served in arrival order, so a large
/// image is not starved by a stream of small ones. Serving uses one too: requests hold their output pixels from
/// queueing until their answer is encoded.
/// </summary>
public sealed class PixelBudget(long capacity)
{
    private readonly object gate = new();
    private readonly LinkedList<(long Pixels, TaskCompletionSource Granted)> waiting = new();
    private long inFlight, peak;

    public long Capacity { get; } = capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "the pixel budget must be positive");

    /// <summary>The pixels held now.</summary>
    public long InUse { get { lock (gate) return inFlight; } }

    /// <summary>The most pixels held at once so far.</summary>
    public long Peak { get { lock (gate) return peak; } }

    /// <summary>Waits until <paramref name="pixels"/> fit beside the pixels in flight; dispose the result to give them back.</summary>
    public async Task<IDisposable> AcquireAsync(long pixels, CancellationToken cancellationToken = default)
    {
        long weight = Math.Clamp(pixels, 1, Capacity);
        LinkedListNode<(long Pixels, TaskCompletionSource Granted)> node;
        lock (gate)
        {
            if (waiting.Count == 0 && inFlight + weight <= Capacity)
            {
                Take(weight);
                return new Lease(this, weight);
            }
            node = waiting.AddLast((weight, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)));
        }
        using (cancellationToken.Register(() => Abandon(node, cancellationToken)))
            await node.Value.Granted.Task;
        return new Lease(this, weight);
    }

    private void Take(long weight)
    {
        inFlight += weight;
        peak = Math.Max(peak, inFlight);
    }

    private void Release(long weight)
    {
        lock (gate)
        {
            inFlight -= weight;
            GrantWaiters();
        }
    }

    /// <summary>A cancelled waiter leaves the queue, unless it was granted first (then its lease is returned as usual).</summary>
    private void Abandon(LinkedListNode<(long Pixels, TaskCompletionSource Granted)> node, CancellationToken cancellationToken)
    {
        lock (gate)
        {
            if (node.List is null) return;
            waiting.Remove(node);
            GrantWaiters();
        }
        node.Value.Granted.TrySetCanceled(cancellationToken);
    }

    private void GrantWaiters()
    {
        while (waiting.First is { } first && inFlight + first.Value.Pixels <= Capacity)
        {
            waiting.RemoveFirst();
            Take(first.Value.Pixels);
            first.Value.Granted.SetResult();
        }
    }

    private sealed class Lease(PixelBudget budget, long weight) : IDisposable
    {
        private int released;
        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0) budget.Release(weight);
        }
    }
}
