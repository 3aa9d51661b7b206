using System.Collections.Concurrent;
using Azure.Storage.Blobs;

namespace ImageGen.Pipeline.Orchestration;

/// <summary>
/// What the pipeline's doorways (blob triggers, training endpoints) share in one process: storage, pacing, a clock,
/// and when each dataset was last signalled (the trigger's throttle).
/// </summary>
public sealed class PipelineEnvironment(BlobServiceClient storage, PipelineSettings settings, TimeProvider? clock = null)
{
    public BlobServiceClient Storage => storage;
    public PipelineSettings Settings => settings;
    public TimeProvider Clock { get; } = clock ?? TimeProvider.System;
    internal ConcurrentDictionary<string, DateTimeOffset> LastSignal { get; } = new(StringComparer.Ordinal);
}
