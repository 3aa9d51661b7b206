using ImageGen.Pipeline.Http;
using ImageGen.Pipeline.Serve;
using Microsoft.AspNetCore.Http;

namespace ImageGen.Pipeline.Endpoints;

/// <summary>The one mapping between ASP.NET Core requests and the serving service, used by the Functions app and the local host.</summary>
public static class ServeEndpoints
{
    public static Task SamplesAsync(HttpContext context, SampleService service, string dataset) =>
        ApiResultWriter.WriteAsync(context.Response, service.SamplesAsync(dataset, Query(context.Request),
            context.Request.Headers.IfNoneMatch.ToString() is { Length: > 0 } tag ? tag : null, context.RequestAborted));

    public static Task ReconstructAsync(HttpContext context, SampleService service, string dataset) =>
        ApiResultWriter.WriteAsync(context.Response, service.ReconstructAsync(dataset, Query(context.Request), context.Request.Body,
            context.Request.ContentLength, context.RequestAborted));

    public static Task HealthAsync(HttpContext context) => ApiResultWriter.WriteAsync(context.Response, SampleService.Health());

    public static Task ReadyAsync(HttpContext context, ModelWarmer warmer) => ApiResultWriter.WriteAsync(context.Response, warmer.Readiness());

    public static Task StatusAsync(HttpContext context, SampleService service) => ApiResultWriter.WriteAsync(context.Response, service.Status());

    public static Task SamplerPageAsync(HttpContext context) => ApiResultWriter.WriteAsync(context.Response, SamplerPage.Result());

    /// <summary>
    /// The query's parameters. One given twice reads as its values joined by commas, as list parameters (seeds,
    /// classes) take them; where one value is expected that is refused, naming it, so count=2&amp;count=999 is never read as 2.
    /// </summary>
    public static IReadOnlyDictionary<string, string?> Query(HttpRequest request) =>
        request.Query.ToDictionary(kv => kv.Key, kv => kv.Value.Count > 1 ? string.Join(',', kv.Value.ToArray()) : kv.Value.FirstOrDefault(), StringComparer.Ordinal);
}
