using Azure.Storage.Blobs;
using DurableTask.AzureStorage;
using DurableTask.Core;
using ImageGen.Pipeline.Endpoints;
using ImageGen.Pipeline.Orchestration;
using ImageGen.Pipeline.Serve;
using ImageGen.Pipeline.Storage;
using ImageGen.Pipeline.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ImageGen.Cli.Hosting;

public sealed record LocalPipelineOptions
{
    public required string StorageConnection { get; init; }
    /// <summary>Where the endpoints listen (';'-separated); port 0 lets the OS pick (read the result from Addresses). Loopback unless Access allows more.</summary>
    public string Urls { get; init; } = "http://127.0.0.1:5080";
    /// <summary>Who may reach the endpoints: this machine only, by default.</summary>
    public LocalAccess Access { get; init; } = new();
    public string TaskHub { get; init; } = "ImageGen";
    public PipelineSettings Pipeline { get; init; } = new();
    public ServeOptions Serve { get; init; } = new();
    /// <summary>How often training-images is scanned for new blobs (the local stand-in for the blob trigger).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Longest wait between queue polls of the durable backend when idle.</summary>
    public TimeSpan MaxQueuePollingInterval { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>
    /// How long a started activity stays locked. The gRPC task hub server does not renew the lock, so a chunk must
    /// finish within it; a worker killed mid-chunk has its chunk run again once it expires.
    /// </summary>
    public TimeSpan ActivityLock { get; init; } = TimeSpan.FromMinutes(10);
    public LogLevel LogLevel { get; init; } = LogLevel.Warning;
    /// <summary>OpenTelemetry's Prometheus scraping endpoint at /metrics (off by default: it costs a little per request).</summary>
    public bool Metrics { get; init; }
}

/// <summary>
/// The whole app without the Functions host: the same orchestration and activities (PipelineRegistry), with
/// durable state in storage (DurableTask.AzureStorage over Azurite or an account, so a killed process resumes
/// where it stopped), a blob scanner in place of the blob trigger, and the serving and training endpoints on
/// Kestrel. The durable worker talks to the Azure Storage backend through the durable test host's gRPC task hub
/// server on a loopback port, so the client and worker are the same DurableTaskClient/worker the Functions
/// app uses. That server never renews activity locks: chunks must stay shorter than the 10-minute visibility
/// timeout set here (ActivityLock; the default chunk is 2 minutes).
/// </summary>
public sealed class LocalPipelineHost : IAsyncDisposable
{
    private readonly TaskHubSidecar sidecar;
    private readonly WebApplication app;
    public IServiceProvider Services => app.Services;
    public DurableTaskClient Client => app.Services.GetRequiredService<DurableTaskClient>();
    /// <summary>The task hub side channel's address (loopback, a port the OS picked).</summary>
    public Uri TaskHubAddress => sidecar.Address;
    public ICollection<string> Addresses =>
        app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features
            .Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses;

    private readonly CancellationTokenSource stopping;
    private readonly ILoggerFactory loggerFactory;

    private LocalPipelineHost(TaskHubSidecar sidecar, WebApplication app, CancellationTokenSource stopping, ILoggerFactory loggerFactory)
    {
        this.sidecar = sidecar;
        this.app = app;
        this.stopping = stopping;
        this.loggerFactory = loggerFactory;
    }

    public static async Task<LocalPipelineHost> StartAsync(LocalPipelineOptions options, CancellationToken cancellationToken = default)
    {
        options.Pipeline.Validate();
        options.Access.CheckAddresses(options.Urls.Split(';', StringSplitOptions.RemoveEmptyEntries), "--urls");
        if (options.Pipeline.ChunkTime >= options.ActivityLock)
            throw new ArgumentException($"chunk time {options.Pipeline.ChunkTime} must be shorter than the activity lock {options.ActivityLock}: a longer chunk would be started twice");
        var storage = new BlobServiceClient(options.StorageConnection);
        await new ModelRegistry(storage).EnsureContainersAsync(cancellationToken);
        var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(LogFormat).SetMinimumLevel(options.LogLevel));
        var backend = new AzureStorageOrchestrationService(new AzureStorageOrchestrationServiceSettings
        {
            StorageAccountClientProvider = new StorageAccountClientProvider(options.StorageConnection),
            TaskHubName = options.TaskHub,
            WorkItemQueueVisibilityTimeout = options.ActivityLock,
            MaxQueuePollingInterval = options.MaxQueuePollingInterval,
            MaxConcurrentTaskActivityWorkItems = 1,
            EventBehaviourForContinueAsNew = BehaviorOnContinueAsNew.Carryover,
            PartitionCount = 1,
            UseAppLease = false, // one host per task hub here; a restarted host must not wait out a killed one's lease
            LoggerFactory = loggerFactory,
        });
        await backend.CreateIfNotExistsAsync();

        var sidecar = await TaskHubSidecar.StartAsync(backend, cancellationToken);
        var stopping = new CancellationTokenSource(); // the activities' shutdown signal, cancelled first on stop
        var channel = sidecar.Channel;

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(LogFormat).SetMinimumLevel(options.LogLevel);
        builder.WebHost.UseUrls(options.Urls);
        var pipeline = new PipelineEnvironment(storage, options.Pipeline);
        builder.Services.AddImageGenServing(storage, options.Serve).AddLibtorchServing();
        builder.Services.AddImageGenTelemetry(builder.Configuration, prometheus: options.Metrics);
        builder.Services.AddSingleton(pipeline);
        builder.Services.AddDurableTaskWorker(b =>
        {
            b.UseGrpc(sidecar.ConfigureWorker);
            b.AddTasks(r => r.AddPipeline(new PipelineActivities(storage), stopping.Token));
            b.Configure(o => o.Concurrency.MaximumConcurrentActivityWorkItems = 1);
        });
        builder.Services.AddDurableTaskClient(b => { b.UseGrpc(channel); b.RegisterDirectly(); });
        builder.Services.AddSingleton(sp => new TrainingControl(sp.GetRequiredService<DurableTaskClient>(), pipeline));
        builder.Services.AddHostedService(sp => new DropScanner(storage, sp.GetRequiredService<TrainingControl>(), options.PollInterval,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<DropScanner>()));
        var app = builder.Build();
        app.Lifetime.ApplicationStopping.Register(stopping.Cancel);
        options.Access.Apply(app);
        ApiRoutes.Map(app, ApiRoutes.All);
        if (options.Metrics) app.MapPrometheusScrapingEndpoint();
        var host = new LocalPipelineHost(sidecar, app, stopping, loggerFactory);
        try
        {
            await app.StartAsync(cancellationToken);
            options.Access.CheckBound(app);
        }
        catch { await host.DisposeAsync(); throw; }
        return host;
    }

    /// <summary>One line per entry, with the time to the millisecond: the backend's and the app's logs interleave readably.</summary>
    private static void LogFormat(Microsoft.Extensions.Logging.Console.SimpleConsoleFormatterOptions options)
    {
        options.SingleLine = true;
        options.TimestampFormat = "HH:mm:ss.fff ";
    }

    public Task WaitForShutdownAsync() => Microsoft.Extensions.Hosting.HostingAbstractionsHostExtensions.WaitForShutdownAsync(app);

    private bool disposed;

    public async ValueTask DisposeAsync()
    {
        if (disposed) return;
        disposed = true;
        await app.StopAsync(); // ApplicationStopping cancels the activities: a running chunk stops at a step boundary
        await app.DisposeAsync();
        await sidecar.DisposeAsync(); // stops the backend too, forced and awaited: nothing polls storage after this
        loggerFactory.Dispose();
        stopping.Dispose();
    }
}
