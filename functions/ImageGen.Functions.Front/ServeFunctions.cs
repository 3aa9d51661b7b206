using ImageGen.Pipeline.Endpoints;
using ImageGen.Pipeline.Serve;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;

namespace ImageGen.Functions;

/// <summary>Doorways to the serving service: bind the route, hand the request to ServeEndpoints, nothing else.</summary>
public sealed class ServeFunctions(SampleService service, ModelWarmer warmer)
{
    [Function("Samples")]
    public async Task<IActionResult> Samples(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = ApiRoutes.Samples)] HttpRequest request, string dataset)
    {
        await ServeEndpoints.SamplesAsync(request.HttpContext, service, dataset);
        return new EmptyResult();
    }

    [Function("Reconstruct")]
    public async Task<IActionResult> Reconstruct(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = ApiRoutes.Reconstruct)] HttpRequest request, string dataset)
    {
        await ServeEndpoints.ReconstructAsync(request.HttpContext, service, dataset);
        return new EmptyResult();
    }

    [Function("Health")]
    public async Task<IActionResult> Health([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = ApiRoutes.Health)] HttpRequest request)
    {
        await ServeEndpoints.HealthAsync(request.HttpContext);
        return new EmptyResult();
    }

    /// <summary>Readiness for probes: 503 until the configured datasets' latest models are warm. Liveness stays Health.</summary>
    [Function("HealthReady")]
    public async Task<IActionResult> HealthReady([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = ApiRoutes.HealthReady)] HttpRequest request)
    {
        await ServeEndpoints.ReadyAsync(request.HttpContext, warmer);
        return new EmptyResult();
    }

    [Function("ServeStatus")]
    public async Task<IActionResult> ServeStatus([HttpTrigger(AuthorizationLevel.Function, "get", Route = ApiRoutes.ServeStatus)] HttpRequest request)
    {
        await ServeEndpoints.StatusAsync(request.HttpContext, service);
        return new EmptyResult();
    }

    /// <summary>The sampler page holds nothing secret; the API calls it makes carry the key given to it as ?code=.</summary>
    [Function("SamplerPage")]
    public async Task<IActionResult> SamplerPage([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = ApiRoutes.SamplerPage)] HttpRequest request)
    {
        await ServeEndpoints.SamplerPageAsync(request.HttpContext);
        return new EmptyResult();
    }
}
