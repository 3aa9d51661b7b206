using System.Collections.Concurrent;
using Azure.Storage.Blobs;
using ImageGen.Core.Training;
using ImageGen.Pipeline.Evaluate;
using ImageGen.Pipeline.Ingest;
using ImageGen.Pipeline.Orchestration;
using ImageGen.Pipeline.Publish;
using ImageGen.Pipeline.Train;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;

namespace ImageGen.Tests;

/// <summary>
/// Scripted steps that record what the orchestration asked of them, so control flow can be checked under real
/// durable replay (InMemoryTaskHub) without training anything.
/// </summary>
public sealed class ScriptedActivities : IPipelineActivities
{
    public ConcurrentQueue<string> Calls { get; } = new();
    public int ChunksToDone { get; init; } = 3;
    public int ChunkFailures { get; set; }
    public string? IngestError { get; init; }
    public bool CancelAtChunk1 { get; init; }
    /// <summary>Chunk 1 reports a NaN loss, as the real training step does.</summary>
    public bool DivergeAtChunk1 { get; init; }
    /// <summary>When set, every chunk waits for it: the test decides when training moves on.</summary>
    public SemaphoreSlim? ChunkGate { get; init; }
    public TaskCompletionSource FirstChunkStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Count(string step) => Calls.Count(c => c.StartsWith(step, StringComparison.Ordinal));

    /// <summary>What NewestDrop answers: by default an upload long ago.</summary>
    public Func<DateTimeOffset?> Newest { get; init; } = () => DateTimeOffset.UtcNow.AddHours(-1);
    /// <summary>Ingest reports the newest blob it listed (as the real ingest does); off, it reports none.</summary>
    public bool ReportNewestBlob { get; init; }
    /// <summary>When ingest began listing, as the real ingest reports it (storage's clock); null: not reported (older runs).</summary>
    public Func<DateTimeOffset?> ListingStarted { get; init; } = () => null;

    public Task<DateTimeOffset?> NewestDropAsync(string dataset, CancellationToken cancellationToken)
    {
        Calls.Enqueue($"NewestDrop {dataset}");
        return Task.FromResult(Newest());
    }

    public DateTimeOffset? IngestedAt { get; private set; }

    public Task<IngestResult> IngestAsync(IngestRequest request, CancellationToken cancellationToken)
    {
        IngestedAt = DateTimeOffset.UtcNow;
        Calls.Enqueue($"Ingest {request.DatasetVersion} {request.OptionsJson}");
        return Task.FromResult(new IngestResult
        {
            DatasetVersion = request.DatasetVersion, Accepted = IngestError is null ? 10 : 0, Rejected = 1,
            FirstRejections = [new("bad.png", "not an image")], Settings = TrainSettings.Default, Error = IngestError,
            NewestBlobAt = ReportNewestBlob ? Newest() : null, ListingStartedAt = ListingStarted(),
        });
    }

    public async Task<ChunkResult> TrainChunkAsync(ChunkRequest request, CancellationToken cancellationToken)
    {
        Calls.Enqueue($"TrainChunk {request.Chunk} from {request.FromStep}");
        FirstChunkStarted.TrySetResult();
        if (ChunkGate is not null && !await ChunkGate.WaitAsync(TimeSpan.FromSeconds(60)))
            throw new TimeoutException("the test never released the chunk gate");
        if (ChunkFailures > 0) { ChunkFailures--; throw new IOException("storage hiccup (scripted)"); }
        bool cancel = CancelAtChunk1 && request.Chunk == 1;
        return new ChunkResult
        {
            Chunk = request.Chunk, Step = request.FromStep + 10, Epoch = request.Chunk, Done = !cancel && request.Chunk + 1 >= ChunksToDone,
            Cancelled = cancel, StopReason = cancel ? StopReason.Cancelled : StopReason.MaxSteps, Losses = new() { ["loss_d"] = 1.0 }, Seconds = 0.01,
        } is var result && DivergeAtChunk1 && request.Chunk == 1
            ? result with { Step = request.FromStep, Done = false, StopReason = StopReason.Diverged, Divergence = $"diverged at step {request.FromStep + 4}: loss_d is NaN; the checkpoint at step {request.FromStep} is kept" }
            : result;
    }

