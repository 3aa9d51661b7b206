using ImageGen.Core.Runtime;
using ImageGen.Pipeline.Serve;
using Microsoft.Azure.Functions.Worker.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

TorchRuntime.Configure(serving: true); // allocator, threads and OpenMP wait policy before the first tensor
var builder = FunctionsApplication.CreateBuilder(args);
builder.ConfigureFunctionsWebApplication();
var serveOptions = builder.Configuration.GetSection("Serve").Get<ServeOptions>() ?? new ServeOptions();
string storage = builder.Configuration["AzureWebJobsStorage"] ?? "UseDevelopmentStorage=true";
builder.Services.AddImageGenServing(storage, serveOptions);
builder.Build().Run();
