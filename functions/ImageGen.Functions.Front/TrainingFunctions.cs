using Azure.Storage.Blobs;
using ImageGen.Pipeline.Endpoints;
using ImageGen.Pipeline.Orchestration;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;

namespace ImageGen.Functions;

/// <summary>
/// Doorways into the training pipeline that need no libtorch: the blob triggers that start a run, and the training
/// endpoints. Each binds, calls one Pipeline method, and returns. The orchestration itself runs in the full build
/// (functions/ImageGen.Functions: PipelineFunctions).
/// </summary>
public sealed class TrainingFunctions(PipelineEnvironment pipeline, ILogger<TrainingFunctions> logger)
{
    /// <summary>
    /// The task hub the pipeline runs in. The same as this app's own hub locally; in Azure the Flex Consumption app
    /// (triggers and HTTP) signals the hub of the GPU app that runs the orchestrations and the training.
    /// </summary>
    public const string PipelineHub = "%PipelineTaskHub%";

    /// <summary>Polling blob trigger, for local runs with Azurite and plans that scan containers.</summary>
    [Function("TrainingImageDropped")]
    public async Task TrainingImageDropped(
        [BlobTrigger("training-images/{name}", Connection = "AzureWebJobsStorage")] BlobClient blob, string name,
        [DurableClient(TaskHub = PipelineHub)] DurableTaskClient client) =>
        logger.LogInformation("{Result}", await new TrainingControl(client, pipeline).OnImageDroppedAsync(name));

    /// <summary>Event Grid blob trigger, for Flex Consumption. Configuration picks one: AzureWebJobs.{name}.Disabled.</summary>
    [Function("TrainingImageDroppedEventGrid")]
    public async Task TrainingImageDroppedEventGrid(
        [BlobTrigger("training-images/{name}", Source = BlobTriggerSource.EventGrid, Connection = "AzureWebJobsStorage")] BlobClient blob, string name,
        [DurableClient(TaskHub = PipelineHub)] DurableTaskClient client) =>
        logger.LogInformation("{Result}", await new TrainingControl(client, pipeline).OnImageDroppedAsync(name));

    [Function("TrainStart")]
    public async Task<IActionResult> TrainStart(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = ApiRoutes.TrainStart)] HttpRequest request, string dataset,
        [DurableClient(TaskHub = PipelineHub)] DurableTaskClient client)
    {
        await TrainingEndpoints.StartAsync(request.HttpContext, new TrainingControl(client, pipeline), dataset);
        return new EmptyResult();
    }

    [Function("TrainingStatus")]
    public async Task<IActionResult> TrainingStatus(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = ApiRoutes.TrainingStatus)] HttpRequest request, string dataset,
        [DurableClient(TaskHub = PipelineHub)] DurableTaskClient client)
    {
        await TrainingEndpoints.StatusAsync(request.HttpContext, new TrainingControl(client, pipeline), dataset);
        return new EmptyResult();
    }

    [Function("TrainingSamples")]
    public async Task<IActionResult> TrainingSamples(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = ApiRoutes.TrainingSamples)] HttpRequest request, string dataset,
        [DurableClient(TaskHub = PipelineHub)] DurableTaskClient client)
    {
        await TrainingEndpoints.SampleGridAsync(request.HttpContext, new TrainingControl(client, pipeline), dataset);
        return new EmptyResult();
    }

    [Function("TrainingCancel")]
    public async Task<IActionResult> TrainingCancel(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = ApiRoutes.TrainingCancel)] HttpRequest request, string dataset,
        [DurableClient(TaskHub = PipelineHub)] DurableTaskClient client)
    {
        await TrainingEndpoints.CancelAsync(request.HttpContext, new TrainingControl(client, pipeline), dataset);
        return new EmptyResult();
    }

    [Function("DatasetUpload")]
    public async Task<IActionResult> DatasetUpload(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = ApiRoutes.Uploads)] HttpRequest request, string dataset,
        [DurableClient(TaskHub = PipelineHub)] DurableTaskClient client)
    {
        await TrainingEndpoints.UploadAsync(request.HttpContext, new TrainingControl(client, pipeline), dataset);
        return new EmptyResult();
    }

    [Function("Datasets")]
    public async Task<IActionResult> Datasets(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = ApiRoutes.Datasets)] HttpRequest request, [DurableClient(TaskHub = PipelineHub)] DurableTaskClient client)
    {
        await TrainingEndpoints.ListDatasetsAsync(request.HttpContext, new TrainingControl(client, pipeline));
        return new EmptyResult();
    }

    [Function("Models")]
    public async Task<IActionResult> Models(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = ApiRoutes.Models)] HttpRequest request, string dataset,
        [DurableClient(TaskHub = PipelineHub)] DurableTaskClient client)
    {
        await TrainingEndpoints.ListModelsAsync(request.HttpContext, new TrainingControl(client, pipeline), dataset);
        return new EmptyResult();
    }

    [Function("ModelPromote")]
    public async Task<IActionResult> ModelPromote(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = ApiRoutes.ModelPromote)] HttpRequest request, string dataset, string version,
        [DurableClient(TaskHub = PipelineHub)] DurableTaskClient client)
    {
        await TrainingEndpoints.PromoteAsync(request.HttpContext, new TrainingControl(client, pipeline), dataset, version);
        return new EmptyResult();
    }

    [Function("ModelRollback")]
    public async Task<IActionResult> ModelRollback(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = ApiRoutes.ModelRollback)] HttpRequest request, string dataset,
        [DurableClient(TaskHub = PipelineHub)] DurableTaskClient client)
    {
        await TrainingEndpoints.RollbackAsync(request.HttpContext, new TrainingControl(client, pipeline), dataset);
        return new EmptyResult();
    }
}
