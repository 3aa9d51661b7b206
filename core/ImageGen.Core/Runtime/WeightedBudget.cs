namespace ImageGen.Core.Runtime;

/// <summary>
/// A budget of units (pixels, bytes) shared by concurrent work: each piece takes its weight before it starts and gives
/// it back when done, so the total in flight never passes the capacity. First come, first served: a large piece is not
/// overtaken forever by small ones. A piece heavier than the whole budget waits until it has the budget to itself.
/// Cancelling a wait (a client that went away) takes the waiter out of the line.
/// </summary>
public sealed class WeightedBudget(long capacity)
{
    private sealed class Waiter(long weight)
    {
        public long Weight { get; } = weight;
        public TaskCompletionSource Granted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    private readonly LinkedList<Waiter> line = new();
    private readonly Lock gate = new();
    private long available = capacity > 0 ? capacity : throw new ArgumentOutOfRangeException(nameof(capacity), capacity, "a budget must be positive");

    public long Capacity { get; } = capacity;
    public long InUse { get { lock (gate) return Capacity - available; } }
    /// <summary>The most that was ever in use at once.</summary>
    public long PeakInUse { get; private set; }

    public async Task<IDisposable> AcquireAsync(long weight, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(weight);
        weight = Math.Min(weight, Capacity);
        Waiter waiter;
        LinkedListNode<Waiter> node;
        lock (gate)
        {
            if (line.Count == 0 && available >= weight) return Take(weight);
            waiter = new Waiter(weight);
            node = line.AddLast(waiter);
        }
        await using (cancellationToken.Register(() =>
        {
            lock (gate) { if (node.List is null) return; line.Remove(node); }
            waiter.Granted.TrySetCanceled(cancellationToken);
            Grant(); // the head may have been the one that was blocking the others
        }))
        {
            await waiter.Granted.Task;
        }
        return new Lease(this, weight);
    }

    /// <summary>The blocking form, for work already on its own thread (a Parallel.ForEach body).</summary>
    public IDisposable Acquire(long weight, CancellationToken cancellationToken = default) => AcquireAsync(weight, cancellationToken).GetAwaiter().GetResult();

    private Lease Take(long weight)
    {
        available -= weight;
        PeakInUse = Math.Max(PeakInUse, Capacity - available);
        return new Lease(this, weight);
    }

    private void Release(long weight)
    {
        lock (gate) available += weight;
        Grant();
    }

    private void Grant()
    {
        List<Waiter> granted = [];
        lock (gate)
        {
            while (line.First is { } head && head.Value.Weight <= available)
            {
                line.RemoveFirst();
                available -= head.Value.Weight;
                PeakInUse = Math.Max(PeakInUse, Capacity - available);
                granted.Add(head.Value);
            }
        }
        foreach (var waiter in granted) waiter.Granted.TrySetResult();
    }

    private sealed class Lease(WeightedBudget budget, long weight) : IDisposable
    {
        private int released;
        public void Dispose() { if (Interlocked.Exchange(ref released, 1) == 0) budget.Release(weight); }
    }
}