    public Task<EvaluateResult> EvaluateAsync(EvaluateRequest request, CancellationToken cancellationToken)
    {
        Calls.Enqueue($"Evaluate {request.RunId}");
        return Task.FromResult(new EvaluateResult(new() { ["pixelMeanGap"] = 0.01 }));
    }

    public Task<PublishResult> PublishAsync(PublishRequest request, CancellationToken cancellationToken)
    {
        Calls.Enqueue($"Publish {request.RunId} steps {request.Steps}");
        return Task.FromResult(new PublishResult($"v{Count("Publish"):D4}"));
    }
}

/// <summary>An orchestration service that records its lifecycle calls and passes every call on.</summary>
public class LifecycleRecorder : System.Reflection.DispatchProxy
{
    private DurableTask.Core.IOrchestrationService inner = null!;
    public ConcurrentQueue<string> Lifecycle { get; } = new();

    public static (DurableTask.Core.IOrchestrationService service, LifecycleRecorder recorder) Wrap(DurableTask.Core.IOrchestrationService inner)
    {
        var service = Create<DurableTask.Core.IOrchestrationService, LifecycleRecorder>();
        var recorder = (LifecycleRecorder)(object)service;
        recorder.inner = inner;
        return (service, recorder);
    }

    protected override object? Invoke(System.Reflection.MethodInfo? method, object?[]? args)
    {
        if (method!.Name is "StartAsync" or "StopAsync") Lifecycle.Enqueue($"{method.Name}({string.Join(", ", args ?? [])})");
        try { return method.Invoke(inner, args); }
        catch (System.Reflection.TargetInvocationException e) { System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException!); throw; }
    }
}

public class PipelineOrchestrationTests
{
    private static readonly PipelineSettings Fast = new()
    {
        QuietPeriod = TimeSpan.FromMilliseconds(700), ChunkSteps = 10, ChunksPerGeneration = 2, FirstRetryInterval = TimeSpan.FromMilliseconds(50),
    };

    private static async Task<(InMemoryTaskHub host, TrainingControl control)> StartAsync(ScriptedActivities activities)
    {
        var host = await InMemoryTaskHub.StartAsync(activities);
        // Signalling never touches storage; the client is only there because TrainingControl also reads status blobs.
        var control = new TrainingControl(host.Client, new PipelineEnvironment(new BlobServiceClient("UseDevelopmentStorage=true"), Fast));
        return (host, control);
    }

