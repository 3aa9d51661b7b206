using Azure.Storage.Blobs;
using ImageGen.Pipeline.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace ImageGen.Pipeline.Serve;

/// <summary>The serving services in dependency injection, for the Functions app and the local hosts alike.</summary>
public static class ServeServices
{
    /// <summary>Registers serving; throws ArgumentException naming the setting when the options cannot serve (ServeOptions.Validate).</summary>
    public static IServiceCollection AddImageGenServing(this IServiceCollection services, BlobServiceClient storage, ServeOptions options)
    {
        options.Validate();
        services.AddSingleton(storage);
        services.AddSingleton(options);
        services.AddSingleton<ModelRegistry>();
        services.AddSingleton<GeneratorCache>();
        services.AddSingleton<SampleService>();
        services.AddSingleton<ModelWarmer>();
        services.AddHostedService(sp => sp.GetRequiredService<ModelWarmer>());
        return services;
    }
}
