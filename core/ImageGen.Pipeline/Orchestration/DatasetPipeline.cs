using ImageGen.Pipeline.Evaluate;
using ImageGen.Pipeline.Ingest;
using ImageGen.Pipeline.Publish;
using ImageGen.Pipeline.Storage;
using ImageGen.Pipeline.Train;
using Microsoft.DurableTask;

namespace ImageGen.Pipeline.Orchestration;

/// <summary>
/// The per-dataset orchestration, one instance per dataset: wait until uploads go quiet, ingest, train in
/// chunks, evaluate, publish; then train once more if images arrived meanwhile, else finish. Reads as a recipe;
/// every step is an activity that passes blob names, and every generation ends in ContinueAsNew so the history
/// stays short however long training runs.
/// </summary>
public static class DatasetPipeline
{
    public const string Name = "DatasetPipeline";
    /// <summary>Raised by the blob trigger and by HTTP train requests while the instance is running.</summary>
    public const string RunRequested = "run-requested";
    /// <summary>Margin between storage's clock (blob times) and the orchestration's, erring towards one run too many.</summary>
    public static readonly TimeSpan ClockSkew = TimeSpan.FromSeconds(5);

    public static async Task<PipelineOutcome> RunAsync(TaskOrchestrationContext context, PipelineInput input)
    {
        var run = input.Run;
        string? optionsJson = input.OptionsJson;
        if (run is null)
        {
            if (input.WaitForQuiet) optionsJson = await WaitForQuietAsync(context, input, optionsJson);
            (run, var failed) = await IngestAsync(context, input, optionsJson);
            if (failed is not null) return await FinishAsync(context, input, failed);
        }
        (run, var last, var stopped) = await TrainChunksAsync(context, input, run!);
        if (stopped is not null) return await FinishAsync(context, input, stopped, run);
        if (last is { Done: false })
        {
            context.SetCustomStatus(Training(context, input.Dataset, run, last));
            context.ContinueAsNew(input with { Run = run }, preserveUnprocessedEvents: true);
            return new PipelineOutcome("training", run.RunId);
        }
        return await FinishAsync(context, input, await EvaluateAndPublishAsync(context, input, run, last), run);
    }

    /// <summary>
    /// Every signal restarts the quiet period: 10,000 uploads make one run. Signals can lag the uploads (a polling
    /// trigger on a big container), so the blobs' own times have the last word. Returns the newest options sent.
    /// </summary>
    private static async Task<string?> WaitForQuietAsync(TaskOrchestrationContext context, PipelineInput input, string? optionsJson)
    {
        var quiet = input.Settings.QuietPeriod;
        var waiting = (input.LastStatus ?? new TrainingStatus { State = "waiting" }) with
        {
            State = "waiting", FollowUpPending = input.LastStatus is not null, UpdatedAt = context.CurrentUtcDateTime,
        };
        context.SetCustomStatus(waiting);
        while (true)
        {
            while (await NextSignalAsync(context, quiet) is { } signal) optionsJson = signal.OptionsJson ?? optionsJson;
            var newest = await context.CallActivityAsync<DateTimeOffset?>(ActivityNames.NewestDrop, input.Dataset, Retry(input.Settings));
            var quietSince = newest is { } n ? n.UtcDateTime : DateTime.MinValue;
            if (context.CurrentUtcDateTime - quietSince >= quiet) return optionsJson;
            // Uploads went on without signals reaching us: wait out the rest of the quiet period, listening still.
            if (await NextSignalAsync(context, quietSince + quiet - context.CurrentUtcDateTime) is { } late)
                optionsJson = late.OptionsJson ?? optionsJson;
        }
    }

    /// <summary>Ingests the drops as a new dataset version named after a new run; a failure comes back as a status.</summary>
    private static async Task<(RunState? run, TrainingStatus? failed)> IngestAsync(TaskOrchestrationContext context, PipelineInput input, string? optionsJson)
    {
        var ingestStartedAt = context.CurrentUtcDateTime;
        string runId = $"run-{context.CurrentUtcDateTime:yyyyMMdd-HHmmss}-{context.NewGuid():N}"[..32];
        context.SetCustomStatus(new TrainingStatus { State = "ingesting", RunId = runId, DatasetVersion = runId, UpdatedAt = context.CurrentUtcDateTime });
        IngestResult ingest;
        try
        {
            var request = new IngestRequest(input.Dataset, runId, optionsJson, input.Settings.Limits);
            ingest = await context.CallActivityAsync<IngestResult>(ActivityNames.Ingest, request, Retry(input.Settings));
        }
        catch (TaskFailedException e) { return (null, Failed(context, runId, null, $"ingest failed: {e.FailureDetails.ErrorMessage}")); }
        if (ingest.Error is not null || ingest.Settings is null)
            return (null, Failed(context, runId, ingest, ingest.Error ?? "ingest returned no settings"));
        var run = new RunState
        {
            RunId = runId, DatasetVersion = ingest.DatasetVersion, Settings = ingest.Settings, Ingest = ingest, IngestStartedAt = ingestStartedAt,
        };
        return (run, null);
    }

