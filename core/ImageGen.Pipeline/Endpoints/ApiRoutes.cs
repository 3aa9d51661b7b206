using System.Diagnostics;
using ImageGen.Pipeline.Orchestration;
using ImageGen.Pipeline.Serve;
using ImageGen.Pipeline.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace ImageGen.Pipeline.Endpoints;

/// <summary>An endpoint: the Functions function that serves it, its method and route (below /api/), and who may call it.</summary>
public sealed record ApiRoute(string Function, string Method, string Route, bool Anonymous, Delegate Handler);

/// <summary>
/// The one route table. The Functions wrappers take their names and routes from these constants (a test checks
/// functions.metadata against <see cref="All"/>); imagegen serve and imagegen host map the same table on Kestrel.
/// </summary>
public static class ApiRoutes
{
    public const string Samples = "datasets/{dataset}/samples";
    public const string Reconstruct = "datasets/{dataset}/reconstruct";
    /// <summary>Anonymous: only that the app is up.</summary>
    public const string Health = "health";
    /// <summary>Anonymous: 503 until the datasets in Serve:WarmDatasets have their latest model loaded and warmed (ModelWarmer).</summary>
    public const string HealthReady = "health/ready";
    /// <summary>Behind a key: the loaded models, their traffic, the device.</summary>
    public const string ServeStatus = "serve/status";
    public const string SamplerPage = "ui";
    public const string TrainStart = "datasets/{dataset}/train";
    public const string TrainingStatus = "datasets/{dataset}/training";
    public const string TrainingSamples = "datasets/{dataset}/training/samples.png";
    public const string TrainingCancel = "datasets/{dataset}/training/cancel";
    public const string Uploads = "datasets/{dataset}/uploads";
    public const string Datasets = "datasets";
    public const string Models = "datasets/{dataset}/models";
    public const string ModelPromote = "datasets/{dataset}/models/{version}/promote";
    public const string ModelRollback = "datasets/{dataset}/models/rollback";

    public static readonly IReadOnlyList<ApiRoute> Serving =
    [
        new("Samples", "get", Samples, false, (HttpContext c, SampleService s, string dataset) => ServeEndpoints.SamplesAsync(c, s, dataset)),
        new("Reconstruct", "post", Reconstruct, false, (HttpContext c, SampleService s, string dataset) => ServeEndpoints.ReconstructAsync(c, s, dataset)),
        new("Health", "get", Health, true, (HttpContext c) => ServeEndpoints.HealthAsync(c)),
        new("HealthReady", "get", HealthReady, true, (HttpContext c, ModelWarmer w) => ServeEndpoints.ReadyAsync(c, w)),
        new("ServeStatus", "get", ServeStatus, false, (HttpContext c, SampleService s) => ServeEndpoints.StatusAsync(c, s)),
        new("SamplerPage", "get", SamplerPage, true, (HttpContext c) => ServeEndpoints.SamplerPageAsync(c)),
    ];

    public static readonly IReadOnlyList<ApiRoute> Training =
    [
        new("TrainStart", "post", TrainStart, false, (HttpContext c, TrainingControl t, string dataset) => TrainingEndpoints.StartAsync(c, t, dataset)),
        new("TrainingStatus", "get", TrainingStatus, false, (HttpContext c, TrainingControl t, string dataset) => TrainingEndpoints.StatusAsync(c, t, dataset)),
        new("TrainingSamples", "get", TrainingSamples, false,
            (HttpContext c, TrainingControl t, string dataset) => TrainingEndpoints.SampleGridAsync(c, t, dataset)),
        new("TrainingCancel", "post", TrainingCancel, false,
            (HttpContext c, TrainingControl t, string dataset) => TrainingEndpoints.CancelAsync(c, t, dataset)),
        new("DatasetUpload", "post", Uploads, false, (HttpContext c, TrainingControl t, string dataset) => TrainingEndpoints.UploadAsync(c, t, dataset)),
        new("Datasets", "get", Datasets, false, (HttpContext c, TrainingControl t) => TrainingEndpoints.ListDatasetsAsync(c, t)),
        new("Models", "get", Models, false, (HttpContext c, TrainingControl t, string dataset) => TrainingEndpoints.ListModelsAsync(c, t, dataset)),
        new("ModelPromote", "post", ModelPromote, false,
            (HttpContext c, TrainingControl t, string dataset, string version) => TrainingEndpoints.PromoteAsync(c, t, dataset, version)),
        new("ModelRollback", "post", ModelRollback, false,
            (HttpContext c, TrainingControl t, string dataset) => TrainingEndpoints.RollbackAsync(c, t, dataset)),
    ];

    public static IEnumerable<ApiRoute> All => Serving.Concat(Training);

    /// <summary>
    /// Maps routes on Kestrel as the Functions host exposes them: under /api/, no function keys; each answer is counted
    /// and timed by its function's name (imagegen.http.requests), as the Functions app's RequestMetrics middleware does.
    /// </summary>
    public static void Map(IEndpointRouteBuilder app, IEnumerable<ApiRoute> routes)
    {
        foreach (var route in routes)
            app.MapMethods("/api/" + route.Route, [route.Method.ToUpperInvariant()], route.Handler).AddEndpointFilter(async (context, next) =>
            {
                long started = Stopwatch.GetTimestamp();
                Exception? thrown = null;
                try { return await next(context); }
                catch (Exception e)
                {
                    thrown = e;
                    throw;
                }
                finally
                {
                    var http = context.HttpContext;
                    ImageGenTelemetry.RecordRequest(route.Function, http.Request.RouteValues["dataset"] as string,
                        ImageGenTelemetry.RecordedStatus(http.Response.StatusCode, thrown, http.RequestAborted), Stopwatch.GetElapsedTime(started));
                }
            });
    }
}
