using ImageGen.Core.Runtime;
using ImageGen.Pipeline.Orchestration;
using ImageGen.Pipeline.Serve;
using ImageGen.Pipeline.Storage;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

TorchRuntime.Configure(serving: true); // allocator, threads and OpenMP wait policy before the first tensor
var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
// The app's own storage clients use the host's connection: a connection string or identity-based settings.
var storage = StorageConnection.CreateBlobServiceClient(builder.Configuration);
var serveOptions = builder.Configuration.GetSection("Serve").Get<ServeOptions>() ?? new ServeOptions();
var pipelineSettings = builder.Configuration.GetSection("Pipeline").Get<PipelineSettings>() ?? new PipelineSettings();
pipelineSettings.Validate();
builder.Services.AddImageGenServing(storage, serveOptions);
builder.Services.AddSingleton(new PipelineEnvironment(storage, pipelineSettings));
builder.Services.AddSingleton(new PipelineActivities(storage));
builder.Build().Run();
