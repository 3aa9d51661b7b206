using ImageGen.Functions;
using Microsoft.Extensions.Hosting;

// The lean build, for Flex Consumption: serving on ONNX Runtime, the training endpoints and the blob triggers; no libtorch.
FunctionsApp.CreateBuilder(args, out _).Build().Run();