    /// <summary>
    /// Up to ChunksPerGeneration chunks, each resuming from the last checkpoint. Returns the run advanced, the last
    /// chunk, and a final status when the run ended here (failed or cancelled).
    /// </summary>
    private static async Task<(RunState run, ChunkResult? last, TrainingStatus? stopped)> TrainChunksAsync(
        TaskOrchestrationContext context, PipelineInput input, RunState run)
    {
        var settings = input.Settings;
        ChunkResult? last = null;
        for (int i = 0; i < settings.ChunksPerGeneration; i++)
        {
            var request = new ChunkRequest
            {
                Dataset = input.Dataset, RunId = run.RunId, DatasetVersion = run.DatasetVersion, Settings = run.Settings, Chunk = run.Chunk,
                FromStep = run.Step, TrainedSeconds = run.TrainedSeconds, ChunkSteps = settings.ChunkSteps, ChunkTime = settings.ChunkTime,
                ExtractorSteps = settings.ExtractorSteps,
            };
            context.SetCustomStatus(Training(context, input.Dataset, run, last));
            try { last = await context.CallActivityAsync<ChunkResult>(ActivityNames.TrainChunk, request, Retry(settings)); }
            catch (TaskFailedException e)
            {
                return (run, last, Failed(context, run.RunId, run.Ingest, $"training failed at step {run.Step}: {e.FailureDetails.ErrorMessage}"));
            }
            run = run with { Step = last.Step, Chunk = run.Chunk + 1, TrainedSeconds = run.TrainedSeconds + last.Seconds };
            if (last.Divergence is { } divergence)
                return (run, last, Failed(context, run.RunId, run.Ingest, divergence) with { State = "diverged", Step = run.Step });
            if (last.Cancelled) return (run, last, Training(context, input.Dataset, run, last) with { State = "cancelled" });
            if (last.Done) break;
        }
        return (run, last, null);
    }

    /// <summary>
    /// Evaluates the finished run, then publishes it as the next model version: latest when it passes the dataset's
    /// publish gate, else a candidate. Returns the final status, which says which and why.
    /// </summary>
    private static async Task<TrainingStatus> EvaluateAndPublishAsync(TaskOrchestrationContext context, PipelineInput input, RunState run, ChunkResult? last)
    {
        var retry = Retry(input.Settings);
        context.SetCustomStatus(Training(context, input.Dataset, run, last) with { State = "evaluating" });
        try
        {
            var evaluation = await context.CallActivityAsync<EvaluateResult>(ActivityNames.Evaluate,
                new EvaluateRequest(input.Dataset, run.RunId, run.DatasetVersion, input.Settings.EvalSamples, input.Settings.ExtractorSteps), retry);
            var metrics = new Dictionary<string, double>(evaluation.Metrics);
            foreach (var (name, value) in last?.Losses ?? []) metrics[name] = value;
            if (evaluation.Quality is { } quality) metrics["fd"] = quality.Fd;
            context.SetCustomStatus(Training(context, input.Dataset, run, last) with { State = "publishing", Metrics = metrics });
            var request = new PublishRequest(input.Dataset, run.RunId, run.DatasetVersion, metrics, run.Step)
            {
                Quality = evaluation.Quality, Baseline = evaluation.Baseline, BaselineNote = evaluation.BaselineNote, Policy = run.Settings.Publish,
            };
            var published = await context.CallActivityAsync<PublishResult>(ActivityNames.Publish, request, retry);
            return Training(context, input.Dataset, run, last) with
            {
                State = "published", PublishedVersion = published.Version, Latest = published.Latest, PublishNote = published.Reason, Metrics = metrics,
            };
        }
        catch (TaskFailedException e)
        {
            return Failed(context, run.RunId, run.Ingest, $"evaluation or publishing failed: {e.FailureDetails.ErrorMessage}");
        }
    }

