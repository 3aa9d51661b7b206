using Azure.Storage.Blobs;
using ImageGen.Pipeline.Storage;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ImageGen.Pipeline.Serve;

/// <summary>
/// The serving endpoints on Kestrel without the Functions host (same routes, same handlers), for machines
/// without Core Tools, for tests over a real socket, and for load benchmarks. No function keys here.
/// </summary>
public static class LocalServeHost
{
    public static IServiceCollection AddImageGenServing(this IServiceCollection services, BlobServiceClient storage, ServeOptions options)
    {
        services.AddSingleton(storage);
        services.AddSingleton(options);
        services.AddSingleton<ModelRegistry>();
        services.AddSingleton<GeneratorCache>();
        services.AddSingleton<SampleService>();
        return services;
    }

    public static WebApplication Build(string storageConnection, ServeOptions options, string urls)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(urls);
        builder.Services.AddImageGenServing(new BlobServiceClient(storageConnection), options);
        var app = builder.Build();
        MapServing(app);
        return app;
    }

    /// <summary>The serving routes, as the Functions app declares them.</summary>
    public static void MapServing(WebApplication app)
    {
        app.MapGet("/api/datasets/{dataset}/samples", (HttpContext context, SampleService service, string dataset) => ServeHttp.SamplesAsync(context, service, dataset));
        app.MapPost("/api/datasets/{dataset}/reconstruct", (HttpContext context, SampleService service, string dataset) => ServeHttp.ReconstructAsync(context, service, dataset));
        app.MapGet("/api/health", (HttpContext context, SampleService service) => ServeHttp.HealthAsync(context, service));
        app.MapGet("/api/ui", (HttpContext context) => ServeHttp.SamplerPageAsync(context));
    }
}
