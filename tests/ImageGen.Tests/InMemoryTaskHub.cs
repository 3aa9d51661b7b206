using DurableTask.Core;
using ImageGen.Cli.Hosting;
using ImageGen.Pipeline.Orchestration;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing.Sidecar;
using Microsoft.DurableTask.Worker;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ImageGen.Tests;

/// <summary>
/// Real durable replay in-process: the test host's in-memory orchestration service behind the same gRPC task hub
/// server the local host uses (TaskHubSidecar, on a port the OS picks), with the normal worker and client.
/// DurableTaskTestHost does the same but guesses a port between 30000 and 40000, which collided under load.
/// </summary>
public sealed class InMemoryTaskHub : IAsyncDisposable
{
    private readonly TaskHubSidecar sidecar;
    private readonly IHost worker;
    public DurableTaskClient Client => worker.Services.GetRequiredService<DurableTaskClient>();

    private InMemoryTaskHub(TaskHubSidecar sidecar, IHost worker) { this.sidecar = sidecar; this.worker = worker; }

    /// <param name="observe">Wraps the service the sidecar starts, dispatches from and stops (the client stays the service itself).</param>
    public static async Task<InMemoryTaskHub> StartAsync(IPipelineActivities activities, Func<IOrchestrationService, IOrchestrationService>? observe = null)
    {
        var backend = new InMemoryOrchestrationService(NullLoggerFactory.Instance);
        var sidecar = await TaskHubSidecar.StartAsync(observe?.Invoke(backend) ?? backend, backend);
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddDurableTaskWorker(b => { b.UseGrpc(sidecar.ConfigureWorker); b.AddTasks(r => r.AddPipeline(activities)); });
        builder.Services.AddDurableTaskClient(b => b.UseGrpc(sidecar.Channel));
        var worker = builder.Build();
        await worker.StartAsync();
        return new InMemoryTaskHub(sidecar, worker);
    }

    public async ValueTask DisposeAsync()
    {
        await worker.StopAsync();
        worker.Dispose();
        await sidecar.DisposeAsync();
    }
}