    /// <summary>
    /// Ends a run. Signals that arrived while it worked sit buffered in the history: if there are any, the next
    /// generation waits for quiet and trains again (once, however many there were); otherwise the instance
    /// completes, keeping the run's status for the status endpoint.
    /// </summary>
    private static async Task<PipelineOutcome> FinishAsync(TaskOrchestrationContext context, PipelineInput input, TrainingStatus status, RunState? run = null)
    {
        context.SetCustomStatus(status);
        string? optionsJson = null;
        bool followUp = false, asked = false;
        while (await NextSignalAsync(context, followUp ? TimeSpan.Zero : input.Settings.FollowUpWait) is { } signal)
        {
            followUp = true;
            asked |= signal.Asked;
            optionsJson = signal.OptionsJson ?? optionsJson;
        }
        if (followUp && !asked && run is not null)
        {
            // A late trigger may signal blobs this run already read: train again only for blobs written since ingest began
            // listing (a listing passes blobs written behind it, so a newer blob read elsewhere proves nothing). Both times
            // come from storage, so no clock skew enters; both are whole seconds, so the listing's own second counts as
            // after it (the quiet period before ingest leaves no upload there). A run ingested before that time was kept
            // compares with the newest blob it listed; one without either (no blobs listed) with the orchestration clock.
            var newest = await context.CallActivityAsync<DateTimeOffset?>(ActivityNames.NewestDrop, input.Dataset, Retry(input.Settings));
            followUp = newest is { } n && (run.Ingest.ListingStartedAt is { } listed ? n >= listed
                : run.Ingest.NewestBlobAt is { } seen ? n > seen : n.UtcDateTime >= run.IngestStartedAt - ClockSkew);
        }
        if (followUp)
        {
            var next = new PipelineInput
            {
                Dataset = input.Dataset, Settings = input.Settings, WaitForQuiet = true, OptionsJson = optionsJson, LastStatus = status,
            };
            context.ContinueAsNew(next, preserveUnprocessedEvents: true);
        }
        string outcome = followUp ? status.State + "; training again for images that arrived meanwhile" : status.State;
        return new PipelineOutcome(outcome, status.RunId, status.PublishedVersion, status.Error);
    }

    /// <summary>Every activity call retries with exponential back-off: storage hiccups must not end a run.</summary>
    private static TaskOptions Retry(PipelineSettings settings) =>
        TaskOptions.FromRetryPolicy(new RetryPolicy(settings.MaxAttempts, settings.FirstRetryInterval, backoffCoefficient: 2));

    private static async Task<RunSignal?> NextSignalAsync(TaskOrchestrationContext context, TimeSpan timeout)
    {
        try { return await context.WaitForExternalEvent<RunSignal>(RunRequested, timeout); }
        catch (TaskCanceledException) { return null; }
    }

    private static TrainingStatus Failed(TaskOrchestrationContext context, string runId, IngestResult? ingest, string error) => new()
    {
        State = "failed", RunId = runId, DatasetVersion = ingest?.DatasetVersion, Accepted = ingest?.Accepted, HeldOut = ingest?.HeldOut,
        Rejected = ingest?.Rejected, FirstRejections = ingest?.FirstRejections, Error = error.Length > 2000 ? error[..2000] + "..." : error,
        UpdatedAt = context.CurrentUtcDateTime,
    };

    private static TrainingStatus Training(TaskOrchestrationContext context, string dataset, RunState run, ChunkResult? last) => new()
    {
        State = "training", RunId = run.RunId, DatasetVersion = run.DatasetVersion, Accepted = run.Ingest.Accepted, HeldOut = run.Ingest.HeldOut,
        Rejected = run.Ingest.Rejected, FirstRejections = run.Ingest.FirstRejections, Step = run.Step, Epoch = last?.Epoch,
        TotalSteps = last?.TotalSteps, Losses = last?.Losses, Start = last?.Start, ImagesPerSecond = last?.ImagesPerSecond,
        EtaSeconds = last?.EtaSeconds, UpdatedAt = context.CurrentUtcDateTime,
        SampleGrid = last is null ? null : $"{StorageLayout.CheckpointsContainer}/{StorageLayout.RunSamples(dataset, run.RunId)}",
    };
}