    private static async Task<OrchestrationMetadata> FinishedAsync(InMemoryTaskHub host, string dataset)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var done = await host.Client.WaitForInstanceCompletionAsync(TrainingControl.InstanceId(dataset), getInputsAndOutputs: true, timeout.Token);
        Assert.Equal(OrchestrationRuntimeStatus.Completed, done.RuntimeStatus);
        return done;
    }

    [Fact]
    public async Task A_drop_runs_ingest_chunks_evaluate_publish_in_order_then_completes()
    {
        var steps = new ScriptedActivities { ChunksToDone = 5 }; // 5 chunks at 2 per generation: two ContinueAsNew hops mid-training
        var (host, control) = await StartAsync(steps);
        await using var _ = host;
        Assert.True(await control.SignalAsync("cats", new RunSignal("dropped cats/a.png"), waitForQuiet: true));
        var done = await FinishedAsync(host, "cats");

        var calls = steps.Calls.Where(c => !c.StartsWith("NewestDrop")).ToList();
        Assert.StartsWith("Ingest run-", calls[0]);
        Assert.Equal(["TrainChunk 0 from 0", "TrainChunk 1 from 10", "TrainChunk 2 from 20", "TrainChunk 3 from 30", "TrainChunk 4 from 40"], calls[1..6]);
        Assert.StartsWith("Evaluate run-", calls[6]);
        Assert.EndsWith("steps 50", calls[7]);
        Assert.Equal(8, calls.Count);
        var status = done.ReadCustomStatusAs<TrainingStatus>()!;
        Assert.Equal("published", status.State);
        Assert.Equal("v0001", status.PublishedVersion);
        Assert.Equal(50, status.Step);
        Assert.Equal(0.01, status.Metrics!["pixelMeanGap"]);
        Assert.Equal(1.0, status.Metrics["loss_d"]);
        Assert.Contains("\"published\"", done.SerializedOutput);
    }

    /// <summary>
    /// The task hub server's own start and stop run from async void lifetime callbacks; a stop from there ran alongside
    /// the host's and broke AzureStorageOrchestrationService ("The CancellationTokenSource has been disposed"). The
    /// sidecar alone starts the service, before any worker connects, and stops it, forced, once, when disposed.
    /// </summary>
    [Fact]
    public async Task The_sidecar_alone_starts_and_stops_the_orchestration_service_once_each()
    {
        LifecycleRecorder? recorder = null;
        var steps = new ScriptedActivities { ChunksToDone = 1 };
        var host = await InMemoryTaskHub.StartAsync(steps, inner => { (var service, recorder) = LifecycleRecorder.Wrap(inner); return service; });
        Assert.Equal(["StartAsync()"], recorder!.Lifecycle);
        var control = new TrainingControl(host.Client, new PipelineEnvironment(new BlobServiceClient("UseDevelopmentStorage=true"), Fast));
        Assert.True(await control.SignalAsync("cats", new RunSignal("dropped cats/a.png"), waitForQuiet: true));
        await FinishedAsync(host, "cats"); // the server's dispatchers ran the whole orchestration over the service
        Assert.Equal(["StartAsync()"], recorder.Lifecycle);
        await host.DisposeAsync();
        Assert.Equal(["StartAsync()", "StopAsync(True)"], recorder.Lifecycle);
    }

    /// <summary>
    /// A drop whose signal fails (the start failed and no instance exists) throws, so the blob trigger retries; the retry,
    /// inside the throttle window, signals again instead of being taken for a repeat of a signal that never went out.
    /// </summary>
    [Fact]
    public async Task A_drop_whose_signal_failed_is_signalled_again_by_the_triggers_retry()
    {
        var steps = new ScriptedActivities { ChunksToDone = 1 };
        var host = await InMemoryTaskHub.StartAsync(steps);
        await using var _ = host;
        var control = new TrainingControl(new FaultyClient(host.Client, startFailures: 1),
            new PipelineEnvironment(new BlobServiceClient("UseDevelopmentStorage=true"), Fast, new StoppedClock(DateTimeOffset.UtcNow))); // all three calls at one instant
        Assert.Contains("could not be reached", (await Assert.ThrowsAsync<InvalidOperationException>(() => control.OnImageDroppedAsync("cats/a.png"))).Message);
        Assert.Equal("'cats/a.png': started the pipeline of cats", await control.OnImageDroppedAsync("cats/a.png"));
        Assert.Contains("was signalled", await control.OnImageDroppedAsync("cats/b.png")); // a real repeat is still throttled
        await FinishedAsync(host, "cats");
        Assert.Equal(1, steps.Count("Publish"));
    }

    /// <summary>
    /// A train request raised to a run in its last moments, whose event the completing instance never sees (lost here by
    /// the client), is not answered "queued" and forgotten: the instance completes without training again, so the request
    /// starts a run of its own. The run's last wait is 10 s here, so the test's polling surely finds it there.
    /// </summary>
    [Fact]
    public async Task A_train_request_lost_to_a_run_completing_starts_a_run_of_its_own()
    {
        var steps = new ScriptedActivities { ChunksToDone = 1 };
        var host = await InMemoryTaskHub.StartAsync(steps);
        await using var _ = host;
        var faulty = new FaultyClient(host.Client, eventsLost: 1);
        var control = new TrainingControl(faulty, new PipelineEnvironment(new BlobServiceClient("UseDevelopmentStorage=true"),
            Fast with { FollowUpWait = TimeSpan.FromSeconds(10) }));
        Assert.True(await control.SignalAsync("cats", new RunSignal(RunSignal.HttpReason), waitForQuiet: false));
        // The run's status is final while it waits its last second for signals (or, on a slow machine, it has completed).
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
            while (await host.Client.GetInstanceAsync(TrainingControl.InstanceId("cats"), getInputsAndOutputs: true, timeout.Token) is { } instance
                   && !instance.IsCompleted && instance.ReadCustomStatusAs<TrainingStatus>()?.State != "published")
                await Task.Delay(20, timeout.Token);
        Assert.True(await control.SignalAsync("cats", new RunSignal(RunSignal.HttpReason), waitForQuiet: false), "the lost request should start a run");
        Assert.Equal(1, faulty.EventsLost); // the request did reach the finishing run, and was lost there
        await FinishedAsync(host, "cats");
        Assert.Equal(2, steps.Count("Ingest"));
    }

    [Fact]
    public async Task Many_drop_signals_within_the_quiet_period_make_one_run()
    {
        var steps = new ScriptedActivities { ChunksToDone = 1 };
        var (host, control) = await StartAsync(steps);
        await using var _ = host;
        Assert.True(await control.SignalAsync("cats", new RunSignal("dropped 0"), waitForQuiet: true));
        for (int i = 1; i < 40; i++) Assert.False(await control.SignalAsync("cats", new RunSignal($"dropped {i}"), waitForQuiet: true));
        await FinishedAsync(host, "cats");
        Assert.Equal(1, steps.Count("Ingest"));
        Assert.Equal(1, steps.Count("Publish"));
    }

    [Fact]
    public async Task Uploads_that_go_on_without_signals_keep_the_run_waiting_until_the_blobs_are_quiet()
    {
        // The trigger lags: one signal, but blobs keep landing (NewestDrop says a blob landed just now, twice), then stop.
        var landed = new List<DateTimeOffset>();
        DateTimeOffset? NewestBlob()
        {
            lock (landed)
            {
                if (landed.Count < 2) landed.Add(DateTimeOffset.UtcNow);
                return landed[^1];
            }
        }
        var steps = new ScriptedActivities { ChunksToDone = 1, Newest = NewestBlob };
        var (host, control) = await StartAsync(steps);
        await using var _ = host;
        await control.SignalAsync("cats", new RunSignal("dropped 0"), waitForQuiet: true);
        await FinishedAsync(host, "cats");
        Assert.True(steps.Count("NewestDrop") >= 3, string.Join("; ", steps.Calls)); // looked again after each landing
        // Never before the last blob has been quiet for the quiet period (a slower machine only makes it later).
        Assert.True(steps.IngestedAt >= landed[^1] + Fast.QuietPeriod - TimeSpan.FromMilliseconds(100), $"ingested at {steps.IngestedAt:O}, last blob {landed[^1]:O}");
        Assert.Equal(1, steps.Count("Ingest"));
        Assert.Equal(1, steps.Count("Publish"));
    }

    [Fact]
    public async Task Signals_during_training_give_exactly_one_follow_up_run()
    {
        var gate = new SemaphoreSlim(0);
        var lastUpload = DateTimeOffset.UtcNow.AddHours(-1);
        var steps = new ScriptedActivities { ChunksToDone = 2, ChunkGate = gate, Newest = () => lastUpload };
        var (host, control) = await StartAsync(steps);
        await using var _ = host;
        await control.SignalAsync("cats", new RunSignal("first drop"), waitForQuiet: false);
        await steps.FirstChunkStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        lastUpload = DateTimeOffset.UtcNow; // blobs land during training
        for (int i = 0; i < 5; i++) await control.SignalAsync("cats", new RunSignal($"dropped during training {i}", i == 4 ? "{\"maxSteps\": 7}" : null), waitForQuiet: true);
        gate.Release(100);
        await FinishedAsync(host, "cats");
        Assert.Equal(2, steps.Count("Ingest"));
        Assert.Equal(2, steps.Count("Publish"));
        // The follow-up run carries the options of the request that asked for it.
        Assert.EndsWith("{\"maxSteps\": 7}", steps.Calls.Where(c => c.StartsWith("Ingest")).Last());
    }

    [Fact]
    public async Task Late_signals_for_blobs_the_run_already_ingested_do_not_start_another_run()
    {
        var gate = new SemaphoreSlim(0);
        var steps = new ScriptedActivities { ChunksToDone = 1, ChunkGate = gate }; // every blob is older than the run
        var (host, control) = await StartAsync(steps);
        await using var _ = host;
        await control.SignalAsync("cats", new RunSignal("first drop"), waitForQuiet: false);
        await steps.FirstChunkStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        for (int i = 0; i < 3; i++) await control.SignalAsync("cats", new RunSignal($"late trigger {i}"), waitForQuiet: true);
        gate.Release(100);
        await FinishedAsync(host, "cats");
        Assert.Equal(1, steps.Count("Ingest"));
    }

    [Fact]
    public async Task Late_signals_for_blobs_written_just_before_ingest_do_not_start_another_run()
    {
        // The uploads end as the run starts, well inside the 5 s clock-skew margin of the orchestration's clock; ingest
        // saw those blobs, and storage's own times say nothing newer came, so the late signals start nothing.
        var gate = new SemaphoreSlim(0);
        var lastUpload = DateTimeOffset.UtcNow;
        var steps = new ScriptedActivities { ChunksToDone = 1, ChunkGate = gate, Newest = () => lastUpload, ReportNewestBlob = true };
        var (host, control) = await StartAsync(steps);
        await using var _ = host;
        await control.SignalAsync("cats", new RunSignal("http"), waitForQuiet: false);
        await steps.FirstChunkStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        for (int i = 0; i < 3; i++) await control.SignalAsync("cats", new RunSignal($"late trigger {i}"), waitForQuiet: true);
        gate.Release(100);
        await FinishedAsync(host, "cats");
        Assert.Equal(1, steps.Count("Ingest"));
    }

    /// <summary>
    /// A blob written while ingest listed, behind the listing (its folder already passed), is not read, though a newer blob
    /// elsewhere was: its late signal trains again, because storage's newest blob is newer than the listing's start. Blobs
    /// written before the listing began still start nothing.
    /// </summary>
    [Theory]
    [InlineData(2, 2)] // the newest blob (read) came 2 s after the listing began: the one behind it may be unread
    [InlineData(-3, 1)] // every blob is older than the listing: all were read
    public async Task Late_signals_train_again_for_blobs_written_since_ingest_began_listing(int newestAfterListingSeconds, int runs)
    {
        var gate = new SemaphoreSlim(0);
        var listingStarted = DateTimeOffset.UtcNow.AddMinutes(-1);
        var newest = listingStarted.AddSeconds(newestAfterListingSeconds);
        var steps = new ScriptedActivities
        {
            ChunksToDone = 1, ChunkGate = gate, Newest = () => newest, ReportNewestBlob = true, ListingStarted = () => listingStarted,
        };
        var (host, control) = await StartAsync(steps);
        await using var _ = host;
        await control.SignalAsync("cats", new RunSignal("http"), waitForQuiet: false);
        await steps.FirstChunkStarted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await control.SignalAsync("cats", new RunSignal("dropped cats/a/late.png"), waitForQuiet: true);
        gate.Release(100);
        await FinishedAsync(host, "cats");
        Assert.Equal(runs, steps.Count("Ingest"));
    }

    [Fact]
    public async Task A_transient_activity_failure_is_retried_and_the_run_still_publishes()
    {
        var steps = new ScriptedActivities { ChunksToDone = 2, ChunkFailures = 2 };
        var (host, control) = await StartAsync(steps);
        await using var _ = host;
        await control.SignalAsync("cats", new RunSignal("http"), waitForQuiet: false);
        var done = await FinishedAsync(host, "cats");
        Assert.Equal(3, steps.Count("TrainChunk 0")); // two scripted failures, then the attempt that worked
        Assert.Equal("published", done.ReadCustomStatusAs<TrainingStatus>()!.State);
    }

    [Fact]
    public async Task A_failure_past_the_retry_budget_ends_the_run_failed_with_the_reason()
    {
        var steps = new ScriptedActivities { ChunksToDone = 2, ChunkFailures = Fast.MaxAttempts };
        var (host, control) = await StartAsync(steps);
        await using var _ = host;
        await control.SignalAsync("cats", new RunSignal("http"), waitForQuiet: false);
        var status = (await FinishedAsync(host, "cats")).ReadCustomStatusAs<TrainingStatus>()!;
        Assert.Equal("failed", status.State);
        Assert.Contains("storage hiccup", status.Error);
        Assert.Equal(0, steps.Count("Publish"));
    }

    [Fact]
    public async Task A_cancelled_chunk_ends_the_run_cancelled_without_publishing()
    {
        var steps = new ScriptedActivities { ChunksToDone = 5, CancelAtChunk1 = true };
        var (host, control) = await StartAsync(steps);
        await using var _ = host;
        await control.SignalAsync("cats", new RunSignal("http"), waitForQuiet: false);
        var status = (await FinishedAsync(host, "cats")).ReadCustomStatusAs<TrainingStatus>()!;
        Assert.Equal("cancelled", status.State);
        Assert.Equal(20, status.Step);
        Assert.Equal(0, steps.Count("Evaluate"));
        Assert.Equal(0, steps.Count("Publish"));
    }

    [Fact]
    public async Task A_diverged_chunk_ends_the_run_as_diverged_once_without_retries_or_publishing()
    {
        var steps = new ScriptedActivities { ChunksToDone = 5, DivergeAtChunk1 = true };
        var (host, control) = await StartAsync(steps);
        await using var _ = host;
        await control.SignalAsync("cats", new RunSignal("http"), waitForQuiet: false);
        var status = (await FinishedAsync(host, "cats")).ReadCustomStatusAs<TrainingStatus>()!;
        Assert.Equal("diverged", status.State);
        Assert.Equal("diverged at step 14: loss_d is NaN; the checkpoint at step 10 is kept", status.Error);
        Assert.Equal(10, status.Step);
        Assert.Equal(2, steps.Count("TrainChunk")); // chunk 0, then chunk 1 once: a divergence is not retried
        Assert.Equal(0, steps.Count("Evaluate"));
        Assert.Equal(0, steps.Count("Publish"));
    }

    [Fact]
    public async Task An_empty_dataset_fails_the_run_with_a_clear_reason_and_trains_nothing()
    {
        var steps = new ScriptedActivities { IngestError = "no images under training-images/cats/" };
        var (host, control) = await StartAsync(steps);
        await using var _ = host;
        await control.SignalAsync("cats", new RunSignal("http"), waitForQuiet: false);
        var status = (await FinishedAsync(host, "cats")).ReadCustomStatusAs<TrainingStatus>()!;
        Assert.Equal("failed", status.State);
        Assert.Equal("no images under training-images/cats/", status.Error);
        Assert.Equal(0, steps.Count("TrainChunk"));
    }
}

