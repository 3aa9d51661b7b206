using Azure.Storage.Blobs;
using ImageGen.Pipeline.Endpoints;
using ImageGen.Pipeline.Serve;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ImageGen.Cli.Hosting;

/// <summary>
/// The serving endpoints on Kestrel without the Functions host (same route table, same handlers), for machines
/// without Core Tools, for tests over a real socket, and for load benchmarks. No function keys here.
/// </summary>
public static class LocalServeHost
{
    public static WebApplication Build(string storageConnection, ServeOptions options, string urls)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(urls);
        builder.Services.AddImageGenServing(new BlobServiceClient(storageConnection), options);
        var app = builder.Build();
        ApiRoutes.Map(app, ApiRoutes.Serving);
        return app;
    }
}
