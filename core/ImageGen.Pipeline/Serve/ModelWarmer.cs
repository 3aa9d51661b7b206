using System.Collections.Concurrent;
using ImageGen.Core.Sampling;
using ImageGen.Pipeline.Http;
using Microsoft.Extensions.Hosting;

namespace ImageGen.Pipeline.Serve;

/// <summary>
/// Readiness: loads the latest model of each dataset in ServeOptions.WarmDatasets and runs one forward pass on it (the
/// first pass pays for the engine's lazy set-up), then watches latest.json every LatestCheckInterval and warms each newly
/// published version the same way, and any warmed model evicted since. Ready means every configured dataset's latest
/// version is loaded and was warmed; while one is not (starting up, no model yet, a new version warming, one evicted
/// and warming again, a load failing) /api/health/ready answers 503 and says
/// why, so a load balancer sends no traffic to a replica whose first request would pay for a cold load.
/// </summary>
public sealed class ModelWarmer(GeneratorCache cache, ServeOptions options) : BackgroundService
{
    private readonly IReadOnlyList<string> datasets = options.DatasetsToWarm();
    /// <summary>The version of each dataset warmed last.</summary>
    private readonly ConcurrentDictionary<string, string> warmed = new(StringComparer.Ordinal);
    /// <summary>Why each dataset is not ready yet; absent once its latest version is warm.</summary>
    private readonly ConcurrentDictionary<string, string> waiting = new(StringComparer.Ordinal);

    /// <summary>Every configured dataset's warmed version is loaded now: an eviction reads as not ready at once, not at the next check.</summary>
    public bool Ready => datasets.All(d => WaitingFor(d) is null);

    /// <summary>What the dataset waits for, or null when its latest version is warm and loaded.</summary>
    private string? WaitingFor(string dataset) =>
        waiting.TryGetValue(dataset, out string? reason) ? reason
        : !warmed.TryGetValue(dataset, out string? version) ? "not checked yet"
        : cache.IsLoaded(dataset, version) ? null
        : $"{version} was evicted; warming it again";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        foreach (string dataset in datasets) waiting[dataset] = "not checked yet";
        var interval = options.LatestCheckInterval < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : options.LatestCheckInterval;
        while (!stoppingToken.IsCancellationRequested && datasets.Count > 0)
        {
            foreach (string dataset in datasets) await WarmAsync(dataset, stoppingToken);
            try { await Task.Delay(interval, stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    /// <summary>Warms the dataset's latest version unless it is warm already; records why not where it cannot.</summary>
    private async Task WarmAsync(string dataset, CancellationToken cancellationToken)
    {
        try
        {
            var (status, version) = await cache.ResolveAsync(dataset, null, cancellationToken);
            if (status != ResolveStatus.Ok)
            {
                waiting[dataset] = status == ResolveStatus.NoModelYet ? "no published model yet" : "unknown dataset";
                return;
            }
            // Warm means loaded now: a model evicted since (other datasets' traffic, version= requests) is warmed again.
            if (warmed.TryGetValue(dataset, out string? done) && done == version && cache.IsLoaded(dataset, version))
            {
                waiting.TryRemove(dataset, out _);
                return;
            }
            waiting[dataset] = $"warming {version}";
            using var lease = await cache.AcquireAsync(dataset, version!, cancellationToken);
            // One image through the batch queue, as a request would go: the first pass pays for the engine's lazy set-up.
            var spec = lease.Model.Generator.Spec;
            await lease.Model.Queue.GenerateAsync(() => new GeneratorInputs(LatentNoise.Draw([0], spec.LatentSize), [0], 1), 1, cancellationToken: cancellationToken);
            warmed[dataset] = version!;
            waiting.TryRemove(dataset, out _);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested) { }
        catch (Exception e) { waiting[dataset] = e is ApiErrorException api ? api.Error.Message : e.Message.Split('\n')[0].Trim(); } // a storage error's first line
    }

    /// <summary>200 with the warm versions, or 503 with what each dataset still waits for (and Retry-After).</summary>
    public ApiResult Readiness()
    {
        var waitingFor = datasets.Select(d => (Dataset: d, Reason: WaitingFor(d))).Where(w => w.Reason is not null).ToDictionary(w => w.Dataset, w => w.Reason!);
        bool ready = waitingFor.Count == 0;
        var body = new
        {
            status = ready ? "ready" : "warming",
            warm = datasets.Where(d => !waitingFor.ContainsKey(d)).ToDictionary(d => d, d => warmed[d]),
            waiting = waitingFor,
        };
        return ready
            ? ApiResult.JsonBody(body)
            : ApiResult.JsonBody(body, 503) with { Headers = new Dictionary<string, string> { ["Retry-After"] = "5" } };
    }
}
