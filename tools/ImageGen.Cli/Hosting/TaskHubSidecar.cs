using DurableTask.Core;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.DurableTask.Testing.Sidecar.Grpc;
using Microsoft.DurableTask.Worker.Grpc;
using Microsoft.DurableTask.Worker.Grpc.Internal;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ImageGen.Cli.Hosting;

/// <summary>
/// The durable test host's gRPC task hub server over an orchestration service (Azure Storage for the local host,
/// in-memory for the orchestration tests), on a loopback port the OS picks: DurableTaskClient and the durable
/// worker connect to it through <see cref="Channel"/>, as they would to the Functions host's sidecar.
/// <para>
/// The sidecar owns the orchestration service's lifecycle: it starts the service before the server listens and
/// stops it, forced and awaited, once the server has stopped. The server itself would also start and stop it from
/// its application-lifetime callbacks, which are async void: nothing could await that stop, and a second stop from
/// the owner ran concurrently with it. AzureStorageOrchestrationService's stop is not safe to run twice at once (its
/// partition starter's token source is cancelled and disposed by each caller: "The CancellationTokenSource has been
/// disposed"), and the unawaited one could go on polling the partition table after Azurite had stopped. So the server
/// is given a view of the service whose start and stop do nothing (<see cref="LifecycleOwnedElsewhere"/>).
/// </para>
/// </summary>
public sealed class TaskHubSidecar : IAsyncDisposable
{
    private readonly WebApplication server;
    private readonly IOrchestrationService backend;
    public GrpcChannel Channel { get; }
    public Uri Address { get; }

    private TaskHubSidecar(WebApplication server, IOrchestrationService backend, Uri address)
    {
        this.server = server;
        this.backend = backend;
        Address = address;
        Channel = GrpcChannel.ForAddress(address);
    }

    /// <summary>
    /// Points a durable worker at this server. The worker's silent-disconnect detector is turned off: it expects
    /// the health pings a production task hub sends, which this server never does, so every two idle minutes it
    /// would drop and reopen its work-item stream, and a work item sent in that instant would be lost for good.
    /// Over loopback, in one process, the stream cannot go silently dead.
    /// </summary>
    public void ConfigureWorker(GrpcDurableTaskWorkerOptions options)
    {
        options.Channel = Channel;
        options.SetSilentDisconnectTimeout(TimeSpan.Zero);
    }

    /// <summary>Starts the orchestration service, then the server over it; <see cref="DisposeAsync"/> stops both.</summary>
    public static Task<TaskHubSidecar> StartAsync<TBackend>(TBackend backend, CancellationToken cancellationToken = default)
        where TBackend : IOrchestrationService, IOrchestrationServiceClient => StartAsync(backend, backend, cancellationToken);

    /// <summary>
    /// The same, with the service's two roles apart: <paramref name="service"/> is started, dispatched from and
    /// stopped; <paramref name="client"/> starts, queries and signals instances.
    /// </summary>
    public static async Task<TaskHubSidecar> StartAsync(IOrchestrationService service, IOrchestrationServiceClient client, CancellationToken cancellationToken = default)
    {
        await service.StartAsync();
        try { return await StartServerAsync(service, client, cancellationToken); }
        catch
        {
            await service.StopAsync(isForced: true);
            throw;
        }
    }

    private static async Task<TaskHubSidecar> StartServerAsync(IOrchestrationService backend, IOrchestrationServiceClient client, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // Loopback only: the task hub takes no credentials, so nothing beyond this machine may reach it.
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton<IOrchestrationService>(new LifecycleOwnedElsewhere(backend));
        builder.Services.AddSingleton(client);
        builder.Services.AddSingleton<TaskHubGrpcServer>();
        var server = builder.Build();
        server.MapGrpcService<TaskHubGrpcServer>();
        await server.StartAsync(cancellationToken);
        // Configuration (Kestrel:Endpoints) could add addresses to the one above: refuse to run with any beyond loopback.
        if (server.Urls.FirstOrDefault(url => !LocalAccess.IsLoopbackUrl(url)) is { } wide)
        {
            await server.DisposeAsync();
            throw new InvalidOperationException($"the task hub side channel also listens on {wide}, beyond loopback; remove the Kestrel endpoint settings from the environment");
        }
        return new TaskHubSidecar(server, backend, new Uri(server.Urls.First()));
    }

    private bool disposed;

