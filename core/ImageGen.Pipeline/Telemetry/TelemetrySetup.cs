using Azure.Monitor.OpenTelemetry.Exporter;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ImageGen.Pipeline.Telemetry;

/// <summary>
/// OpenTelemetry for every host (the Functions app, imagegen host, imagegen serve): the ImageGen meter and spans,
/// exported where the configuration asks and nowhere else, since an exporter costs CPU and network:
/// - APPLICATIONINSIGHTS_CONNECTION_STRING set (Azure, main.bicep sets it): Azure Monitor;
/// - OTEL_EXPORTER_OTLP_ENDPOINT set: OTLP to that collector (the standard OTEL_* variables apply);
/// - prometheus: a /metrics scraping endpoint the host maps (MapPrometheusScrapingEndpoint), for local use.
/// With none of them, no provider is registered and recording stays the no-op it is without a listener.
/// </summary>
public static class TelemetrySetup
{
    public const string ServiceName = "imagegen";

    /// <summary>Registers OpenTelemetry when an exporter is asked for; returns the builder (null when none is).</summary>
    public static OpenTelemetryBuilder? AddImageGenTelemetry(this IServiceCollection services, IConfiguration configuration, bool prometheus = false)
    {
        bool azureMonitor = !string.IsNullOrWhiteSpace(configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"]);
        bool otlp = !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]);
        if (!azureMonitor && !otlp && !prometheus) return null;
        var otel = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(ServiceName))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(ImageGenTelemetry.Name);
                if (prometheus) metrics.AddPrometheusExporter(o => o.ScrapeResponseCacheDurationMilliseconds = 0); // every scrape fresh
            })
            .WithTracing(tracing => tracing.AddSource(ImageGenTelemetry.Name));
        if (otlp) otel.UseOtlpExporter();
        if (azureMonitor) otel.UseAzureMonitorExporter(options => options.ConnectionString = configuration["APPLICATIONINSIGHTS_CONNECTION_STRING"]);
        return otel;
    }
}
