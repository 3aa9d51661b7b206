using Azure.Storage.Blobs;
using ImageGen.Pipeline.Endpoints;
using ImageGen.Pipeline.Serve;
using ImageGen.Pipeline.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ImageGen.Cli.Hosting;

/// <summary>
/// The serving endpoints on Kestrel without the Functions host (same route table, same handlers), for machines
/// without Core Tools, for tests over a real socket, and for load benchmarks. No function keys here, so it listens on
/// loopback and answers local names only unless <paramref name="access"/> says otherwise (LocalAccess). With
/// <paramref name="metrics"/>, OpenTelemetry's Prometheus scraping endpoint answers at /metrics. Without
/// <paramref name="libtorch"/> it is composed as the lean serving build is (functions/ImageGen.Functions.Front): model.onnx only.
/// </summary>
public static class LocalServeHost
{
    public static WebApplication Build(string storageConnection, ServeOptions options, string urls, LocalAccess? access = null, bool metrics = false, bool libtorch = true)
    {
        access ??= new LocalAccess();
        access.CheckAddresses(urls.Split(';', StringSplitOptions.RemoveEmptyEntries), "--urls");
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls(urls);
        var serving = builder.Services.AddImageGenServing(new BlobServiceClient(storageConnection), options);
        if (libtorch) serving.AddLibtorchServing();
        builder.Services.AddImageGenTelemetry(builder.Configuration, prometheus: metrics);
        var app = builder.Build();
        access.Apply(app);
        ApiRoutes.Map(app, ApiRoutes.Serving);
        if (metrics) app.MapPrometheusScrapingEndpoint();
        return app;
    }

    /// <summary>Starts the app and checks what it bound (configuration may add addresses to --urls); stops it if that is too wide.</summary>
    public static async Task StartAsync(WebApplication app, LocalAccess? access = null, CancellationToken cancellationToken = default)
    {
        await app.StartAsync(cancellationToken);
        try { (access ?? new LocalAccess()).CheckBound(app); }
        catch { await app.StopAsync(CancellationToken.None); throw; }
    }
}