    /// <summary>
    /// Stops the server (its dispatchers stop polling at once), then the orchestration service, forced: sessions are
    /// abandoned rather than drained, so a restarted host picks them up at once. Runs once.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (disposed) return;
        disposed = true;
        Channel.Dispose();
        await server.StopAsync();
        await server.DisposeAsync();
        await backend.StopAsync(isForced: true);
    }

    /// <summary>
    /// The orchestration service as the gRPC server sees it: every dispatch call passes through; start and stop do
    /// nothing, because the sidecar does both itself, each once and awaited.
    /// </summary>
    internal sealed class LifecycleOwnedElsewhere(IOrchestrationService inner) : IOrchestrationService
    {
        public Task StartAsync() => Task.CompletedTask;
        public Task StopAsync() => Task.CompletedTask;
        public Task StopAsync(bool isForced) => Task.CompletedTask;

        public Task CreateAsync() => inner.CreateAsync();
        public Task CreateAsync(bool recreateInstanceStore) => inner.CreateAsync(recreateInstanceStore);
        public Task CreateIfNotExistsAsync() => inner.CreateIfNotExistsAsync();
        public Task DeleteAsync() => inner.DeleteAsync();
        public Task DeleteAsync(bool deleteInstanceStore) => inner.DeleteAsync(deleteInstanceStore);
        public bool IsMaxMessageCountExceeded(int currentMessageCount, OrchestrationRuntimeState runtimeState) =>
            inner.IsMaxMessageCountExceeded(currentMessageCount, runtimeState);
        public int GetDelayInSecondsAfterOnProcessException(Exception exception) => inner.GetDelayInSecondsAfterOnProcessException(exception);
        public int GetDelayInSecondsAfterOnFetchException(Exception exception) => inner.GetDelayInSecondsAfterOnFetchException(exception);
        public int TaskOrchestrationDispatcherCount => inner.TaskOrchestrationDispatcherCount;
        public int MaxConcurrentTaskOrchestrationWorkItems => inner.MaxConcurrentTaskOrchestrationWorkItems;
        public BehaviorOnContinueAsNew EventBehaviourForContinueAsNew => inner.EventBehaviourForContinueAsNew;
        public Task<TaskOrchestrationWorkItem> LockNextTaskOrchestrationWorkItemAsync(TimeSpan receiveTimeout, CancellationToken cancellationToken) =>
            inner.LockNextTaskOrchestrationWorkItemAsync(receiveTimeout, cancellationToken);
        public Task RenewTaskOrchestrationWorkItemLockAsync(TaskOrchestrationWorkItem workItem) => inner.RenewTaskOrchestrationWorkItemLockAsync(workItem);
        public Task CompleteTaskOrchestrationWorkItemAsync(TaskOrchestrationWorkItem workItem, OrchestrationRuntimeState newOrchestrationRuntimeState,
            IList<TaskMessage> outboundMessages, IList<TaskMessage> orchestratorMessages, IList<TaskMessage> timerMessages,
            TaskMessage continuedAsNewMessage, OrchestrationState orchestrationState) =>
            inner.CompleteTaskOrchestrationWorkItemAsync(workItem, newOrchestrationRuntimeState, outboundMessages, orchestratorMessages,
                timerMessages, continuedAsNewMessage, orchestrationState);
        public Task AbandonTaskOrchestrationWorkItemAsync(TaskOrchestrationWorkItem workItem) => inner.AbandonTaskOrchestrationWorkItemAsync(workItem);
        public Task ReleaseTaskOrchestrationWorkItemAsync(TaskOrchestrationWorkItem workItem) => inner.ReleaseTaskOrchestrationWorkItemAsync(workItem);
        public int TaskActivityDispatcherCount => inner.TaskActivityDispatcherCount;
        public int MaxConcurrentTaskActivityWorkItems => inner.MaxConcurrentTaskActivityWorkItems;
        public Task<TaskActivityWorkItem> LockNextTaskActivityWorkItem(TimeSpan receiveTimeout, CancellationToken cancellationToken) =>
            inner.LockNextTaskActivityWorkItem(receiveTimeout, cancellationToken);
        public Task<TaskActivityWorkItem> RenewTaskActivityWorkItemLockAsync(TaskActivityWorkItem workItem) => inner.RenewTaskActivityWorkItemLockAsync(workItem);
        public Task CompleteTaskActivityWorkItemAsync(TaskActivityWorkItem workItem, TaskMessage responseMessage) =>
            inner.CompleteTaskActivityWorkItemAsync(workItem, responseMessage);
        public Task AbandonTaskActivityWorkItemAsync(TaskActivityWorkItem workItem) => inner.AbandonTaskActivityWorkItemAsync(workItem);
    }
}
