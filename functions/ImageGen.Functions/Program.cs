using Azure.Storage.Blobs;
using ImageGen.Core.Runtime;
using ImageGen.Functions;
using ImageGen.Pipeline.Orchestration;
using ImageGen.Pipeline.Serve;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// The full build: the lean app's functions, plus libtorch serving and the pipeline's orchestration and activities.
TorchRuntime.Configure(serving: true); // allocator, threads and OpenMP wait policy before the first tensor
var builder = FunctionsApp.CreateBuilder(args);
builder.Services.AddLibtorchServing();
builder.Services.AddSingleton(sp => new PipelineActivities(sp.GetRequiredService<BlobServiceClient>()));
builder.Build().Run();
