using ImageGen.Core.Runtime;
using ImageGen.Functions;
using ImageGen.Pipeline.Orchestration;
using ImageGen.Pipeline.Serve;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// The full build: the lean app's functions, plus libtorch serving and the pipeline's orchestration and activities.
TorchRuntime.Configure(serving: true); // allocator, threads and OpenMP wait policy before the first tensor
var builder = FunctionsApp.CreateBuilder(args, out var storage);
builder.Services.AddLibtorchServing();
builder.Services.AddSingleton(new PipelineActivities(storage)); // made at start-up: it sweeps what a crash left on local disk
builder.Build().Run();
