using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace ImageGen.Pipeline.Telemetry;

/// <summary>
/// The app's one meter and one activity source ("ImageGen"), and every instrument it records. Recording costs next to
/// nothing while no listener is attached; the hosts attach OpenTelemetry (TelemetrySetup) where it is asked for.
/// Tags stay few and bounded: route is the function name, dataset a published dataset, status the HTTP status.
/// </summary>
public static class ImageGenTelemetry
{
    public const string Name = "ImageGen";
    public static readonly ActivitySource Source = new(Name);
    private static readonly Meter meter = new(Name);

    private static readonly Counter<long> requests = meter.CreateCounter<long>("imagegen.http.requests", "{request}", "HTTP requests answered, by route, status and dataset");
    private static readonly Histogram<double> requestDuration = meter.CreateHistogram("imagegen.http.request.duration", "s",
        "Time from a request's arrival to its answer written, by route and status",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
    private static readonly Counter<long> throttled = meter.CreateCounter<long>("imagegen.serve.throttled", "{request}",
        "Requests answered 429 because a model's queue was full");
    private static readonly Histogram<double> queueWait = meter.CreateHistogram("imagegen.serve.queue.wait", "s", "Time a request waited for its forward pass",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5] });
    private static readonly Histogram<long> batchImages = meter.CreateHistogram("imagegen.serve.batch.images", "{image}", "Images one forward pass generated",
        advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256] });
    private static readonly Histogram<long> batchRequests = meter.CreateHistogram("imagegen.serve.batch.requests", "{request}", "Requests one forward pass served",
        advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64] });
    private static readonly Counter<long> modelLoads = meter.CreateCounter<long>("imagegen.serve.model.loads", "{load}", "Generators loaded from storage, by outcome");
    private static readonly Counter<long> cacheHits = meter.CreateCounter<long>("imagegen.serve.cache.hits", "{request}", "Requests that found their generator already loaded");
    private static readonly Counter<long> evictions = meter.CreateCounter<long>("imagegen.serve.cache.evictions", "{model}", "Generators evicted to make room");
    private static readonly Histogram<double> chunkDuration = meter.CreateHistogram("imagegen.train.chunk.duration", "s", "Wall time of one training chunk",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [1, 5, 15, 30, 60, 120, 300, 600, 1200] });
    private static readonly Counter<long> trainedImages = meter.CreateCounter<long>("imagegen.train.images", "{image}", "Images trained on (steps x batch)");
    private static readonly Gauge<double> trainThroughput = meter.CreateGauge<double>("imagegen.train.throughput", "{image}/s", "Images per second of the last chunk");
    private static readonly Gauge<double> trainLoss = meter.CreateGauge<double>("imagegen.train.loss", "1", "The last logged value of each loss");
    private static readonly Counter<long> ingestImages = meter.CreateCounter<long>("imagegen.ingest.images", "{image}", "Images ingested, by outcome (accepted, rejected)");

    /// <summary>The status recorded for a request whose caller went away before its answer (as nginx logs it): not a server error.</summary>
    public const int ClientClosedRequest = 499;

    /// <summary>
    /// The status a request is recorded with: the answer's; 500 for a handler that threw (the server answers that after
    /// the recording); ClientClosedRequest for one cancelled because its caller went away.
    /// </summary>
    public static int RecordedStatus(int answered, Exception? thrown, CancellationToken requestAborted) => thrown switch
    {
        null => answered,
        OperationCanceledException when requestAborted.IsCancellationRequested => ClientClosedRequest,
        _ => 500,
    };

    /// <summary>
    /// One answered request. The dataset is a tag only on answers that found it (below 400): a name anyone can type
    /// into a failing request must not mint a new series.
    /// </summary>
    public static void RecordRequest(string route, string? dataset, int status, TimeSpan elapsed)
    {
        var tags = new TagList { { "route", route }, { "status", status } };
        if (status < 400 && !string.IsNullOrEmpty(dataset)) tags.Add("dataset", dataset);
        requests.Add(1, tags);
        requestDuration.Record(elapsed.TotalSeconds, tags);
    }

    public static void RecordThrottled(string dataset) => throttled.Add(1, new KeyValuePair<string, object?>("dataset", dataset));

    public static void RecordPass(string dataset, int images, int requestCount)
    {
        var tag = new KeyValuePair<string, object?>("dataset", dataset);
        batchImages.Record(images, tag);
        batchRequests.Record(requestCount, tag);
    }

    public static void RecordQueueWait(string dataset, TimeSpan waited) => queueWait.Record(waited.TotalSeconds, new KeyValuePair<string, object?>("dataset", dataset));

    public static void RecordModelLoad(string dataset, bool succeeded) =>
        modelLoads.Add(1, new TagList { { "dataset", dataset }, { "outcome", succeeded ? "loaded" : "failed" } });

    public static void RecordCacheHit(string dataset) => cacheHits.Add(1, new KeyValuePair<string, object?>("dataset", dataset));

    public static void RecordEviction(string dataset) => evictions.Add(1, new KeyValuePair<string, object?>("dataset", dataset));

    public static void RecordChunk(string dataset, string model, TimeSpan elapsed, long images, IReadOnlyDictionary<string, double> losses)
    {
        var tags = new TagList { { "dataset", dataset }, { "model", model } };
        chunkDuration.Record(elapsed.TotalSeconds, tags);
        trainedImages.Add(images, tags);
        if (elapsed > TimeSpan.Zero) trainThroughput.Record(images / elapsed.TotalSeconds, tags);
        foreach (var (name, value) in losses)
            if (double.IsFinite(value)) trainLoss.Record(value, new TagList { { "dataset", dataset }, { "model", model }, { "loss", name } });
    }

    public static void RecordIngest(string dataset, int accepted, int rejected)
    {
        ingestImages.Add(accepted, new TagList { { "dataset", dataset }, { "outcome", "accepted" } });
        ingestImages.Add(rejected, new TagList { { "dataset", dataset }, { "outcome", "rejected" } });
    }
}
