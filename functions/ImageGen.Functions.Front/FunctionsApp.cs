using Azure.Storage.Blobs;
using ImageGen.Pipeline.Orchestration;
using ImageGen.Pipeline.Serve;
using ImageGen.Pipeline.Storage;
using ImageGen.Pipeline.Telemetry;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Azure.Functions.Worker.OpenTelemetry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ImageGen.Functions;

/// <summary>
/// The services both builds register: the HTTP pipeline with request metrics, telemetry, storage, serving and the
/// pipeline's settings. The full build (functions/ImageGen.Functions) adds libtorch serving and the activities.
/// </summary>
public static class FunctionsApp
{
    /// <param name="storage">The app's blob client (the host's connection), for what the full build adds.</param>
    public static FunctionsApplicationBuilder CreateBuilder(string[] args, out BlobServiceClient storage)
    {
        var builder = FunctionsApplication.CreateBuilder(args);
        builder.ConfigureFunctionsWebApplication();
        builder.UseMiddleware<RequestMetrics>();
        // OpenTelemetry where configured (Azure Monitor in Azure, OTLP to a collector); the worker's defaults join the host's traces.
        builder.Services.AddImageGenTelemetry(builder.Configuration)?.UseFunctionsWorkerDefaults();
        // The app's own storage clients use the host's connection: a connection string or identity-based settings.
        storage = StorageConnection.CreateBlobServiceClient(builder.Configuration);
        var serveOptions = builder.Configuration.GetSection("Serve").Get<ServeOptions>() ?? new ServeOptions();
        var pipelineSettings = builder.Configuration.GetSection("Pipeline").Get<PipelineSettings>() ?? new PipelineSettings();
        pipelineSettings.Validate();
        builder.Services.AddImageGenServing(storage, serveOptions);
        builder.Services.AddSingleton(new PipelineEnvironment(storage, pipelineSettings));
        return builder;
    }
}