/// <summary>A clock that does not move: calls made with it fall in one throttle window however slow the machine.</summary>
public sealed class StoppedClock(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}

/// <summary>
/// The task hub's client with faults the real one meets now and then: its first starts fail (the hub unreachable) before
/// any instance exists, or the events it raises are lost (as one raised to an instance completing at that moment is).
/// </summary>
public sealed class FaultyClient(DurableTaskClient inner, int startFailures = 0, int eventsLost = 0) : DurableTaskClient("faulty")
{
    private int startsToFail = startFailures, eventsToLose = eventsLost;

    public override Task<string> ScheduleNewOrchestrationInstanceAsync(Microsoft.DurableTask.TaskName orchestratorName, object? input = null,
        Microsoft.DurableTask.StartOrchestrationOptions? options = null, CancellationToken cancellation = default) =>
        Interlocked.Decrement(ref startsToFail) >= 0
            ? throw new InvalidOperationException("the task hub could not be reached")
            : inner.ScheduleNewOrchestrationInstanceAsync(orchestratorName, input, options, cancellation);

    /// <summary>Events raised and dropped so far.</summary>
    public int EventsLost => Math.Min(eventsLost, eventsLost - Volatile.Read(ref eventsToLose));

    public override Task RaiseEventAsync(string instanceId, string eventName, object? eventPayload = null, CancellationToken cancellation = default) =>
        Interlocked.Decrement(ref eventsToLose) >= 0 ? Task.CompletedTask : inner.RaiseEventAsync(instanceId, eventName, eventPayload, cancellation);
    public override Task<OrchestrationMetadata?> GetInstancesAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) =>
        inner.GetInstancesAsync(instanceId, getInputsAndOutputs, cancellation);
    public override Microsoft.DurableTask.AsyncPageable<OrchestrationMetadata> GetAllInstancesAsync(OrchestrationQuery? filter = null) => inner.GetAllInstancesAsync(filter);
    public override Task<OrchestrationMetadata> WaitForInstanceStartAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) =>
        inner.WaitForInstanceStartAsync(instanceId, getInputsAndOutputs, cancellation);
    public override Task<OrchestrationMetadata> WaitForInstanceCompletionAsync(string instanceId, bool getInputsAndOutputs = false, CancellationToken cancellation = default) =>
        inner.WaitForInstanceCompletionAsync(instanceId, getInputsAndOutputs, cancellation);
    public override Task SuspendInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default) =>
        inner.SuspendInstanceAsync(instanceId, reason, cancellation);
    public override Task ResumeInstanceAsync(string instanceId, string? reason = null, CancellationToken cancellation = default) =>
        inner.ResumeInstanceAsync(instanceId, reason, cancellation);
    public override ValueTask DisposeAsync() => ValueTask.CompletedTask; // the hub owns the inner client
}
