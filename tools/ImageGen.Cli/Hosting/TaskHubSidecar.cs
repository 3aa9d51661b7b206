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
/// </summary>
public sealed class TaskHubSidecar : IAsyncDisposable
{
    private readonly WebApplication server;
    public GrpcChannel Channel { get; }
    public Uri Address { get; }

    private TaskHubSidecar(WebApplication server, Uri address)
    {
        this.server = server;
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

    public static async Task<TaskHubSidecar> StartAsync<TBackend>(TBackend backend, CancellationToken cancellationToken = default)
        where TBackend : IOrchestrationService, IOrchestrationServiceClient
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        // Loopback only: the task hub takes no credentials, so nothing beyond this machine may reach it.
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Loopback, 0, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc();
        builder.Services.AddSingleton<IOrchestrationService>(backend);
        builder.Services.AddSingleton<IOrchestrationServiceClient>(backend);
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
        return new TaskHubSidecar(server, new Uri(server.Urls.First()));
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await server.StopAsync();
        await server.DisposeAsync();
    }
}
